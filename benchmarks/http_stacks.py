"""httpx vs httpx2 under the package's transport, in one run (issue #23).

Why: the package's own pools run on httpx; httpx2 is the maintained successor that the
2026 SDKs moved to. Before deciding what the pools run on, measure both under exactly the
same transport code: a :class:`~lunos_integrations.client.LunosClient` handed a client of
each library, configured as the pools configure theirs (no cookie jar, the same limits,
timeouts and TLS context), plus the default pools themselves for reference.

Rows (each in its own fresh worker process, interleaved, best of ``--repeats``):

* ``pools (httpx)`` — the default: no client injected (async pools sharded per loop);
* ``pools (httpx2)`` — the same pools built with httpx2 (``LUNOS_HTTP_STACK=httpx2``);
* ``httpx client`` / ``httpx2 client`` — one injected client of each library.

Measured: CPU per non-streamed call, CPU per 200-chunk stream, async throughput (calls
per second) at C=50. Against ``benchmarks.server`` in its own process.

Run: ``python -m benchmarks.http_stacks`` (writes ``benchmarks/results/http_stacks.md``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.run import bench_server

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("pools (httpx)", "pools (httpx2)", "httpx client", "httpx2 client")
MODEL = "openai/gpt-4o-mini"


def _clients(stack: str, config: Any) -> tuple[Any, Any]:
    if stack.startswith("pools"):
        return None, None
    from lunos_integrations.transport import pools

    kwargs = pools._client_kwargs(config)
    if stack == "httpx client":
        import httpx

        return httpx.Client(**kwargs), httpx.AsyncClient(**kwargs)
    import httpx2

    limits, timeout = kwargs["limits"], kwargs["timeout"]
    kwargs["limits"] = httpx2.Limits(
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
    )
    kwargs["timeout"] = httpx2.Timeout(
        connect=timeout.connect, read=timeout.read, write=timeout.write, pool=timeout.pool
    )
    return httpx2.Client(**kwargs), httpx2.AsyncClient(**kwargs)


def _cpu_per_call(fn: Any, calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        c0 = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - c0) / calls)
    return best * 1000


def worker(stack: str, base_url: str, api_key: str, quick: bool) -> dict[str, float]:
    from lunos_integrations.client import LunosClient
    from lunos_integrations.config import resolve_config
    from lunos_integrations.wire.types import ChatRequest, Message

    pools_on = "httpx2" if stack == "pools (httpx2)" else "httpx"
    config = resolve_config(api_key=api_key, base_url=base_url, max_retries=0, http_stack=pools_on)
    sync, aclient = _clients(stack, config)
    client = LunosClient(config=config, http_client=sync, http_async_client=aclient)

    def request(prompt: str) -> ChatRequest:
        return ChatRequest(MODEL, [Message("user", prompt)], max_tokens=8192)

    invoke_prompt = 'Say "The quick brown fox jumps over the lazy dog."'
    stream_prompt = 'Say "' + "abc " * 200 + '"'

    def invoke() -> None:
        client.chat(request(invoke_prompt))

    def stream() -> None:
        n = sum(1 for _ in client.stream_chat(request(stream_prompt)))
        assert n >= 200, n

    for _ in range(20):
        invoke()
        stream()
    calls, rounds = (20, 3) if quick else (100, 5)
    out = {
        "invoke_cpu_ms": _cpu_per_call(invoke, calls, rounds),
        "stream200_cpu_ms": _cpu_per_call(stream, max(5, calls // 5), rounds),
    }

    async def throughput(concurrency: int, total: int) -> float:
        async def lane(calls: int) -> None:  # C lanes, each calling back to back
            for _ in range(calls):
                await client.achat(request(invoke_prompt))

        await asyncio.gather(*(lane(1) for _ in range(concurrency)))  # opens the connections
        started = time.perf_counter()
        await asyncio.gather(*(lane(total // concurrency) for _ in range(concurrency)))
        rps = total / (time.perf_counter() - started)
        if aclient is not None:
            await aclient.aclose()
        await client.aclose()
        return rps

    out["async_rps_c50"] = asyncio.run(throughput(50, 500 if quick else 2000))
    return out


def _run_worker(stack: str, base_url: str, api_key: str, quick: bool) -> dict[str, float]:
    args = [sys.executable, "-m", "benchmarks.http_stacks", "--worker", stack, base_url, api_key]
    proc = subprocess.run(
        args + (["--quick"] if quick else []),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def report(best: dict[str, dict[str, float]]) -> str:
    base = best["pools (httpx)"]

    def cell(row: str, name: str, digits: int) -> str:
        value = best[row][name]
        return f"{value:.{digits}f} ({value / base[name]:.2f}x)"

    lines = [
        "| row | CPU per invoke (ms) | CPU per 200-chunk stream (ms) | async rps, C=50 |",
        "|---|---|---|---|",
    ]
    for row in ROWS:
        lines.append(
            f"| {row} | {cell(row, 'invoke_cpu_ms', 3)} | {cell(row, 'stream200_cpu_ms', 3)}"
            f" | {cell(row, 'async_rps_c50', 0)} |"
        )
    lines.append("")
    lines.append("Ratios against the default pools (httpx). CPU: best of the repeats, lower is")
    lines.append("better; throughput: best of the repeats, higher is better.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.http_stacks")
    p.add_argument("--worker", nargs=3, metavar=("STACK", "BASE_URL", "API_KEY"))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if args.worker:
        stack, base_url, api_key = args.worker
        print(json.dumps(worker(stack, base_url, api_key, quick=args.quick)))
        return 0
    runs: dict[str, list[dict[str, float]]] = {row: [] for row in ROWS}
    with bench_server() as (base_url, api_key):
        for _ in range(args.repeats):
            for row in ROWS:  # interleaved: A, B, C, A, B, C, ...
                runs[row].append(_run_worker(row, base_url, api_key, args.quick))
    best = {
        row: {
            "invoke_cpu_ms": min(r["invoke_cpu_ms"] for r in rs),
            "stream200_cpu_ms": min(r["stream200_cpu_ms"] for r in rs),
            "async_rps_c50": max(r["async_rps_c50"] for r in rs),
        }
        for row, rs in runs.items()
    }
    text = report(best)
    print(text)
    if not args.quick:
        out = ROOT / "benchmarks" / "results" / "http_stacks.md"
        out.write_text("# httpx vs httpx2 under the package's transport\n\n" + text + "\n")
        (out.with_suffix(".json")).write_text(json.dumps(runs, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
