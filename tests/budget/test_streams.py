"""Streams under a budget: cut at the limit with the partial text, and charged what ran.

Two ways a stream can outgrow what was held for it: the model has no output cap anywhere
(no ``max_tokens``, none in the catalog), so only its input is held; or the upstream
ignores ``max_tokens``. In both, the stream's cost so far is counted as deltas arrive and
the stream is closed when the budget has no room for it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lunos_integrations import track_usage
from lunos_integrations.budget.guard import prices_of
from lunos_integrations.client import LunosClient
from lunos_integrations.errors import BudgetExceededError, StreamTruncatedError
from lunos_integrations.testing import StreamFault, StreamReply
from lunos_integrations.testing.catalog import default_models
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.wire.models import parse_model

from .conftest import MODEL, catalog_entry, chat_posts, make_client, req, worst_case

WORDS = 40


def _per_output_token() -> float:
    prices = prices_of(parse_model(catalog_entry(MODEL)))
    assert prices is not None and prices.output is not None
    return prices.output


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _runaway_stream() -> StreamReply:
    """An upstream that ignores max_tokens: WORDS one-token words, written slowly."""
    events: list[Any] = [_chunk({"role": "assistant", "content": ""})]
    events += [_chunk({"content": "word "}) for _ in range(WORDS)]
    events += [_chunk({}, "stop"), "[DONE]"]
    return StreamReply(events, fault=StreamFault(split_writes=64, write_pause=0.002))


def test_a_stream_past_its_cap_is_cut_at_the_limit(
    server: LocalLunosServer, client: LunosClient
) -> None:
    request = req(max_tokens=5)
    room = 10 * _per_output_token()  # ten more tokens than the hold
    budget = worst_case(request) + room
    server.enqueue(_runaway_stream(), path="/v1/chat/completions")
    received: list[str] = []
    with track_usage(budget_usd=budget) as usage, pytest.raises(BudgetExceededError) as info:
        for delta in client.stream_chat(request):
            received.append(delta.text)
    error = info.value
    assert error.partial_text == "".join(received)  # exactly what the caller was shown
    assert error.partial_text == "word " * 15  # 5 held + 10 of room; the 16th did not fit
    assert error.cost_so_far is not None and error.cost_so_far > budget
    assert "not a complete answer" in str(error)
    assert server.wait_for_disconnects(1, timeout=30)  # the connection was closed early
    assert usage.budget is not None
    ledger = usage.budget.snapshot()["ledgers"]["budget_usd"]
    assert ledger["held"] == 0.0
    assert ledger["spent"] == pytest.approx(error.cost_so_far)  # what the server produced


def test_a_stream_without_any_output_cap_holds_its_input_and_is_cut() -> None:
    models = [
        {**m, "parameters": {"context": 100_000}, "maxCompletionTokens": None}
        for m in default_models()
    ]
    answer = " ".join(f"w{i}" for i in range(60))
    with (
        LocalLunosServer(models=models, report_cost=True) as uncapped,
        make_client(uncapped) as client,
    ):
        request = req(f'Say "{answer}"', max_tokens=None)
        budget = 20 * _per_output_token() + 1e-4  # the input, and about 20 output tokens
        with track_usage(budget_usd=budget), pytest.raises(BudgetExceededError) as info:
            for _ in client.stream_chat(request):
                pass
        assert chat_posts(uncapped) == 1
    partial = info.value.partial_text
    assert partial and answer.startswith(partial) and partial != answer


def test_a_truncated_stream_releases_its_hold_and_is_charged_what_ran(
    server: LocalLunosServer, client: LunosClient
) -> None:
    request = req("tell me something", max_tokens=50)
    server.enqueue(StreamFault(truncate_before_terminator=True), path="/v1/chat/completions")
    with track_usage(budget_usd=1.0) as usage, pytest.raises(StreamTruncatedError):
        for _ in client.stream_chat(request):
            pass
    assert usage.budget is not None
    ledger = usage.budget.snapshot()["ledgers"]["budget_usd"]
    assert ledger["held"] == 0.0
    assert 0.0 < ledger["spent"] <= worst_case(request)


def test_a_stream_closed_by_the_caller_releases_the_rest(
    server: LocalLunosServer, client: LunosClient
) -> None:
    request = req('Say "one two three four five six seven eight"', max_tokens=50)
    with track_usage(budget_usd=1.0) as usage:
        stream = client.stream_chat(request)
        next(stream)
        next(stream)
        stream.close()  # type: ignore[attr-defined]
        assert usage.budget is not None
        ledger = usage.budget.snapshot()["ledgers"]["budget_usd"]
    assert ledger["held"] == 0.0
    assert 0.0 < ledger["spent"] < worst_case(request)


def test_a_cancelled_call_releases_its_hold(server: LocalLunosServer) -> None:
    from lunos_integrations.testing import Delay

    server.enqueue(Delay(30), path="/v1/chat/completions")

    async def run() -> dict[str, Any]:
        async with make_client(server) as client:
            with track_usage(budget_usd=1.0) as usage:
                task = asyncio.create_task(client.achat(req()))
                for _ in range(2000):  # until the server has the request (a counter)
                    if chat_posts(server):
                        break
                    await asyncio.sleep(0.005)
                assert usage.budget is not None
                held = usage.budget.snapshot()["ledgers"]["budget_usd"]["held"]
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                after = usage.budget.snapshot()["ledgers"]["budget_usd"]
                return {"held_during": held, **after}

    ledger = asyncio.run(run())
    assert ledger["held_during"] == pytest.approx(worst_case(req()))
    assert ledger["held"] == 0.0 and ledger["spent"] == 0.0
