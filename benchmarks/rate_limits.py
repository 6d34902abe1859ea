"""Batches against a throttling gateway: ours (default settings) and the anchors.

Why (issue #20): users run ``abatch`` / ``batch`` over hundreds of prompts through gateways
that throttle. Each case here is one client in a fresh process against a fresh
:class:`~lunos_integrations.testing.LocalLunosServer` with a
:class:`~lunos_integrations.testing.Throttle`, submitting N prompts at once at a
concurrency of 50 (LangChain ``max_concurrency``; LlamaIndex ``asyncio.gather`` under a
semaphore of 50), default settings.

One command::

    .venv/bin/python -m benchmarks.rate_limits          # writes results/rate_limits.{md,json}
    .venv/bin/python -m benchmarks.rate_limits --quick  # fewer prompts, two clients

Gateway behaviours (the four of the issue, and one more):

* ``bucket+retry-after`` - per-key token bucket 20 req/s, burst 5, ``Retry-After: 1``.
* ``bucket`` - the same bucket, no ``Retry-After``.
* ``in-flight 8`` - 8 requests served at once per key (0.2 s each), 429 beyond.
* ``outage 3 s`` - 503 for 3 s from the first call, then healthy (100 prompts).
* ``bucket+headers`` - the bucket, no ``Retry-After``, but OpenAI-style
  ``x-ratelimit-remaining/reset-requests`` headers on its refusals.

Ideal wall time: N / rate (buckets); N x S / 8 (in-flight); outage + N x S / 50 (outage).
Requests, refusals (429 + 5xx) and the peak in flight are the server's own counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODEL = "openai/gpt-4o-mini"
CONCURRENCY = 50
SERVICE_S = 0.05

#: name -> (Throttle arguments, prompts, ideal seconds for N prompts as a function of N)
SCENARIOS: dict[str, dict[str, Any]] = {
    "bucket+retry-after": {"throttle": {"rate": 20, "burst": 5, "retry_after": 1}, "n": 200},
    "bucket": {"throttle": {"rate": 20, "burst": 5}, "n": 200},
    "in-flight 8": {"throttle": {"max_inflight": 8, "service_time": 0.2}, "n": 200},
    "outage 3 s": {"throttle": {"outage": 3.0}, "n": 100},
    "bucket+headers": {"throttle": {"rate": 20, "burst": 5, "headers": True}, "n": 200},
}

CLIENTS = (
    "ChatLunos.abatch",
    "ChatLunos.batch",
    "LunosLLM.achat",
    "LunosEmbeddings.embed_documents",
    "ChatOpenAI.abatch",
    "ChatOpenAI+InMemoryRateLimiter",
    "OpenAILike.achat",
)
OURS = frozenset(c for c in CLIENTS if "Lunos" in c)


def ideal(scenario: str, n: int) -> float:
    t = SCENARIOS[scenario]["throttle"]
    if "rate" in t:
        return n / float(t["rate"])
    if "max_inflight" in t:
        return n * float(t["service_time"]) / float(t["max_inflight"])
    return float(t["outage"]) + n * SERVICE_S / CONCURRENCY


def true_rate(scenario: str) -> float:
    """The rate InMemoryRateLimiter is given: the bucket's, or what the cap allows."""
    t = SCENARIOS[scenario]["throttle"]
    if "rate" in t:
        return float(t["rate"])
    if "max_inflight" in t:
        return float(t["max_inflight"]) / float(t["service_time"])
    return 1000.0


# --------------------------------------------------------------------------- worker


