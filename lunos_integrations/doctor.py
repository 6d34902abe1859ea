"""``python -m lunos_integrations.doctor``: what does this Lunos deployment actually do?

Why: the package was built from documentation, with every unknown of the API reference
(Bearer vs ``x-api-key`` on ``/v1/messages``, whether ``anthropic-version`` is required,
stream usage with or without ``stream_options``, the ``/v1/models`` wrapper, the status
of an unknown model, whether ``stop`` / ``seed`` / ``tool_choice: "required"`` are
accepted, the ``model`` field's prefix) answered by accepting every answer. The first user
with a key can find out in one command what the real server does, one request per
question, and what the package does with it.

* ``LUNOS_API_KEY`` set: the real API (or ``--base-url``). The cheapest chat model of the
  catalog is used with a tiny ``max_tokens``; the estimated cost is printed first and
  nothing is sent without ``--yes``.
* ``LUNOS_API_KEY`` unset: says so, and runs against ``--base-url`` if given (a local or
  staging server, with the local test server's key) or else against an embedded
  :class:`~lunos_integrations.testing.LocalLunosServer`.

The key is never printed: every server text shown is scrubbed of it first.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from .config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, resolve_config
from .errors import APIStatusError, LunosError
from .redact import Secrets, scrub_text
from .transport.http import Transport
from .wire.models import ModelInfo, parse_model_list

LOCAL_KEY = "sk-lunos-local-test"
MAX_TOKENS = 8
PROMPT = "Reply with the single word: ok"
#: Requests that generate tokens (and so cost money) in a full run.
PAID_PROBES = 8
_MISSING_MODEL = "lunos-doctor/no-such-model"


@dataclass
class Row:
    question: str
    assumed: str
    observed: str
    will_do: str
    ok: bool = True


def _status(exc: BaseException) -> str:
    if isinstance(exc, APIStatusError):
        return f"{exc.status_code} ({exc.code or exc.type or 'no code'})"
    return type(exc).__name__


class Doctor:
    """Runs the probes over one transport; each probe is one request."""

    def __init__(self, transport: Transport, model: str, claude: str | None) -> None:
        self.t = transport
        self.model = model
        self.claude = claude
        self.rows: list[Row] = []
        self._secrets: Secrets = transport.secrets

    def _clean(self, text: str) -> str:
        return " ".join(scrub_text(text, self._secrets).split())[:90]

    def _probe(self, question: str, assumed: str, run: Callable[[], tuple[str, str]]) -> None:
        try:
            observed, will_do = run()
            self.rows.append(Row(question, assumed, self._clean(observed), will_do))
        except LunosError as exc:
            text = self._clean(f"failed: {_status(exc)}: {exc}")
            self.rows.append(Row(question, assumed, text, "raises the typed error", ok=False))

    def _chat(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": MAX_TOKENS,
            **extra,
        }
        return body

    # ---------------------------------------------------------------- the probes

    def models(self) -> list[ModelInfo]:
        found: list[ModelInfo] = []

        def run() -> tuple[str, str]:
            data = self.t.request("GET", "/models").data
            if isinstance(data, list):
                shape = "a bare list"
            elif isinstance(data, dict) and isinstance(data.get("data"), dict):
                shape = "{data: {models: [...]}}"
            elif isinstance(data, dict):
                shape = "{" + ", ".join(sorted(data)[:3]) + "}"
            else:
                shape = type(data).__name__
            found.extend(parse_model_list(data))
            return f"{shape}, {len(found)} models", "reads it (accepted shape)"

        self._probe("GET /models: wrapper", "list, {data:[..]} or {data:{models}}", run)
        return found

    def chat(self) -> None:
        def run() -> tuple[str, str]:
            data = self.t.request("POST", "/chat/completions", body=self._chat()).data
            choices = data.get("choices") or []
            usage = "usage" if data.get("usage") else "no usage"
            returned = data.get("model")
            prefix = "with" if isinstance(returned, str) and "/" in returned else "without"
            self.rows.append(
                Row(
                    "response `model`: provider prefix?",
                    "either; never compared",
                    f"{returned!r} ({prefix} prefix)",
                    "echoes it as given",
                )
            )
            return f"200, {len(choices)} choice(s), {usage}", "returns the answer"

        self._probe("POST /chat/completions (tiny)", "OpenAI chat.completion", run)

    def stream(self, include_usage: bool) -> None:
        def run() -> tuple[str, str]:
            body = self._chat(stream=True)
            if include_usage:
                body["stream_options"] = {"include_usage": True}
            events = usage = 0
            for event in self.t.stream("/chat/completions", body, kind="chat"):
                events += 1
                if isinstance(event.data, dict) and event.data.get("usage"):
                    usage += 1
            said = "a usage chunk" if usage else "no usage chunk"
            will = "reports usage" if usage else "reports no usage (none to read)"
            return f"{events} events, {said}", will

        what = "with" if include_usage else "without"
        self._probe(f"stream usage {what} stream_options", "reads usage from any chunk", run)

    def messages(self, version: bool) -> None:
        if self.claude is None:
            if version:  # one row for both questions: neither can be asked
                what = "not probed: /models lists no anthropic/ model"
                self.rows.append(Row("/v1/messages", "Bearer + anthropic-version", what, "-"))
            return

        def run() -> tuple[str, str]:
            body = {
                "model": self.claude,
                "max_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": PROMPT}],
            }
            headers = {"anthropic-version": "2023-06-01"} if version else None
            data = self.t.request("POST", "/messages", body=body, headers=headers).data
            return f"200, type={data.get('type')!r}", "sends Bearer + anthropic-version"

        if version:
            self._probe("/v1/messages with Bearer only", "Bearer accepted (no x-api-key)", run)
        else:
            self._probe("/v1/messages w/o anthropic-version", "sent anyway", run)

    def missing_model(self) -> None:
        def run() -> tuple[str, str]:
            try:
                self.t.request("POST", "/chat/completions", body=self._chat(model=_MISSING_MODEL))
            except APIStatusError as exc:
                kind = type(exc).__name__
                return f"{exc.status_code} ({exc.code or exc.type or '-'})", f"raises {kind}"
            return "200 (accepted an unknown model!)", "returns whatever came back"

        self._probe("unknown model: status", "404 or 400, both typed", run)

    def parameter(self, name: str, extra: dict[str, Any]) -> None:
        def run() -> tuple[str, str]:
            try:
                self.t.request("POST", "/chat/completions", body=self._chat(**extra))
            except APIStatusError as exc:
                return f"refused: {exc.status_code}", "drops it, retries once, warns"
            return "accepted (200)", "sends it"

        self._probe(f"`{name}` accepted?", "sent; dropped if refused", run)

    def balance(self) -> None:
        def run() -> tuple[str, str]:
            data = self.t.request("GET", "/balance").data
            keys = sorted(data)[:4] if isinstance(data, dict) else type(data).__name__
            return f"200, fields {keys}", "returns it"

        self._probe("GET /balance", "a JSON object", run)

    def run(self) -> list[Row]:
        self.chat()
        self.stream(include_usage=True)
        self.stream(include_usage=False)
        self.messages(version=True)
        self.messages(version=False)
        self.missing_model()
        self.parameter("stop", {"stop": ["\n\n"]})
        self.parameter("seed", {"seed": 7})
        tool = {
            "type": "function",
            "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}},
        }
        self.parameter('tool_choice: "required"', {"tools": [tool], "tool_choice": "required"})
        self.balance()
        self.rows.append(
            Row("empty balance: 402 or 400?", "either; typed", "not probed", "needs an empty key")
        )
        return self.rows


def cheapest(models: Sequence[ModelInfo], prefix: str = "") -> ModelInfo | None:
    """The priced chat model with the lowest input + output price (``prefix`` filters ids)."""
    priced = [
        m
        for m in models
        if m.is_chat_model
        and not m.is_embedding_model
        and m.id.startswith(prefix)
        and m.input_price_per_million is not None
        and m.output_price_per_million is not None
    ]
    if not priced:
        return None
    return min(
        priced, key=lambda m: (m.input_price_per_million or 0) + (m.output_price_per_million or 0)
    )


def estimate(model: ModelInfo | None) -> float | None:
    """Upper estimate of a full run's cost in USD (~40 input tokens, MAX_TOKENS output)."""
    if model is None or model.input_price_per_million is None:
        return None
    output = model.output_price_per_million or 0.0
    per_call = (40 * model.input_price_per_million + MAX_TOKENS * output) / 1e6
    return PAID_PROBES * per_call


