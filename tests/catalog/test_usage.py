"""track_usage(): totals across threads, asyncio tasks and streams; nesting; per app."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lunos_integrations import track_usage
from lunos_integrations.client import LunosClient
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.usage import UsageTracker
from lunos_integrations.wire.types import ChatRequest, EmbeddingRequest, Message

from .conftest import make_client


def _req(model: str = "openai/gpt-4o", text: str = "count my tokens") -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", text)])


def test_totals_match_the_sum_of_calls(client: LunosClient) -> None:
    with track_usage() as usage:
        a = client.chat(_req("openai/gpt-4o"))
        b = client.chat(_req("openai/o3-mini", "think about it"))
    assert a.usage is not None and b.usage is not None
    assert usage.requests == 2
    assert usage.input_tokens == a.usage.input_tokens + b.usage.input_tokens
    assert usage.output_tokens == a.usage.output_tokens + b.usage.output_tokens
    assert usage.reasoning_tokens == b.usage.reasoning_tokens > 0
    assert usage.total_cost == pytest.approx(a.usage.cost + b.usage.cost)  # type: ignore[operator]
    assert usage.cost_complete
    assert usage.by_model["openai/o3-mini"].requests == 1
    assert usage.by_model["openai/gpt-4o"].output_tokens == a.usage.output_tokens


def test_nothing_recorded_outside_the_block(client: LunosClient) -> None:
    with track_usage() as usage:
        pass
    client.chat(_req())
    assert usage.requests == 0


def test_cached_tokens_and_per_app(lunos_server: LocalLunosServer) -> None:
    system = Message("system", "You are a careful assistant with a long shared prompt.")
    with (
        make_client(lunos_server, app_id="billing-v2") as billing,
        make_client(lunos_server, app_id="web") as web,
        track_usage() as usage,
    ):
        for client in (billing, billing, web):
            client.chat(
                ChatRequest(model="openai/gpt-4o", messages=[system, Message("user", "hi")])
            )
    assert usage.by_app["billing-v2"].requests == 2
    assert usage.by_app["web"].requests == 1
    assert usage.cached_tokens > 0  # the fake server caches a repeated system prompt


def test_streams_count_exactly_once(client: LunosClient) -> None:
    with track_usage() as usage:
        deltas = list(client.stream_chat(_req(text="stream a few words please")))
    reported = [d.usage for d in deltas if d.usage is not None]
    assert len(reported) == 1
    assert usage.requests == 1
    assert usage.output_tokens == reported[0].output_tokens
    assert usage.total_cost == pytest.approx(reported[0].cost)


async def test_async_streams_count_once(client: LunosClient) -> None:
    async with track_usage() as usage:
        first = [d async for d in client.astream_chat(_req(text="async stream"))]
        async for _ in client.astream_chat(_req("anthropic/claude-sonnet-4"), api="messages"):
            pass
    assert usage.requests == 2
    assert usage.by_model["openai/gpt-4o"].output_tokens == next(
        d.usage.output_tokens for d in first if d.usage is not None
    )


def test_messages_route_stream_counts_once(client: LunosClient) -> None:
    with track_usage() as usage:
        list(client.stream_chat(_req("anthropic/claude-sonnet-4"), api="messages"))
    assert usage.requests == 1 and usage.input_tokens > 0 and usage.output_tokens > 0


def test_threads_with_copied_context_add_up(client: LunosClient) -> None:
    with track_usage() as usage:
        ctx = contextvars.copy_context

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(ctx().run, client.chat, _req()) for _ in range(16)]
            results = [f.result() for f in futures]
    assert usage.requests == 16
    assert usage.output_tokens == sum(r.usage.output_tokens for r in results if r.usage)


def test_thread_without_context_is_not_attributed(client: LunosClient) -> None:
    with track_usage() as usage:
        t = threading.Thread(target=client.chat, args=(_req(),))
        t.start()
        t.join(30)
    assert usage.requests == 0


async def test_concurrent_tasks_attribute_to_their_own_tracker(client: LunosClient) -> None:
    async def job(n: int) -> UsageTracker:
        async with track_usage() as mine:
            await asyncio.gather(*(client.achat(_req()) for _ in range(n)))
            return mine

    async with track_usage() as outer:
        a, b = await asyncio.gather(job(3), job(5))
    assert (a.requests, b.requests, outer.requests) == (3, 5, 8)


async def test_a_tracker_in_one_task_does_not_count_another_tasks_calls(
    client: LunosClient,
) -> None:
    """Two sibling tasks interleave their calls; each tracker sees only its own task's."""
    started = asyncio.Event()

    async def tracked() -> UsageTracker:
        with track_usage() as mine:  # the sync form, entered inside the task
            started.set()
            for _ in range(2):
                await client.achat(_req())
                await asyncio.sleep(0)
            return mine

    async def untracked() -> None:
        await started.wait()
        for _ in range(3):
            await client.achat(_req())
            await asyncio.sleep(0)

    mine, _ = await asyncio.gather(tracked(), untracked())
    assert mine.requests == 2


def test_nested_trackers_both_receive(client: LunosClient) -> None:
    with track_usage() as outer:
        client.chat(_req())
        with track_usage() as inner:
            client.chat(_req())
        client.chat(_req())
    assert (outer.requests, inner.requests) == (3, 1)


def test_embeddings_are_tracked(client: LunosClient) -> None:
    with track_usage() as usage:
        client.embed(EmbeddingRequest(model="openai/text-embedding-3-small", input=["a", "b"]))
    assert usage.by_model["openai/text-embedding-3-small"].requests == 1
    assert usage.total_cost > 0


def test_unknown_cost_is_flagged_not_zeroed() -> None:
    from lunos_integrations.wire.types import Usage

    tracker = UsageTracker()
    tracker.record("x/y", None, Usage(input_tokens=5, output_tokens=5, cost=None))
    tracker.record("x/z", None, Usage(input_tokens=5, output_tokens=5, cost=0.5))
    assert tracker.unpriced_requests == 1 and not tracker.cost_complete
    assert tracker.total_cost == 0.5
    assert "incomplete" in str(tracker)
    assert tracker.snapshot()["by_model"]["x/y"]["unpriced_requests"] == 1