def _worker(client: str, scenario: str, n: int, base_url: str, key: str) -> dict[str, Any]:
    prompts: list[Any] = [f"prompt number {i}" for i in range(n)]
    results: list[Any]
    start = time.perf_counter()
    if client.startswith("ChatLunos"):
        from lunos_integrations.langchain import ChatLunos

        chat = ChatLunos(model=MODEL, api_key=key, base_url=base_url)
        cfg: Any = {"max_concurrency": CONCURRENCY}
        start = time.perf_counter()
        if client.endswith("abatch"):
            results = asyncio.run(chat.abatch(prompts, config=cfg, return_exceptions=True))
        else:
            results = chat.batch(prompts, config=cfg, return_exceptions=True)
    elif client.startswith("ChatOpenAI"):
        from langchain_openai import ChatOpenAI

        kwargs: dict[str, Any] = {}
        if "InMemoryRateLimiter" in client:
            from langchain_core.rate_limiters import InMemoryRateLimiter

            rate = true_rate(scenario)
            kwargs["rate_limiter"] = InMemoryRateLimiter(
                requests_per_second=rate, max_bucket_size=5, check_every_n_seconds=0.01
            )
        model: Any = ChatOpenAI(model=MODEL, api_key=key, base_url=base_url, **kwargs)  # type: ignore[arg-type]
        start = time.perf_counter()
        results = asyncio.run(
            model.abatch(prompts, config={"max_concurrency": CONCURRENCY}, return_exceptions=True)
        )
    elif client.startswith("LunosEmbeddings"):
        from lunos_integrations.langchain import LunosEmbeddings

        # One text per request, so N texts are N requests (as N prompts are).
        emb = LunosEmbeddings(
            api_key=key, base_url=base_url, chunk_size=1, max_concurrency=CONCURRENCY
        )
        start = time.perf_counter()
        try:
            vectors = emb.embed_documents(prompts)
            results = list(vectors)
        except Exception as exc:  # one failed chunk fails the whole call
            results = [exc] * n
    else:
        from llama_index.core.llms import ChatMessage

        if client.startswith("LunosLLM"):
            from lunos_integrations.llama_index import LunosLLM

            llm: Any = LunosLLM(model=MODEL, api_key=key, base_url=base_url)
        else:
            from llama_index.llms.openai_like import OpenAILike  # type: ignore[import-untyped]

            llm = OpenAILike(model=MODEL, api_key=key, api_base=base_url, is_chat_model=True)

        async def run() -> list[Any]:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(p: str) -> Any:
                async with gate:
                    return await llm.achat([ChatMessage(role="user", content=p)])

            return await asyncio.gather(*(one(p) for p in prompts), return_exceptions=True)

        start = time.perf_counter()
        results = asyncio.run(run())
    wall = time.perf_counter() - start
    errors: dict[str, int] = {}
    for r in results:
        if isinstance(r, BaseException):
            errors[type(r).__name__] = errors.get(type(r).__name__, 0) + 1
    ok = sum(1 for r in results if not isinstance(r, BaseException))
    return {"ok": ok, "failed": n - ok, "wall": wall, "errors": errors}


# --------------------------------------------------------------------------- parent


def _run(client: str, scenario: str, n: int) -> dict[str, Any]:
    from lunos_integrations.testing import LocalLunosServer, Throttle

    spec = dict(SCENARIOS[scenario]["throttle"])
    spec.setdefault("service_time", SERVICE_S)
    throttle = Throttle(**spec)
    with LocalLunosServer(throttle=throttle) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        args = [sys.executable, "-m", "benchmarks.rate_limits", "--worker", client, scenario]
        proc = subprocess.run(
            [*args, str(n), server.base_url, server.api_key],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{client} / {scenario}: worker failed\n{proc.stderr[-3000:]}")
        out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    requests = throttle.admitted + throttle.refused + throttle.failed
    out.update(
        client=client,
        scenario=scenario,
        n=n,
        ideal=ideal(scenario, n),
        requests=requests,
        refused=throttle.refused + throttle.failed,
        peak_inflight=throttle.peak_inflight,
    )
    out["ratio"] = out["wall"] / out["ideal"]
    out["refused_pct"] = 100.0 * out["refused"] / n
    return out


def _targets(row: dict[str, Any]) -> str:
    if row["client"] not in OURS:
        return ""
    limit = 60.0 if row["scenario"].startswith("outage") else 25.0
    met = row["failed"] == 0 and row["ratio"] <= 1.5 and row["refused_pct"] <= limit
    return "met" if met else "**missed**"


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Concurrency {CONCURRENCY}, default settings, each case a fresh process and a fresh "
        "server; requests/refusals/peak are the server's counts.",
        "",
        "| gateway | client | ok / failed | wall s | ideal s | ratio | requests | refused "
        "(429+5xx) % of N | peak in flight | targets |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['client']} | {r['ok']} / {r['failed']} | {r['wall']:.2f} "
            f"| {r['ideal']:.2f} | {r['ratio']:.2f} | {r['requests']} | {r['refused_pct']:.0f} % "
            f"| {r['peak_inflight']} | {_targets(r)} |"
        )
    lines += [
        "",
        "Targets (ours): 0 failed, wall <= 1.5x ideal, refused <= 25 % of N (<= 60 % for the "
        "3 s outage at concurrency 50, whose first wave alone is 50 %).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--worker", nargs=5, metavar=("CLIENT", "SCENARIO", "N", "URL", "KEY"))
    parser.add_argument("--quick", action="store_true", help="40 prompts, two clients")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = parser.parse_args(argv)
    if args.worker:
        client, scenario, n, url, key = args.worker
        print(json.dumps(_worker(client, scenario, int(n), url, key)))
        return 0
    clients = args.clients.split(",")
    if args.quick:
        clients = ["ChatLunos.abatch", "ChatOpenAI.abatch"]
    rows = []
    for scenario in args.scenarios.split(","):
        for client in clients:
            n = 40 if args.quick else int(SCENARIOS[scenario]["n"])
            row = _run(client, scenario, n)
            rows.append(row)
            print(
                f"{scenario:20s} {client:34s} ok {row['ok']}/{n} wall {row['wall']:.2f} "
                f"x{row['ratio']:.2f} refused {row['refused_pct']:.0f}% {row['errors']}",
                flush=True,
            )
    table = _table(rows)
    print(table)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "rate_limits.md").write_text("# Rate limits (issue #20)\n\n" + table)
        (RESULTS / "rate_limits.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
