"""Smoke test of the benchmark harness: the quick run completes and fills every cell.

Why no timing assertions: CPU ratios on a shared CI machine are noise at these tiny counts.
What this proves is that the one command still works end to end — server process, one
worker per client (anchors and ours), import timing, ratio table — so a broken harness or
a client whose adapter stopped working shows up in CI instead of on benchmark day.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report
from benchmarks.clients import BENCHES
from benchmarks.imports import STATEMENTS

ROOT = Path(__file__).resolve().parents[2]


def _quick_run(out: Path) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((out / "latest.json").read_text())
    return data, (out / "latest.md").read_text()


def _every_client_and_suite_ran_without_error(quick_run: tuple[dict[str, Any], str]) -> None:
    data, _ = quick_run
    assert set(data["clients"]) == set(BENCHES)
    for client, suites in data["clients"].items():
        for suite in ("sync", "async", "rss"):
            result = suites[suite]
            assert "error" not in result, f"{client}/{suite}: {result.get('error')}"


def _every_metric_is_a_finite_positive_number(quick_run: tuple[dict[str, Any], str]) -> None:
    data, _ = quick_run
    for client in BENCHES:
        for metric in report.METRICS:
            if metric.key == "rss_delta":
                continue  # growth may legitimately be ~0 at smoke-test counts
            v = report.value(data, client, metric.key)
            assert v is not None and math.isfinite(v) and v > 0, (client, metric.key, v)
    for label in STATEMENTS:
        ms = data["imports"][label].get("median_ms")
        assert isinstance(ms, float) and math.isfinite(ms) and ms > 0, (label, ms)


def _streams_delivered_every_chunk(quick_run: tuple[dict[str, Any], str]) -> None:
    """A client that drops chunks would look fast; the worker counts them."""
    data, _ = quick_run
    for client, suites in data["clients"].items():
        sync = suites["sync"]["metrics"]
        assert sync["stream_200"]["pieces"] == [200], client
        assert sync["stream_2000"]["pieces"] == [2000], client


def _markdown_has_every_target_and_client_row(quick_run: tuple[dict[str, Any], str]) -> None:
    data, text = quick_run
    assert text.startswith("# Benchmark results")
    assert "Machine: " in text
    for row in report.target_rows(data):
        assert row["ratio"] is not None and math.isfinite(row["ratio"]), row
        assert f"| {row['what']} |" in text
    for bench in BENCHES.values():
        assert f"| {bench.name} |" in text
    assert "## Problems in this run" not in text


@pytest.mark.timeout(480)
def test_the_quick_run_completes_and_fills_every_cell(tmp_path: Path) -> None:
    """One test for the one quick run: under pytest-xdist (--dist load) a module fixture
    shared by several tests would run once per worker that got one of them, and the run is
    about a minute of subprocesses. Each check names the client and metric it fails on."""
    run = _quick_run(tmp_path)
    _every_client_and_suite_ran_without_error(run)
    _every_metric_is_a_finite_positive_number(run)
    _streams_delivered_every_chunk(run)
    _markdown_has_every_target_and_client_row(run)
