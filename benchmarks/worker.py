"""Measure one client in a fresh process: ``python -m benchmarks.worker CLIENT SUITE ...``.

Why a process per client and suite: imports, caches and connection pools of one library must
not slow down or speed up another, and peak RSS (``ru_maxrss``) is a whole-process figure.
The server runs in yet another process, so ``time.process_time()`` here is the client's CPU
only (all threads of this process: user + system).

Suites:

* ``sync`` — CPU per ``invoke`` and per streamed reply of 200 and 2,000 chunks, after warm-up;
  the median over several rounds.
* ``async`` — throughput (completed calls per wall second) with C concurrent ``ainvoke`` /
  ``astream`` tasks, after a warm-up wave that opens the connections.
* ``rss`` — peak RSS while N streams are started together against a server that holds each
  stream open after its first event; also the most streams that were open at once.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from .clients import BENCHES, Bench, Target

PIECE = 4  # characters per streamed text delta in the fake model (testing.replies.TEXT_PIECE)
INVOKE_PROMPT = 'Say "The quick brown fox jumps over the lazy dog."'


def stream_prompt(chunks: int) -> str:
    """A prompt whose answer streams as exactly ``chunks`` text deltas."""
    return 'Say "' + "abc " * chunks + '"'


def _median_per_call(
    fn: Callable[[], int], rounds: int, calls: int, expect: int | None
) -> dict[str, Any]:
    cpu: list[float] = []
    wall: list[float] = []
    pieces: set[int] = set()
    for _ in range(rounds):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            pieces.add(fn())
        cpu.append((time.process_time() - c0) / calls)
        wall.append((time.perf_counter() - w0) / calls)
    result: dict[str, Any] = {
        "cpu_ms": statistics.median(cpu) * 1000,
        "wall_ms": statistics.median(wall) * 1000,
        "pieces": sorted(pieces),
    }
    if expect is not None and pieces != {expect}:
        result["warning"] = f"expected {expect} content pieces per call, saw {sorted(pieces)}"
    return result


def run_sync(bench: Bench, quick: bool) -> dict[str, Any]:
    p200, p2000 = stream_prompt(200), stream_prompt(2000)
    warm = 2 if quick else 20
    for _ in range(warm):
        bench.invoke(INVOKE_PROMPT)
    for _ in range(1 if quick else 3):
        bench.stream(p200)
        bench.stream(p2000)
    if quick:
        plan = {"invoke": (2, 3), "stream_200": (2, 1), "stream_2000": (1, 1)}
    else:
        plan = {"invoke": (7, 40), "stream_200": (7, 4), "stream_2000": (5, 1)}
    return {
        "invoke": _median_per_call(lambda: bench.invoke(INVOKE_PROMPT), *plan["invoke"], 1),
        "stream_200": _median_per_call(lambda: bench.stream(p200), *plan["stream_200"], 200),
        "stream_2000": _median_per_call(lambda: bench.stream(p2000), *plan["stream_2000"], 2000),
    }


async def _pump(call: Callable[[], Awaitable[int]], concurrency: int, total: int) -> list[int]:
    """Run ``total`` calls with at most ``concurrency`` in flight; returns their piece counts."""
    remaining = total
    results: list[int] = []

    async def lane() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            results.append(await call())

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return results


async def run_async(bench: Bench, quick: bool) -> dict[str, Any]:
    levels = (5, 20) if quick else (50, 500)
    short = stream_prompt(20)
    ops: dict[str, tuple[Callable[[], Awaitable[int]], int]] = {
        "ainvoke": (lambda: bench.ainvoke(INVOKE_PROMPT), 1),
        "astream": (lambda: bench.astream(short), 20),
    }
    out: dict[str, Any] = {}
    for op, (call, expect) in ops.items():
        for level in levels:
            total = 2 * level if quick else max(300, level)
            await _pump(call, level, level)  # warm-up wave: opens the connections
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            pieces = await _pump(call, level, total)
            wall = time.perf_counter() - w0
            cpu = time.process_time() - c0
            entry: dict[str, Any] = {
                "concurrency": level,
                "calls": total,
                "per_s": total / wall,
                "cpu_ms_per_call": cpu / total * 1000,
                "pieces": sorted(set(pieces)),
            }
            if set(pieces) != {expect}:
                entry["warning"] = f"expected {expect} pieces per call, saw {sorted(set(pieces))}"
            out[f"{op}_c{level}"] = entry
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def run_rss(bench: Bench, quick: bool) -> dict[str, Any]:
    streams = 100 if quick else 1000
    prompt = stream_prompt(20)
    await bench.astream(prompt)
    gc.collect()
    baseline = _rss_mb()
    open_now = 0
    peak_open = 0

    async def one() -> int:
        nonlocal open_now, peak_open
        opened = False

        def first() -> None:
            nonlocal open_now, peak_open, opened
            opened = True
            open_now += 1
            peak_open = max(peak_open, open_now)

        try:
            return await bench.astream(prompt, first)
        finally:
            if opened:
                open_now -= 1

    w0 = time.perf_counter()
    pieces = await asyncio.gather(*(one() for _ in range(streams)))
    wall = time.perf_counter() - w0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    entry: dict[str, Any] = {
        "streams": streams,
        "peak_rss_mb": peak,
        "baseline_rss_mb": baseline,
        "delta_rss_mb": peak - baseline,
        "peak_open_streams": peak_open,
        "wall_s": wall,
        "pieces": sorted(set(pieces)),
    }
    if set(pieces) != {20}:
        entry["warning"] = f"expected 20 pieces per stream, saw {sorted(set(pieces))}"
    return {"rss": entry}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("client", choices=sorted(BENCHES))
    parser.add_argument("suites", help="comma-separated: sync, async, rss (run in this order)")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    suites = [s for s in args.suites.split(",") if s]
    if not suites or any(s not in SUITES for s in suites):
        parser.error(f"suites must be a comma-separated subset of {SUITES}")
    bench = BENCHES[args.client]()
    report: dict[str, Any] = {"client": args.client, "suites": {}}
    try:
        c0 = time.process_time()
        bench.build(Target(args.base_url, args.api_key))
        report["build_cpu_ms"] = (time.process_time() - c0) * 1000
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["traceback"] = traceback.format_exc(limit=8)
        print(json.dumps(report), flush=True)
        return 0
    sync_suites = [s for s in suites if s == "sync"]
    async_suites = [s for s in suites if s != "sync"]
    for suite in sync_suites:
        report["suites"][suite] = _guarded(lambda: run_sync(bench, args.quick))
    if async_suites:
        report["suites"].update(asyncio.run(_run_async_suites(bench, async_suites, args.quick)))
    print(json.dumps(report), flush=True)
    return 0


SUITES = ("sync", "async", "rss")


def _guarded(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return {"metrics": run()}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(8)}


async def _run_async_suites(bench: Bench, suites: list[str], quick: bool) -> dict[str, Any]:
    """Every async suite in one event loop (clients cache loop-bound connection pools)."""
    out: dict[str, Any] = {}
    try:
        for suite in suites:
            runner = run_async if suite == "async" else run_rss
            try:
                out[suite] = {"metrics": await runner(bench, quick)}
            except Exception as exc:
                out[suite] = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc(8),
                }
    finally:
        await bench.aclose()
    return out


if __name__ == "__main__":
    sys.exit(main())
