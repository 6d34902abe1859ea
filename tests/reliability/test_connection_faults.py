"""Broken connections, through both adapters, every mode, call style and route.

Contract: the right answer after retries, or a typed connection error quickly; never a hang
and never a partial answer returned as complete.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from reliability_harness import (
    ALL,
    CLOCK_READS,
    INVOKES,
    PATIENT,
    STREAMS,
    Driver,
    answer_for,
    chat_requests,
    run_matrix,
)

from lunos_integrations.errors import (
    APIConnectionError,
    APITimeoutError,
    IncompleteResponseError,
    StreamTruncatedError,
)
from lunos_integrations.testing import Delay, Disconnect, LocalLunosServer, StreamFault

PROMPT = "ping über the wire"


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("driver", ALL)
async def test_connection_refused_is_a_typed_error_after_retries(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    model = make(driver, base_url=url, max_retries=1, timeout=PATIENT)
    out, elapsed = await driver.timed(model, PROMPT)
    assert isinstance(out, APIConnectionError), out
    assert not isinstance(out, APITimeoutError)
    assert "127.0.0.1" in str(out) and "Could not reach" in str(out)
    assert elapsed < PATIENT / 2  # it failed on the fault, not on the timeout


@pytest.mark.parametrize("driver", ALL)
async def test_reset_before_the_response_is_retried(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    srv.enqueue(Disconnect("before_response", reset=True), path=driver.path)
    model = make(driver)
    out = await driver.ask(model, PROMPT)
    assert out.text == answer_for(PROMPT)
    assert len(chat_requests(srv, driver.path)) == 2


@pytest.mark.parametrize("driver", ALL)
async def test_reset_before_the_response_past_max_retries(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    for _ in range(3):
        srv.enqueue(Disconnect("before_response", reset=True), path=driver.path)
    model = make(driver, max_retries=2, timeout=PATIENT)
    out, elapsed = await driver.timed(model, PROMPT)
    assert isinstance(out, APIConnectionError), out
    assert len(chat_requests(srv, driver.path)) == 3
    assert elapsed < PATIENT / 2  # it failed on the fault, not on the timeout


@pytest.mark.parametrize("reset", [True, False], ids=["rst", "fin"])
@pytest.mark.parametrize("driver", ALL)
async def test_close_after_headers_is_not_an_answer(
    driver: Driver, reset: bool, make: Any, srv: LocalLunosServer
) -> None:
    """Headers said 200, then the connection died before any body byte.

    A stream is not retried (it may have been handed to the caller in part). A non-streamed
    call is sent again (issue 23: the caller was handed nothing and no body had arrived);
    past max_retries it says the server answered and the body was cut.
    """
    srv.enqueue(Disconnect("after_headers", reset=reset), path=driver.path)
    model = make(driver, timeout=PATIENT)
    out, elapsed = await driver.timed(model, PROMPT)
    if driver.is_stream:
        assert isinstance(out, StreamTruncatedError), out
        assert len(chat_requests(srv, driver.path)) == 1
    else:
        assert not isinstance(out, BaseException), out
        assert len(chat_requests(srv, driver.path)) == 2
    srv.enqueue(Disconnect("after_headers", reset=reset), path=driver.path)
    out, _ = await driver.timed(make(driver, max_retries=0), PROMPT)
    assert isinstance(out, APIConnectionError), out
    if not driver.is_stream:
        assert isinstance(out, IncompleteResponseError) and "cut after 0 bytes" in str(out)
    assert elapsed < PATIENT / 2  # it failed on the fault, not on the timeout


@pytest.mark.parametrize("reset", [True, False], ids=["rst", "fin"])
@pytest.mark.parametrize("driver", STREAMS)
async def test_reset_mid_stream_raises_truncated(
    driver: Driver, reset: bool, make: Any, srv: LocalLunosServer
) -> None:
    srv.enqueue(StreamFault(disconnect_after_events=4, reset=reset), path=driver.path)
    model = make(driver)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, StreamTruncatedError), out
    assert "incomplete" in str(out)
    assert len(chat_requests(srv, driver.path)) == 1


async def test_silence_before_the_response_times_out() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        server.enqueue(Delay(30.0), path=driver.path)
        model = make(timeout=1.0, max_retries=0)
        out, elapsed = await driver.timed(model, PROMPT)
        assert isinstance(out, APITimeoutError), out
        assert elapsed >= 1.0 - CLOCK_READS  # not before the timeout (the client's clock)
        # and not after the server's 30 s silence: it never got to answer. (On a loaded
        # machine the request may not even have arrived in 1 s; then there is no record.)
        assert all(r.replied is None for r in chat_requests(server, driver.path))

    await run_matrix(ALL, case)


async def test_timeout_is_retried_then_succeeds() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        server.enqueue(Delay(2.0), path=driver.path)
        model = make(timeout=0.3, max_retries=1)
        out = await driver.ask(model, PROMPT)
        assert out.text == answer_for(PROMPT)
        assert len(chat_requests(server, driver.path)) == 2

    await run_matrix(INVOKES, case)


async def test_sequential_calls_reuse_one_connection() -> None:
    """Keep-alive works for every call style, streams included (one TCP handshake).

    A stream whose body is not read to its end (past the terminator event) cannot go back
    to the pool; this failed for every stream before the transport drained that tail.
    """

    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        model = make()
        await driver.ask(model, "warm up")  # may also fetch the catalog (LunosLLM: sync)
        opened = server.total_connections
        for i in range(4):
            out = await driver.ask(model, f"call {i}")
            assert out.text == answer_for(f"call {i}")
        assert server.total_connections == opened, f"{server.total_connections - opened} more"
        assert server.client_disconnects == 0

    # One driver at a time: the async pool is sharded by load, so calls of *other* drivers
    # in flight (each to its own server) would legitimately steer a call to another shard
    # with no connection to this server yet. With one host, as with Lunos, shards reuse.
    await run_matrix(ALL, case, concurrent=False)
