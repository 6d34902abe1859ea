"""Spend guard (issue #21): no overrun under concurrency, budget used, and CPU overhead.

One command::

    .venv/bin/python -m benchmarks.budget              # writes results/budget.{md,json}
    .venv/bin/python -m benchmarks.budget --workers 2  # fewer CPU workers

**Overrun.** A :class:`~lunos_integrations.testing.LocalLunosServer` (``report_cost=True``)
prices every reply it generates in its own billing ledger (``server.router.billing``). The
budget is set to the cost of 100 calls, measured at that ledger from one probe call, and
200 calls are started: ``ChatLunos.abatch`` (``max_concurrency=50``), 200 ``astream``
tasks under a 50-slot semaphore, and ``ChatLunos.batch`` (LangChain's thread pool, 50
workers). Reported per case: calls admitted and refused, what the server billed, the
overrun (billed - budget, must be <= 0) and the share of the budget used (target >= 80 %).
Each case runs with ``max_tokens`` equal to the answer's length ("tight") and at 4x that
("loose"): the guard holds ``max_tokens`` worth of output for every call in flight, so a
loose ``max_tokens`` leaves more of the budget unused when many calls run at once.

**CPU overhead.** ``ChatLunos.invoke`` against ``benchmarks.server`` (its own process),
plain, with a no-op call observer, inside ``track_usage()`` and inside
``track_usage(budget_usd=1e6)``, in fresh
worker processes; in each worker the three variants alternate round by round (``rounds``
rounds of ``calls`` invokes), so they see the same drift of this shared machine, and the
headline is the median of the per-round ratios budget / plain (target <= 3 %), with their
range and the best-vs-best ratio beside it. Also the guard's hooks alone, in-process
without I/O (µs per call).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODEL = "openai/gpt-4o"
CALLS = 200
CONCURRENCY = 50
ANSWER_WORDS = 20
PROMPT = 'Say "' + " ".join(f"w{i}" for i in range(ANSWER_WORDS)) + '"'
VARIANTS = ("plain", "noop_observer", "track_usage", "budget")


# --------------------------------------------------------------------------- overrun


def _chat(server: Any, max_tokens: int) -> Any:
    from lunos_integrations import ChatLunos

    return ChatLunos(
        model=MODEL,
        api_key=server.api_key,
        base_url=server.base_url,
        max_tokens=max_tokens,
        max_retries=0,
        timeout=60,
    )


def _outcome(server: Any, budget: float, outcomes: list[Any], guard: Any) -> dict[str, Any]:
    from lunos_integrations.errors import BudgetExceededError

    refused = sum(isinstance(o, BudgetExceededError) for o in outcomes)
    other = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    billed = server.router.billing.total
    return {
        "calls": len(outcomes),
        "admitted": len(outcomes) - len(other),
        "refused": refused,
        "other_errors": [o for o in other if "BudgetExceeded" not in o][:3],
        "budget": budget,
        "billed": billed,
        "guard_spent": guard.spent,
        "overrun": billed - budget,
        "used_pct": 100.0 * billed / budget,
    }


def _run_case(server: Any, case: str, max_tokens: int, budget: float) -> dict[str, Any]:
    from lunos_integrations import track_usage

    chat = _chat(server, max_tokens)
    server.router.billing.clear()
    prompts = [PROMPT] * CALLS

    if case == "abatch":

        async def run() -> list[Any]:
            with track_usage(budget_usd=budget) as usage:
                out = await chat.abatch(
                    prompts, config={"max_concurrency": CONCURRENCY}, return_exceptions=True
                )
            return [out, usage]

        outcomes, usage = asyncio.run(run())
    elif case == "astream":

        async def drain(gate: asyncio.Semaphore) -> Any:
            async with gate:
                try:
                    return "".join([str(c.content) async for c in chat.astream(PROMPT)])
                except Exception as exc:
                    return exc

        async def run() -> list[Any]:
            gate = asyncio.Semaphore(CONCURRENCY)
            with track_usage(budget_usd=budget) as usage:
                out = await asyncio.gather(*(drain(gate) for _ in prompts))
            return [list(out), usage]

        outcomes, usage = asyncio.run(run())
    else:  # threads
        with track_usage(budget_usd=budget) as usage:
            outcomes = chat.batch(
                prompts, config={"max_concurrency": CONCURRENCY}, return_exceptions=True
            )
    return {
        "case": case,
        "max_tokens": max_tokens,
        **_outcome(server, budget, outcomes, usage.budget),
    }


def overrun() -> list[dict[str, Any]]:
    from lunos_integrations.testing import LocalLunosServer

    rows: list[dict[str, Any]] = []
    with LocalLunosServer(report_cost=True) as server:
        _chat(server, ANSWER_WORDS).invoke(PROMPT)  # probe: what one call is billed
        one = server.router.billing.total
        budget = one * CALLS / 2
        for label, max_tokens in (("tight", ANSWER_WORDS), ("loose", ANSWER_WORDS * 4)):
            for case in ("abatch", "astream", "threads"):
                print(f"... overrun {case} ({label})", file=sys.stderr, flush=True)
                row = _run_case(server, case, max_tokens, budget)
                row["max_tokens_label"] = label
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- CPU


def _block(variant: str) -> Any:
    import contextlib

    from lunos_integrations import track_usage

    if variant == "noop_observer":  # the observation hook's own cost, without any guard
        from lunos_integrations.observe import CallObserver, watching

        return watching(lambda info: CallObserver())
    if variant == "track_usage":
        return track_usage()
    if variant == "budget":
        return track_usage(budget_usd=1e6)
    return contextlib.nullcontext()


def _worker(base_url: str, api_key: str, rounds: int, calls: int) -> dict[str, Any]:
    """One fresh process: rounds of ``calls`` invokes, the variants alternating.

    Why alternate inside one process: on this shared machine the CPU a call costs drifts by
    tens of percent from minute to minute, far more than the effect measured; rounds of the
    three variants back to back, over the same connections and caches, see the same drift,
    so their per-round ratios cancel it.
    """
    from lunos_integrations import ChatLunos

    chat = ChatLunos(model=MODEL, base_url=base_url, api_key=api_key, max_tokens=8192)
    prompt = 'Say "The quick brown fox jumps over the lazy dog."'
    for variant in VARIANTS:  # warm-up: connections, catalog, caches, each code path
        with _block(variant):
            for _ in range(30):
                chat.invoke(prompt)
    cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(rounds):
        k = r % len(VARIANTS)
        for variant in VARIANTS[k:] + VARIANTS[:k]:  # rotated: no variant always first
            with _block(variant):
                gc.collect()
                c0 = time.process_time()
                for _ in range(calls):
                    chat.invoke(prompt)
                cpu[variant].append((time.process_time() - c0) / calls * 1000)
    return {"cpu_ms": cpu}


def cpu_overhead(workers: int, rounds: int, calls: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    from benchmarks.run import bench_server

    per_worker: list[dict[str, list[float]]] = []
    with bench_server() as (base_url, api_key):
        for n in range(workers):
            print(f"... cpu worker {n + 1}/{workers}", file=sys.stderr, flush=True)
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.budget",
                    "--worker",
                    "--base-url",
                    base_url,
                    "--api-key",
                    api_key,
                    "--rounds",
                    str(rounds),
                    "--calls",
                    str(calls),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=1200,
                check=True,
            )
            per_worker.append(json.loads(out.stdout.strip().splitlines()[-1])["cpu_ms"])
    every = {v: [x for w in per_worker for x in w[v]] for v in VARIANTS}
    best = {v: min(values) for v, values in every.items()}
    median = {v: statistics.median(values) for v, values in every.items()}
    # each round's budget figure against the plain / track_usage figure of the same round
    pairs = [
        (b, p, t, o)
        for w in per_worker
        for b, p, t, o in zip(
            w["budget"], w["plain"], w["track_usage"], w["noop_observer"], strict=True
        )
    ]
    paired_plain = [b / p for b, p, _, _ in pairs]
    paired_usage = [b / t for b, _, t, _ in pairs]
    paired_noop = [o / p for _, p, _, o in pairs]
    return {
        "per_worker": per_worker,
        "best_cpu_ms": best,
        "median_cpu_ms": median,
        "paired_vs_plain_pct": 100.0 * (statistics.median(paired_plain) - 1),
        "paired_vs_plain_range_pct": [
            100.0 * (min(paired_plain) - 1),
            100.0 * (max(paired_plain) - 1),
        ],
        "paired_vs_track_usage_pct": 100.0 * (statistics.median(paired_usage) - 1),
        "paired_noop_observer_vs_plain_pct": 100.0 * (statistics.median(paired_noop) - 1),
        "best_vs_plain_pct": 100.0 * (best["budget"] / best["plain"] - 1),
    }


def guard_path_us(calls: int = 20_000, rounds: int = 5) -> dict[str, float]:
    """CPU of the guard's own hooks per call, in-process and without I/O (µs).

    Drives one observation per call through exactly what a guarded ``invoke`` runs (the
    factory, ``prepare``, one ``on_attempt``, ``on_result``, the end) with a warm catalog;
    the best of ``rounds``. A figure that does not move with the neighbours' load as much
    as whole-call CPU does.
    """
    from lunos_integrations.budget import SpendGuard
    from lunos_integrations.catalog import shared_catalog
    from lunos_integrations.client import LunosClient
    from lunos_integrations.observe import watching
    from lunos_integrations.testing import LocalLunosServer
    from lunos_integrations.wire.types import ChatRequest, Message, Usage

    with LocalLunosServer() as server:
        client = LunosClient(
            api_key=server.api_key, base_url=server.base_url, catalog=shared_catalog
        )
        text = 'Say "The quick brown fox jumps over the lazy dog."'
        request = ChatRequest(model=MODEL, messages=[Message("user", text)], max_tokens=8192)
        client.chat(request)
        shared_catalog(client.config).lookup(client, MODEL)
        usage = Usage(input_tokens=12, output_tokens=10, cost=0.0001)
        results: dict[str, list[float]] = {"unobserved": [], "guarded": []}
        for _ in range(rounds):
            c0 = time.process_time()
            for _ in range(calls):
                client.observation("chat", "chat_completions", request).end(None)
            results["unobserved"].append((time.process_time() - c0) / calls)
            with watching(SpendGuard(1e6)):
                c0 = time.process_time()
                for _ in range(calls):
                    observation = client.observation("chat", "chat_completions", request)
                    observation.prepare()
                    observation.on_attempt(0, {})
                    observation.on_result(MODEL, usage, None)
                    observation.end(None)
                results["guarded"].append((time.process_time() - c0) / calls)
        client.close()
    return {k: min(v) * 1e6 for k, v in results.items()}


# --------------------------------------------------------------------------- report


def render(rows: list[dict[str, Any]], cpu: dict[str, Any], hooks: dict[str, float]) -> str:
    lines = [
        "# Spend guard (issue #21)",
        "",
        f"{CALLS} calls of `{MODEL}`, concurrency {CONCURRENCY}, budget = the server-billed "
        f"cost of {CALLS // 2} calls; answer {ANSWER_WORDS} tokens. Billed = the local "
        "server's own ledger of what it generated.",
        "",
        "| case | max_tokens | admitted | refused | budget $ | billed $ | overrun $ | used |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['max_tokens']} ({r['max_tokens_label']}) | {r['admitted']} | "
            f"{r['refused']} | {r['budget']:.6f} | {r['billed']:.6f} | "
            f"{max(r['overrun'], 0.0):.6f} | {r['used_pct']:.1f} % |"
        )
    best, median = cpu["best_cpu_ms"], cpu["median_cpu_ms"]
    rounds = len(cpu["per_worker"][0]["plain"])
    low, high = cpu["paired_vs_plain_range_pct"]
    lines += [
        "",
        f"CPU per `ChatLunos.invoke` (ms; {len(cpu['per_worker'])} fresh workers x {rounds} "
        "rounds, the variants alternating round by round in each worker):",
        "",
        "| variant | best | median |",
        "|---|---|---|",
    ]
    for v in VARIANTS:
        lines.append(f"| {v} | {best[v]:.3f} | {median[v]:.3f} |")
    lines += [
        "",
        "Guard overhead, budget vs plain, median of the per-round ratios: "
        f"{cpu['paired_vs_plain_pct']:+.2f} % (rounds range {low:+.1f} % to {high:+.1f} %; "
        f"best vs best {cpu['best_vs_plain_pct']:+.2f} %); budget vs track_usage() alone: "
        f"{cpu['paired_vs_track_usage_pct']:+.2f} %; a no-op observer (the hook alone, no "
        f"guard) vs plain: {cpu['paired_noop_observer_vs_plain_pct']:+.2f} %. Target: <= 3 %.",
        "",
        f"The guard's hooks alone (in-process, no I/O, best of 5): {hooks['guarded']:.1f} µs "
        f"per call against {hooks['unobserved']:.2f} µs unobserved, i.e. "
        f"{100 * (hooks['guarded'] - hooks['unobserved']) / (best['plain'] * 1000):.2f} % of "
        "the plain invoke's best CPU above.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.budget")
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url")
    parser.add_argument("--api-key")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.base_url, args.api_key, args.rounds, args.calls)))
        return 0
    rows = overrun()
    hooks = guard_path_us()
    cpu = cpu_overhead(args.workers, args.rounds, args.calls)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "budget.json").write_text(
        json.dumps({"overrun": rows, "cpu": cpu, "hooks_us": hooks}, indent=2)
    )
    text = render(rows, cpu, hooks)
    (RESULTS / "budget.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
