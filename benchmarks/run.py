"""Run every benchmark in one go and write ``benchmarks/results/latest.{md,json}``.

Why one command: a ratio is only meaningful when both sides were measured on the same
machine in the same minute. This starts the benchmark server in its own process, measures
each client in a fresh worker process (one after the other, never in parallel, so the two
cores are split exactly one for the server and one for the client), times imports in fresh
interpreters, and writes the ratio table.

    .venv/bin/python -m benchmarks            # full run (a few minutes on 2 cores)
    .venv/bin/python -m benchmarks --quick    # smoke run (CI): small counts, same tables
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import imports, report
from .clients import BENCHES, NEEDS_MODULE

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "results"
SUITES = ("sync", "async", "rss")
EXTRA_ROWS = {"raw_messages", "lunos_client", "lunos_llm_messages"}
"""Explanatory rows: in the full run they skip the slow peak-RSS suite (and the messages
floor and second LunosLLM route skip async too), which keeps the run near five minutes."""


@contextlib.contextmanager
def bench_server(hold: float = 0.0) -> Iterator[tuple[str, str]]:
    """Start ``benchmarks.server`` in its own process; yields (base_url, api_key)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.server", "--port", "0", "--hold", str(hold)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split())
        if "BASE_URL" not in fields:
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        yield fields["BASE_URL"], fields["API_KEY"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def missing_module(client: str) -> str | None:
    """Why ``client`` cannot run here, or ``None`` when its module is present."""
    module = NEEDS_MODULE.get(client)
    if module is None:
        return None
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:
        found = False
    return None if found else f"{module} is not importable yet"


def run_worker(
    client: str, suites: str, target: tuple[str, str], quick: bool, timeout: float
) -> dict[str, dict[str, Any]]:
    """Run ``suites`` of one client in a fresh worker; returns ``{suite: result}``."""
    cmd = [sys.executable, "-m", "benchmarks.worker", client, suites]
    cmd += ["--base-url", target[0], "--api-key", target[1]]
    if quick:
        cmd.append("--quick")
    names = suites.split(",")
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {s: {"error": f"worker timed out after {timeout:.0f} s"} for s in names}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {s: {"error": f"worker crashed: {tail}"} for s in names}
    report: dict[str, Any] = json.loads(lines[-1])
    if "error" in report:
        return {s: {"error": report["error"], "traceback": report.get("traceback")} for s in names}
    out: dict[str, dict[str, Any]] = report["suites"]
    for result in out.values():
        result["build_cpu_ms"] = report.get("build_cpu_ms")
    return out


def combine_repeats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One sync result from several worker processes: per measure, the best (lowest) of
    their medians, as ``timeit`` recommends: on a shared machine other work can only add
    CPU time (cache and core contention), never remove it, so the lowest repeat is the one
    least disturbed. Anchors and our clients are treated alike.

    The median over repeats is kept as ``cpu_ms_median``, and each run's own figure under
    ``cpu_ms_repeats``, so the report can show how far the repeats spread.
    """
    good = [r for r in runs if "metrics" in r]
    if not good:
        return runs[0] if runs else {"error": "no run"}
    merged: dict[str, Any] = {"metrics": {}, "repeats": len(good)}
    if len(good) < len(runs):
        merged["failed_repeats"] = [r.get("error") for r in runs if "metrics" not in r]
    for key, first in good[0]["metrics"].items():
        entries = [r["metrics"][key] for r in good if key in r["metrics"]]
        entry = dict(first)
        for field in ("cpu_ms", "wall_ms"):
            values = [float(e[field]) for e in entries]
            entry[field] = min(values)
            entry[field + "_median"] = statistics.median(values)
            entry[field + "_repeats"] = values
        warnings = [e["warning"] for e in entries if "warning" in e]
        if warnings:
            entry["warning"] = warnings[0]
        entry["pieces"] = sorted({p for e in entries for p in e.get("pieces", [])})
        merged["metrics"][key] = entry
    if "build_cpu_ms" in good[0]:
        merged["build_cpu_ms"] = good[0]["build_cpu_ms"]
    return merged


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import os
    import platform
    from importlib import metadata

    cpu = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str] = {}
    for dist in (
        "httpx",
        "langchain-core",
        "langchain-openai",
        "langchain-anthropic",
        "llama-index-core",
        "llama-index-llms-openai-like",
        "openai",
        "anthropic",
        "lunos-integrations",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run with small counts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    parser.add_argument(
        "--clients", default=",".join(BENCHES), help="comma-separated client ids to measure"
    )
    parser.add_argument("--skip-imports", action="store_true", help="do not time imports")
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="fresh worker processes per client for the CPU suite (default 5; 1 with --quick)",
    )
    args = parser.parse_args(argv)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = [c for c in clients if c not in BENCHES]
    if unknown:
        parser.error(f"unknown client ids {unknown}; known: {sorted(BENCHES)}")

    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    timeout = 120.0 if args.quick else 300.0
    hold = 0.2 if args.quick else 1.0
    repeats = args.repeats or (1 if args.quick else 5)
    sync_runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    with bench_server() as target, bench_server(hold=hold) as held:
        runnable = []
        for client in clients:
            why = missing_module(client)
            if why is not None:
                results[client] = {s: {"error": why} for s in SUITES}
            else:
                runnable.append(client)
        # Repeats are interleaved (A, B, C, A, B, C, ...): a slow minute on the shared
        # machine then lands on every client once instead of on one client's whole figure.
        for rep in range(repeats):
            for client in runnable:
                print(f"... {client} (repeat {rep + 1}/{repeats})", file=sys.stderr, flush=True)
                if rep > 0:
                    sync_runs[client].append(
                        run_worker(client, "sync", target, args.quick, timeout)["sync"]
                    )
                    continue
                if args.quick:  # one process per client keeps the smoke run short
                    results[client] = run_worker(client, "sync,async,rss", target, True, timeout)
                else:  # peak RSS is a whole-process figure: its own process, held streams
                    suites = "sync" if client in EXTRA_ROWS - {"lunos_client"} else "sync,async"
                    results[client] = run_worker(client, suites, target, False, timeout)
                    if client not in EXTRA_ROWS:
                        results[client].update(run_worker(client, "rss", held, False, timeout))
                sync_runs[client].append(results[client]["sync"])
        for client in runnable:
            results[client]["sync"] = combine_repeats(sync_runs[client])
    import_times: dict[str, dict[str, object]] = {}
    if not args.skip_imports:
        print("... import times", file=sys.stderr, flush=True)
        import_times = imports.measure(1 if args.quick else 5)
    data = {
        "quick": args.quick,
        "repeats": repeats,
        "machine": machine(),
        "seconds": time.perf_counter() - started,
        "clients": results,
        "imports": import_times,
    }
    data["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    text = report.render(data)
    (args.out / "latest.md").write_text(text)
    print(text)
    print(f"wrote {args.out / 'latest.md'} and latest.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
