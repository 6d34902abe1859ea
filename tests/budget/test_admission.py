"""Admission: a call is refused before any byte is sent, and settles with the real cost."""

from __future__ import annotations

import pickle

import pytest

from lunos_integrations import track_usage
from lunos_integrations.client import LunosClient
from lunos_integrations.errors import BadRequestError, BudgetExceededError, LunosInputError
from lunos_integrations.observe import context_factories
from lunos_integrations.testing import ErrorReply
from lunos_integrations.testing.catalog import default_models
from lunos_integrations.testing.server import LocalLunosServer

from .conftest import MODEL, chat_posts, make_client, req, worst_case


def test_refused_before_any_request_with_the_figures(
    server: LocalLunosServer, client: LunosClient
) -> None:
    worst = worst_case(req())
    with track_usage(budget_usd=worst * 0.5) as usage, pytest.raises(BudgetExceededError) as info:
        client.chat(req())
    assert chat_posts(server) == 0  # the server saw no chat request at all
    error = info.value
    assert error.limit == "budget_usd"
    assert error.budget == pytest.approx(worst * 0.5)
    assert error.spent == 0.0
    assert error.worst_case == pytest.approx(worst)
    text = str(error)
    for needle in ("budget_usd", "spent", "could cost up to", "track_usage(budget_usd=...)"):
        assert needle in text
    assert usage.budget is not None
    assert usage.budget.snapshot()["ledgers"]["budget_usd"]["refused"] == 1


def test_settles_with_the_servers_cost_and_refuses_once_spent(
    server: LocalLunosServer, client: LunosClient
) -> None:
    worst = worst_case(req())
    with track_usage(budget_usd=worst * 2.5) as usage:
        results = []
        with pytest.raises(BudgetExceededError):
            for _ in range(10):
                results.append(client.chat(req()))
    real = [r.usage.cost for r in results if r.usage is not None]
    assert usage.budget is not None
    ledger = usage.budget.snapshot()["ledgers"]["budget_usd"]
    assert ledger["held"] == 0.0
    assert ledger["spent"] == pytest.approx(sum(real))  # type: ignore[arg-type]
    assert ledger["spent"] == pytest.approx(server.router.billing.total)
    assert ledger["spent"] <= worst * 2.5
    # refused only when spent + this worst case no longer fitted
    assert ledger["spent"] + worst > worst * 2.5
    assert len(results) == chat_posts(server)


def test_without_a_limit_nothing_is_installed(client: LunosClient) -> None:
    with track_usage() as usage:
        assert context_factories() == ()
        client.chat(req(max_tokens=None))
    assert usage.budget is None and usage.requests == 1


def test_reservation_released_after_an_error_reply(
    server: LocalLunosServer, client: LunosClient
) -> None:
    worst = worst_case(req())
    server.enqueue(ErrorReply(400), path="/v1/chat/completions")
    with track_usage(budget_usd=worst * 1.01) as usage:
        with pytest.raises(BadRequestError):
            client.chat(req())
        assert usage.budget is not None
        ledger = usage.budget.snapshot()["ledgers"]["budget_usd"]
        assert ledger["held"] == 0.0 and ledger["spent"] == 0.0
        client.chat(req())  # the whole budget is available again
    assert chat_posts(server) == 2


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"budget_usd": -1}, "budget_usd"),
        ({"budget_usd": float("nan")}, "budget_usd"),
        ({"budget_usd": True}, "budget_usd"),
        ({"budgets": {"support": "2"}}, "budgets['support']"),
        ({"budgets": ["support"]}, "budgets"),
        ({"budget_usd": 1, "unknown_price": "maybe"}, "unknown_price"),
        ({"budget_usd": 1, "price_wait": -1}, "price_wait"),
        ({"min_balance": -5}, "min_balance"),
    ],
)
def test_bad_settings_name_the_parameter(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(LunosInputError) as info:
        track_usage(**kwargs)  # type: ignore[arg-type]
    assert info.value.param == param


def test_the_error_pickles_with_its_figures(server: LocalLunosServer) -> None:
    with (
        make_client(server) as client,
        track_usage(budget_usd=0.0),
        pytest.raises(BudgetExceededError) as info,
    ):
        client.chat(req())
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is BudgetExceededError
    assert (copy.limit, copy.budget, copy.model) == ("budget_usd", 0.0, MODEL)
    assert copy.worst_case == info.value.worst_case
    assert server.api_key not in repr(vars(copy)) and server.api_key not in str(copy)


def test_a_call_without_an_output_bound_is_refused(server: LocalLunosServer) -> None:
    models = [
        {**m, "parameters": {"context": 1000}, "maxCompletionTokens": None}
        for m in default_models()
    ]
    with LocalLunosServer(models=models) as uncapped, make_client(uncapped) as client:
        with track_usage(budget_usd=10.0), pytest.raises(BudgetExceededError, match="max_tokens"):
            client.chat(req(max_tokens=None))
        assert chat_posts(uncapped) == 0
        with track_usage(budget_usd=10.0):
            client.chat(req(max_tokens=5))  # bounded by the request: admitted
