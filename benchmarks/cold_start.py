"""First-call wall time with a slow model catalog, and what the call sends first.

Why: a fresh process (serverless function, short-lived worker) pays for whatever its first
call waits on. Before issue #14 the first ``invoke`` / ``stream`` / ``chat`` /
``stream_chat`` fetched ``GET /v1/models`` *before* sending the prompt, so a catalog that
takes 2 s made every cold start 2 s slower than ``ChatOpenAI`` on the same server.

One command::

    .venv/bin/python -m benchmarks.cold_start            # 3 fresh processes per case
    .venv/bin/python -m benchmarks.cold_start --repeats 5

How: a :class:`~lunos_integrations.testing.LocalLunosServer` runs in this process with the
``"slow"`` catalog profile (``GET /v1/models`` answers after 2 s) and, for comparison, the
``"full"`` profile (answers at once). Each case runs in its own fresh interpreter, which
imports and constructs the model, then times only the first call (a stream is timed until
it is drained). The server's request log gives the number of requests that arrived before
the prompt. Reported per case: median and worst wall time over the repeats, ChatOpenAI's
median on the same server, the difference (target: at most +0.1 s), requests before the
prompt (target: 0), and whether the first call carried a cost.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # the worker's cold start is timed from here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CATALOG_DELAY = 2.0
MODEL = "openai/gpt-4o-mini"
CLAUDE = "anthropic/claude-sonnet-4"

#: case name -> (framework label, what is timed)
CASES: dict[str, str] = {
    "ChatOpenAI.invoke": "anchor",
    "ChatOpenAI.stream": "anchor",
    "ChatOpenAI.ainvoke": "anchor",
    "ChatLunos.invoke (chat_completions)": "ours",
    "ChatLunos.stream (chat_completions)": "ours",
    "ChatLunos.invoke (messages)": "ours",
    "ChatLunos.stream (messages)": "ours",
    "ChatLunos.ainvoke (chat_completions)": "ours",
    "LunosLLM.chat": "ours",
    "LunosLLM.stream_chat": "ours",
}


# --------------------------------------------------------------------------- worker


def _worker(case: str, mode: str, base_url: str, api_key: str, t0: float) -> dict[str, Any]:
    """Run one first call. ``mode``: ``"call"`` times the call alone, after the model and
    its HTTP client exist (ChatOpenAI builds its clients in its constructor, ours builds
    them on first use, so they are built before the timer for a like-for-like call);
    ``"cold"`` times the whole cold start: imports + construction + first call."""
    import asyncio

    from pydantic import SecretStr

    is_async = ".a" in case
    if case.startswith("ChatOpenAI"):
        from langchain_openai import ChatOpenAI

        model: Any = ChatOpenAI(model=MODEL, base_url=base_url, api_key=api_key, max_retries=0)  # type: ignore[arg-type]
    elif case.startswith("ChatLunos"):
        from lunos_integrations.langchain import ChatLunos

        api = "messages" if "messages" in case else "chat_completions"
        model = ChatLunos(
            model=CLAUDE if api == "messages" else MODEL,
            api=api,
            base_url=base_url,
            api_key=SecretStr(api_key),
            max_retries=0,
        )
    else:
        from llama_index.core.llms import ChatMessage

        from lunos_integrations.llama_index import LunosLLM

        model = LunosLLM(model=MODEL, base_url=base_url, api_key=api_key, max_retries=0)
        msgs = [ChatMessage(role="user", content="hello")]

    from lunos_integrations import track_usage

    if mode == "call" and not case.startswith("ChatOpenAI"):
        transport = model.client.transport
        _ = transport.sync_client  # what ChatOpenAI's constructor does for its client

    async def first_async() -> None:
        if not case.startswith("ChatOpenAI"):
            _ = model.client.transport.async_client
        await model.ainvoke("hello")

    with track_usage() as usage:
        start = time.perf_counter() if mode == "call" else t0
        if is_async:
            asyncio.run(first_async())
        elif case.startswith("LunosLLM"):
            if case.endswith("stream_chat"):
                for _ in model.stream_chat(msgs):
                    pass
            else:
                model.chat(msgs)
        elif case.endswith("stream") or "stream (" in case:
            for _ in model.stream("hello"):
                pass
        else:
            model.invoke("hello")
        wall = time.perf_counter() - start
    priced = bool(usage.requests) and usage.cost_complete
    return {"wall": wall, "cost": usage.total_cost if priced else None}


# --------------------------------------------------------------------------- parent


def _run_case(case: str, mode: str, server: Any) -> dict[str, Any]:
    server.reset()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LUNOS_API_KEY": server.api_key}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cold_start", "--worker", case, mode, server.base_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{case}: worker failed\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    paths = [r.path.rstrip("/") for r in server.requests]
    prompt = next(
        (i for i, p in enumerate(paths) if p.endswith(("/chat/completions", "/messages"))),
        len(paths),
    )
    result["before_prompt"] = prompt
    return result


def _anchor_for(case: str) -> str:
    if ".a" in case:
        return "ChatOpenAI.ainvoke"
    return "ChatOpenAI.stream" if "stream" in case else "ChatOpenAI.invoke"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=3, metavar=("CASE", "MODE", "BASE_URL"))
    args = parser.parse_args(argv)
    if args.worker:
        case, mode, base_url = args.worker
        print(json.dumps(_worker(case, mode, base_url, os.environ["LUNOS_API_KEY"], T0)))
        return 0

    from lunos_integrations.testing import LocalLunosServer

    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with LocalLunosServer(catalog_profile="slow", catalog_delay=CATALOG_DELAY) as server:
        for _ in range(args.repeats):  # interleaved: a noisy moment hits every case alike
            for mode in ("call", "cold"):
                for case in CASES:
                    results.setdefault((case, mode), []).append(_run_case(case, mode, server))
    priced: dict[str, dict[str, Any]] = {}
    with LocalLunosServer(catalog_profile="full") as server:
        for case in CASES:
            if not case.startswith("ChatOpenAI"):
                priced[case] = _run_case(case, "call", server)

    med = {key: statistics.median(r["wall"] for r in runs) for key, runs in results.items()}
    lines = [
        f"Catalog answers after {CATALOG_DELAY:g} s (profile 'slow'); {args.repeats} fresh "
        "processes per case and mode, interleaved; medians.",
        "",
        "| first call | call only | vs ChatOpenAI | cold start (import+construct+call) "
        "| vs ChatOpenAI | requests before the prompt | first call priced (fast catalog) |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = []
    for case in CASES:
        anchor = _anchor_for(case)
        before = max(r["before_prompt"] for mode in ("call", "cold") for r in results[(case, mode)])
        cost = priced.get(case, {}).get("cost")
        rows.append(
            {
                "case": case,
                "call_s": med[(case, "call")],
                "cold_s": med[(case, "cold")],
                "call_vs_chatopenai_s": med[(case, "call")] - med[(anchor, "call")],
                "cold_vs_chatopenai_s": med[(case, "cold")] - med[(anchor, "cold")],
                "requests_before_prompt_max": before,
                "first_call_cost_fast_catalog": cost,
                "runs": {mode: results[(case, mode)] for mode in ("call", "cold")},
            }
        )
        lines.append(
            f"| {case} | {med[(case, 'call')]:.3f} s "
            f"| {rows[-1]['call_vs_chatopenai_s']:+.3f} s | {med[(case, 'cold')]:.3f} s "
            f"| {rows[-1]['cold_vs_chatopenai_s']:+.3f} s | {before} "
            f"| {'—' if case.startswith('ChatOpenAI') else ('yes' if cost else 'no')} |"
        )
    print("\n".join(lines))
    out = ROOT / "benchmarks" / "results"
    (out / "cold_start.md").write_text("\n".join(lines) + "\n")
    (out / "cold_start.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
