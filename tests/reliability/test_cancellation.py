"""Cancelling a stream (or closing a sync one early) must close its connection.

Contract: the server sees the client hang up (no orphaned generation burning tokens), the
cancellation propagates as ``CancelledError``, and the model's pool serves the next call.
"""

from __future__ import annotations

import asyncio
from typing import Any

from reliability_harness import ASYNC_STREAMS, SYNC_STREAMS, Driver, answer_for, run_matrix

from lunos_integrations.testing import LocalLunosServer, StreamFault

PROMPT = "a long answer that will be cancelled"


async def _wait_for(predicate: Any, timeout: float = 3.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return bool(predicate())


def _astream(driver: Driver, model: Any, prompt: str) -> Any:
    """The adapter's async stream iterator (created lazily inside the consuming task)."""

    async def items() -> Any:
        if driver.framework == "langchain":
            async for chunk in model.astream(prompt):
                yield chunk
        else:
            from llama_index.core.llms import ChatMessage

            gen = await model.astream_chat([ChatMessage(role="user", content=prompt)])
            async for item in gen:
                yield item

    return items()


async def test_cancelling_astream_closes_the_connection_and_the_pool_stays_usable() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        server.enqueue(StreamFault(idle_after_events=6, idle_seconds=10.0), path=driver.path)
        model = make(timeout=10.0)
        first = asyncio.Event()
        received: list[Any] = []

        async def consume() -> None:
            async for item in _astream(driver, model, PROMPT):
                received.append(item)
                first.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 3.0)
        assert server.open_connections >= 1
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2.0)
        assert task in done, "the cancelled stream did not stop"
        assert task.cancelled(), f"cancellation was swallowed: {task!r}"
        assert await _wait_for(lambda: server.client_disconnects >= 1), "server saw no hang-up"
        # The pool still works: a new call on the same model gets a full answer.
        out = await driver.ask(model, "after the cancel")
        assert out.text == answer_for("after the cancel")
        # The cancelled connection was dropped, not kept: at most the new call's connection
        # (and the catalog's) to this driver's server remain in the shared pool.
        pool = model.client.transport.async_client._transport._pool
        mine = [c for c in pool.connections if f":{server.port}'" in repr(c)]
        assert len(mine) <= 2, pool.connections

    await run_matrix(ASYNC_STREAMS, case)


async def test_closing_a_sync_stream_early_closes_the_connection() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        server.enqueue(StreamFault(idle_after_events=6, idle_seconds=10.0), path=driver.path)
        model = make(timeout=10.0)

        def read_one_then_close() -> None:
            if driver.framework == "langchain":
                gen = model.stream(PROMPT)
            else:
                from llama_index.core.llms import ChatMessage

                gen = model.stream_chat([ChatMessage(role="user", content=PROMPT)])
            next(gen)
            gen.close()

        await asyncio.wait_for(asyncio.to_thread(read_one_then_close), 3.0)
        assert await _wait_for(lambda: server.client_disconnects >= 1), "server saw no hang-up"
        out = await driver.ask(model, "after the close")
        assert out.text == answer_for("after the close")

    await run_matrix(SYNC_STREAMS, case)
