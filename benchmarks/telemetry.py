"""What OpenTelemetry spans cost a call: ``python -m benchmarks.telemetry``.

Targets (issue #22): with an SDK tracer provider and an in-memory exporter, ChatLunos
``invoke`` CPU <= 1.10x and a 200-chunk ``stream`` CPU <= 1.05x the same calls with
telemetry off; with no provider configured, unchanged (that is the "off" row itself: the
default telemetry is on every client, and finds nothing configured).

How: the global tracer provider can be set only once per process, so each mode runs in its
own fresh worker process (``--worker``), against one ``benchmarks.server`` process. Modes:

* ``off`` — no provider configured (what every user without OpenTelemetry gets);
* ``traces`` — a global SDK ``TracerProvider`` with a ``SimpleSpanProcessor`` into an
  ``InMemorySpanExporter`` (cleared between rounds): the target row;
* ``traces (batch)`` — the same with a ``BatchSpanProcessor``, as production setups use
  (its worker thread's CPU is counted too; shown, not a target);
* ``traces+metrics`` — ``traces``, plus a global ``MeterProvider`` with an in-memory reader
  (not a target; shown so the metrics' own cost is visible).

Each worker warms up, then measures ``time.process_time()`` (all threads) around ``--calls``
calls per round for ``--rounds`` rounds and reports the median per call. Workers run
``--repeats`` times, interleaved (off, traces, traces+metrics, off, ...); the headline is
each mode's best repeat, as the other benchmarks here do (other work on a shared VM only
ever adds CPU time), and the ratio of the medians is printed beside it. Results go to
``benchmarks/results/telemetry.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .clients import CHAT_MODEL, MAX_TOKENS
from .run import ROOT, bench_server
from .worker import stream_prompt

MODES = ("off", "traces", "traces (batch)", "traces+metrics")
KINDS = ("invoke", "stream")
RESULTS = Path(__file__).resolve().parent / "results"
TARGETS = {"invoke": 1.10, "stream": 1.05}


def _exporter_class() -> Any:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    class Exporter(InMemorySpanExporter):
        """The in-memory exporter, with a way to flush its provider before counting."""

        flush: Any = None

    return Exporter


def _configure(mode: str) -> Any:
    """Set the global providers for ``mode``; returns the span exporter (or None)."""
    if mode == "off":
        return None
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    exporter = _exporter_class()()
    provider = TracerProvider()
    batch = mode == "traces (batch)"
    provider.add_span_processor((BatchSpanProcessor if batch else SimpleSpanProcessor)(exporter))
    trace.set_tracer_provider(provider)
    exporter.flush = provider.force_flush
    if mode == "traces+metrics":
        metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
    return exporter


def worker(mode: str, base_url: str, api_key: str, rounds: int, calls: int, chunks: int) -> None:
    exporter = _configure(mode)
    from lunos_integrations import ChatLunos

    model = ChatLunos(model=CHAT_MODEL, api_key=api_key, base_url=base_url, max_tokens=MAX_TOKENS)
    prompt = stream_prompt(chunks)

    def invoke() -> int:
        return 1 if model.invoke("hi").content else 0

    def stream() -> int:
        return sum(1 for chunk in model.stream(prompt) if chunk.content)

    out: dict[str, Any] = {"mode": mode}
    for kind, fn in (("invoke", invoke), ("stream", stream)):
        for _ in range(max(calls // 2, 3)):  # warm-up: connections, catalog, caches
            fn()
        per_call: list[float] = []
        pieces = 0
        for _ in range(rounds):
            if exporter is not None:
                exporter.flush()  # what earlier rounds left queued is not this round's
                exporter.clear()
            started = time.process_time()
            for _ in range(calls):
                pieces = fn()
            per_call.append((time.process_time() - started) / calls)
        out[kind] = statistics.median(per_call)
        out[f"{kind}_pieces"] = pieces
        if exporter is not None:
            exporter.flush()
        out[f"{kind}_spans"] = len(exporter.get_finished_spans()) if exporter is not None else 0
    print(json.dumps(out), flush=True)


def _run_worker(mode: str, base_url: str, api_key: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.telemetry",
        "--worker",
        mode,
        base_url,
        api_key,
        "--rounds",
        str(args.rounds),
        "--calls",
        str(args.calls),
        "--chunks",
        str(args.chunks),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {mode} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def render(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    lines = [
        f"ChatLunos CPU per call (ms), best of {args.repeats} fresh workers per mode "
        f"(median of {args.rounds} rounds x {args.calls} calls each); stream = "
        f"{args.chunks} chunks",
        "",
        "| mode | invoke ms | x off (best) | x off (median) | stream ms | x off (best) "
        "| x off (median) | spans per round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    best = {m: {k: min(r[k] for r in runs[m]) for k in KINDS} for m in MODES}
    median = {m: {k: statistics.median(r[k] for r in runs[m]) for k in KINDS} for m in MODES}
    for mode in MODES:
        cells = [mode]
        for kind in KINDS:
            cells += [
                f"{best[mode][kind] * 1000:.3f}",
                f"{best[mode][kind] / best['off'][kind]:.3f}",
                f"{median[mode][kind] / median['off'][kind]:.3f}",
            ]
        spans = runs[mode][-1]["invoke_spans"], runs[mode][-1]["stream_spans"]
        cells.append(f"{spans[0]} / {spans[1]}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for kind in KINDS:
        ratio = best["traces"][kind] / best["off"][kind]
        verdict = "met" if ratio <= TARGETS[kind] else "NOT met"
        lines.append(f"- {kind}: traces / off = {ratio:.3f} (target <= {TARGETS[kind]}): {verdict}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.telemetry", description=__doc__)
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "BASE_URL", "API_KEY"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.worker:
        mode, base_url, api_key = args.worker
        worker(mode, base_url, api_key, args.rounds, args.calls, args.chunks)
        return 0
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    with bench_server() as (base_url, api_key):
        for _ in range(args.repeats):
            for mode in MODES:
                result = _run_worker(mode, base_url, api_key, args)
                if result["stream_pieces"] != args.chunks:
                    raise RuntimeError(f"{mode}: {result['stream_pieces']} chunks streamed")
                runs[mode].append(result)
    table = render(runs, args)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "telemetry.md").write_text(table, encoding="utf-8")
    (RESULTS / "telemetry.json").write_text(json.dumps(runs, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
