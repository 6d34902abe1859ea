"""Per-app and nested limits, unknown prices, the catalog wait, retries and fallbacks,
embeddings, and the balance floor."""

from __future__ import annotations

import asyncio
import warnings

import pytest

from lunos_integrations import track_usage
from lunos_integrations.budget import LunosBudgetWarning, SpendGuard
from lunos_integrations.client import LunosClient
from lunos_integrations.errors import BudgetExceededError
from lunos_integrations.observe import watching
from lunos_integrations.testing import ErrorReply
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.wire.types import ChatRequest, EmbeddingRequest

from .conftest import chat_posts, make_client, req, worst_case

EMBED = "openai/text-embedding-3-small"


def _ledger(usage: object, name: str = "budget_usd") -> dict[str, float]:
    guard = usage.budget  # type: ignore[attr-defined]
    return guard.snapshot()["ledgers"][name]  # type: ignore[no-any-return]


def test_per_app_budgets_hold_separately(server: LocalLunosServer) -> None:
    worst = worst_case(req())
    with (
        make_client(server, app_id="support") as support,
        make_client(server, app_id="web") as web,
        track_usage(budgets={"support": worst * 1.5}) as usage,
    ):
        support.chat(req())
        with pytest.raises(BudgetExceededError) as info:
            support.chat(req())
            support.chat(req())
        for _ in range(3):
            web.chat(req())  # no limit for this app
    assert info.value.limit == "budgets['support']" and info.value.app_id == "support"
    assert "budgets={'support': ...}" in str(info.value)
    assert server.router.billing.total_for("support") <= worst * 1.5
    assert _ledger(usage, "budgets['support']")["refused"] == 1
    assert usage.by_app["web"].requests == 3


def test_nested_blocks_both_hold(server: LocalLunosServer, client: LunosClient) -> None:
    worst = worst_case(req())
    with track_usage(budget_usd=worst * 1.5) as outer:
        with track_usage(budget_usd=1.0) as inner:
            client.chat(req())
            with pytest.raises(BudgetExceededError) as info:
                client.chat(req())  # the inner one has room, the outer one has not
        assert info.value.budget == pytest.approx(worst * 1.5)
        assert _ledger(inner)["held"] == 0.0  # the inner hold was given back
        assert _ledger(outer)["spent"] == pytest.approx(_ledger(inner)["spent"])
    with (
        track_usage(budget_usd=1.0) as roomy,
        track_usage(budget_usd=0.0),
        pytest.raises(BudgetExceededError) as small,
    ):
        client.chat(req())
    assert small.value.budget == 0.0  # an inner limit below the outer one holds too
    assert _ledger(roomy)["held"] == 0.0  # the outer hold made first was given back
    assert chat_posts(server) == 1


def test_unknown_price_is_refused_by_default() -> None:
    with LocalLunosServer(catalog_profile="none") as server, make_client(server) as client:
        with track_usage(budget_usd=1.0), pytest.raises(BudgetExceededError) as info:
            client.chat(req())
        assert "price of this call is unknown" in str(info.value)
        assert info.value.worst_case is None
        assert chat_posts(server) == 0


def test_unknown_price_allowed_warns_once_and_counts() -> None:
    with LocalLunosServer(catalog_profile="none") as server, make_client(server) as client:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with track_usage(budget_usd=1.0, unknown_price="allow") as usage:
                client.chat(req())
                client.chat(req())
        budget_warnings = [w for w in caught if issubclass(w.category, LunosBudgetWarning)]
        assert len(budget_warnings) == 1
        assert usage.budget is not None and usage.budget.unpriced_calls == 2
        assert chat_posts(server) == 2


def test_a_call_under_a_budget_waits_for_the_catalog_first() -> None:
    with LocalLunosServer(catalog_profile="slow", catalog_delay=0.3) as server:
        with make_client(server) as client, track_usage(budget_usd=1.0) as usage:
            client.chat(req())
        paths = [r.path for r in server.requests]
        assert paths[0].endswith("/models") and paths[1].endswith("/chat/completions")
        assert _ledger(usage)["admitted"] == 1


def test_async_calls_wait_for_the_catalog_too() -> None:
    async def run(server: LocalLunosServer) -> None:
        async with make_client(server) as client:
            with track_usage(budget_usd=1.0):
                await asyncio.gather(*(client.achat(req()) for _ in range(5)))

    with LocalLunosServer(catalog_profile="slow", catalog_delay=0.3) as server:
        asyncio.run(run(server))
        paths = [r.path for r in server.requests]
        assert paths[0].endswith("/models") and paths.count(paths[0]) == 1
        assert all(p.endswith("/chat/completions") for p in paths[1:]) and len(paths) == 6


