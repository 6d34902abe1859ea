"""Fifty concurrent calls cannot overrun a budget together (async tasks, threads, streams).

The figure that matters is the server's own billing of what it served: it must not pass
the budget, whatever order the calls were admitted in. Each test's budget allows about 20
of the 50 calls, so many are refused and the limit is really contended.
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

import pytest

from lunos_integrations import track_usage
from lunos_integrations.client import LunosClient
from lunos_integrations.errors import BudgetExceededError
from lunos_integrations.testing.server import LocalLunosServer

from .conftest import req, worst_case

CALLS = 50


def _budget() -> float:
    return worst_case(req("call 0")) * 20


def _check(server: LocalLunosServer, outcomes: list[object], budget: float, usage: object) -> None:
    admitted = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    assert len(admitted) + len(refused) == CALLS  # nothing else went wrong
    assert server.router.billing.total <= budget  # 0 overrun, by the server's account
    assert len(server.router.billing.charges) == len(admitted)
    assert len(admitted) >= 1 and len(refused) >= 1
    guard = usage.budget  # type: ignore[attr-defined]
    ledger = guard.snapshot()["ledgers"]["budget_usd"]
    assert ledger["held"] == 0.0
    assert ledger["spent"] == pytest.approx(server.router.billing.total)
    assert ledger["admitted"] == len(admitted) and ledger["refused"] == len(refused)


def test_fifty_async_tasks(server: LocalLunosServer, client: LunosClient) -> None:
    budget = _budget()

    async def run() -> list[object]:
        with track_usage(budget_usd=budget) as usage:
            outcomes = await asyncio.gather(
                *(client.achat(req(f"call {i}")) for i in range(CALLS)), return_exceptions=True
            )
        _check(server, list(outcomes), budget, usage)
        return list(outcomes)

    asyncio.run(run())


def test_fifty_threads(server: LocalLunosServer, client: LunosClient) -> None:
    budget = _budget()

    def one(i: int) -> object:
        try:
            return client.chat(req(f"call {i}"))
        except BudgetExceededError as exc:
            return exc

    with track_usage(budget_usd=budget) as usage, ThreadPoolExecutor(CALLS) as pool:
        # each thread runs in a copy of this context, as LangChain's executors do
        futures = [pool.submit(contextvars.copy_context().run, one, i) for i in range(CALLS)]
        outcomes = [f.result() for f in futures]
    _check(server, outcomes, budget, usage)


def test_fifty_async_streams(server: LocalLunosServer, client: LunosClient) -> None:
    budget = _budget()

    async def drain(i: int) -> str:
        return "".join([d.text async for d in client.astream_chat(req(f"call {i}"))])

    async def run() -> None:
        with track_usage(budget_usd=budget) as usage:
            outcomes = await asyncio.gather(
                *(drain(i) for i in range(CALLS)), return_exceptions=True
            )
        _check(server, list(outcomes), budget, usage)

    asyncio.run(run())