def table(rows: Sequence[Row]) -> str:
    head = ("question", "package assumes", "server did", "package will")
    cells = [head] + [(r.question, r.assumed, r.observed, r.will_do) for r in rows]
    widths = [min(48, max(len(c[i]) for c in cells)) for i in range(4)]
    lines = []
    for n, cell in enumerate(cells):
        lines.append(" | ".join(c[:48].ljust(w) for c, w in zip(cell, widths, strict=True)))
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lunos_integrations.doctor",
        description="Probe a Lunos deployment: one request per open question of the API.",
    )
    p.add_argument("--base-url", help=f"default: ${BASE_URL_ENV} or {DEFAULT_BASE_URL}")
    p.add_argument("--model", help="chat model to use (default: the catalog's cheapest)")
    p.add_argument("--yes", action="store_true", help="send the paid requests (key set)")
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Exit status: 0 when every probe ran, 1 when one failed, 2 when nothing was sent."""
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    key = os.environ.get(API_KEY_ENV, "").strip()
    server = None
    base_url = args.base_url or os.environ.get(BASE_URL_ENV) or None
    if not key:
        if base_url is None:
            from .testing import LocalLunosServer

            server = LocalLunosServer().start()
            base_url = server.base_url
        print(
            f"{API_KEY_ENV} is not set: running offline against {base_url} with the local "
            "test server's key (no real API call, no cost).",
            file=out,
        )
    else:
        base_url = base_url or DEFAULT_BASE_URL
        print(f"{API_KEY_ENV} is set: probing {base_url} (the key is never printed).", file=out)
    config = resolve_config(api_key=key or LOCAL_KEY, base_url=base_url, max_retries=0)
    try:
        with Transport(config) as transport:
            return _run(transport, args, bool(key), out)
    finally:
        if server is not None:
            server.stop()


def _run(transport: Transport, args: argparse.Namespace, paid: bool, out: TextIO) -> int:
    doctor = Doctor(transport, args.model or "", None)
    models = doctor.models()
    chosen = cheapest(models)
    claude = cheapest(models, "anthropic/")
    doctor.model = args.model or (chosen.id if chosen else "openai/gpt-4o-mini")
    doctor.claude = claude.id if claude else None
    if paid:
        cost = estimate(next((m for m in models if m.id == doctor.model), chosen))
        shown = f"about ${cost:.6f}" if cost is not None else "unknown (model not priced)"
        print(
            f"Plan: {PAID_PROBES} tiny requests (max_tokens={MAX_TOKENS}) with {doctor.model}"
            f"{' and ' + doctor.claude if doctor.claude else ''}; estimated cost {shown}.",
            file=out,
        )
        if not args.yes:
            print("Nothing sent. Run again with --yes to send them.", file=out)
            print(table(doctor.rows), file=out)
            return 2
    doctor.run()
    print(table(doctor.rows), file=out)
    works = sum(r.ok for r in doctor.rows)
    print(f"\n{works} of {len(doctor.rows)} checks answered.", file=out)
    return 0 if all(r.ok for r in doctor.rows) else 1


if __name__ == "__main__":  # pragma: no cover - exercised through subprocess tests
    raise SystemExit(main())