def test_a_short_price_wait_refuses_rather_than_guess() -> None:
    with LocalLunosServer(catalog_profile="slow", catalog_delay=5.0) as server:
        with (
            make_client(server) as client,
            track_usage(budget_usd=1.0, price_wait=0),
            pytest.raises(BudgetExceededError, match="unknown"),
        ):
            client.chat(req())
        assert chat_posts(server) == 0


def test_retries_are_held_per_attempt(server: LocalLunosServer) -> None:
    server.enqueue(ErrorReply(500), path="/v1/chat/completions")
    with make_client(server, max_retries=1) as client, track_usage(budget_usd=1.0) as usage:
        result = client.chat(req())
    assert chat_posts(server) == 2
    assert usage.budget is not None and usage.budget.attempts == 2
    assert result.usage is not None
    assert _ledger(usage)["spent"] == pytest.approx(result.usage.cost)  # one billed reply
    assert _ledger(usage)["held"] == 0.0


def _with_fallback() -> ChatRequest:
    request = req(model="openai/gpt-4o-mini")
    request.fallback_model = "openai/gpt-4o"
    return request


_MISSING = ErrorReply(404, {"error": {"message": "The model does not exist"}})


def test_a_fallback_hop_that_does_not_fit_is_never_sent(server: LocalLunosServer) -> None:
    primary, hop = _with_fallback(), req(model="openai/gpt-4o")
    budget = (worst_case(primary) + worst_case(hop)) / 2  # the hop's worst case does not fit
    server.enqueue(_MISSING, path="/v1/chat/completions")
    with (
        make_client(server) as client,
        track_usage(budget_usd=budget) as usage,
        pytest.raises(BudgetExceededError) as info,
    ):
        client.chat(primary)
    assert info.value.model == "openai/gpt-4o"
    assert chat_posts(server) == 1  # the hop was never sent
    assert _ledger(usage)["held"] == 0.0 and _ledger(usage)["spent"] == 0.0


def test_a_fallback_hop_is_held_and_charged(server: LocalLunosServer) -> None:
    server.enqueue(_MISSING, path="/v1/chat/completions")
    with make_client(server) as client, track_usage(budget_usd=1.0) as usage:
        result = client.chat(_with_fallback())
    assert chat_posts(server) == 2
    assert result.usage is not None and usage.budget is not None
    assert usage.budget.attempts == 2
    assert _ledger(usage)["spent"] == pytest.approx(server.router.billing.total)
    assert _ledger(usage)["spent"] == pytest.approx(result.usage.cost)


def test_embeddings_are_held_and_settled(server: LocalLunosServer, client: LunosClient) -> None:
    texts = ["a sentence to embed"] * 100
    with track_usage(budget_usd=1e-6), pytest.raises(BudgetExceededError):
        client.embed(EmbeddingRequest(model=EMBED, input=texts))
    assert chat_posts(server) == 0
    with track_usage(budget_usd=1.0) as usage:
        client.embed(EmbeddingRequest(model=EMBED, input=texts))
    assert server.router.billing.total > 0
    assert _ledger(usage)["spent"] == pytest.approx(server.router.billing.total)


def test_balance_floor_reads_a_cached_balance_off_the_critical_path() -> None:
    now = [0.0]
    guard = SpendGuard(min_balance=20.0, balance_refresh=60.0, clock=lambda: now[0])
    with (
        LocalLunosServer(report_cost=True, balance=10.5) as server,
        make_client(server) as client,
        watching(guard),
    ):
        client.chat(req())  # no balance known yet: the call goes on, a fetch starts
        assert guard.floor is not None and guard.floor.wait_idle(30)
        with pytest.raises(BudgetExceededError) as info:
            client.chat(req())
        assert info.value.limit == "min_balance" and "unit" in str(info.value)
        # cached: not refreshed while fresh, so no second read
        with pytest.raises(BudgetExceededError):
            client.chat(req())
        balance_reads = sum(1 for r in server.requests if r.path.endswith("/balance"))
        assert balance_reads == 1 and chat_posts(server) == 1
        server.router.balance = 50.0
        now[0] = 61.0  # stale: the next call starts a refresh but is judged on the old figure
        with pytest.raises(BudgetExceededError):
            client.chat(req())
        assert guard.floor.wait_idle(30)
        client.chat(req())
        assert sum(1 for r in server.requests if r.path.endswith("/balance")) == 2
