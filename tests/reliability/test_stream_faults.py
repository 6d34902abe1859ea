"""Damaged and oddly framed streams (and split JSON answers), through both adapters.

Contract: every legal framing gives exactly the undamaged answer; every damaged stream
raises a typed error; no stream ever hangs past its idle timeout.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from reliability_harness import (
    ALL,
    STREAMS,
    Driver,
    answer_for,
    chat_requests,
    run_matrix,
)

from lunos_integrations.errors import (
    APIStatusError,
    InternalServerError,
    RateLimitError,
    StreamIdleTimeoutError,
    StreamTruncatedError,
)
from lunos_integrations.testing import LocalLunosServer, StreamFault, StreamReply

PROMPT = "stream me a story"
#: Many multi-byte characters (2, 3 and 4 bytes) so several land on read boundaries.
UNICODE_PROMPT = "héllo wörld — 世界 你好 🚀🌍 ünïcødé ✓ ½ € 𝄞 ok"


@pytest.mark.parametrize("driver", STREAMS)
async def test_missing_terminator_is_truncation(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    srv.enqueue(StreamFault(truncate_before_terminator=True), path=driver.path)
    model = make(driver)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, StreamTruncatedError), out
    assert "terminator" in str(out)
    assert len(chat_requests(srv, driver.path)) == 1


ERROR_EVENTS = {
    "server_error": (None, InternalServerError, ("Upstream provider error", "Overloaded")),
    "rate_limit": (
        {"type": "rate_limit_error", "code": 429, "message": "Too many tokens mid-stream"},
        RateLimitError,
        ("Too many tokens mid-stream",),
    ),
}


@pytest.mark.parametrize("kind", list(ERROR_EVENTS))
@pytest.mark.parametrize("after", [0, 3], ids=["first", "mid"])
@pytest.mark.parametrize("driver", STREAMS)
async def test_error_event_in_the_stream_is_a_typed_error(
    driver: Driver, kind: str, after: int, make: Any, srv: LocalLunosServer
) -> None:
    error, cls, phrases = ERROR_EVENTS[kind]
    srv.enqueue(StreamFault(error_event_after=after, error=error), path=driver.path)
    model = make(driver)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, cls), repr(out)
    assert isinstance(out, APIStatusError)
    assert any(p in str(out) for p in phrases), str(out)
    # A 200 stream is never retried: the server already started answering.
    assert len(chat_requests(srv, driver.path)) == 1


FRAMINGS = {
    "comments": StreamFault(comments=True),
    "crlf": StreamFault(crlf=True),
    "crlf_and_comments": StreamFault(crlf=True, comments=True),
}


@pytest.mark.parametrize("framing", list(FRAMINGS))
@pytest.mark.parametrize("driver", STREAMS)
async def test_legal_framings_give_the_exact_answer(
    driver: Driver, framing: str, make: Any, srv: LocalLunosServer
) -> None:
    srv.enqueue(FRAMINGS[framing], path=driver.path)
    model = make(driver)
    out = await driver.ask(model, PROMPT)
    assert out.text == answer_for(PROMPT)
    assert out.chunks > 3  # it really streamed


@pytest.mark.parametrize("driver", ALL)
async def test_json_split_across_tcp_writes(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    """Every event (and a whole JSON answer) arrives in 7-byte pieces."""
    srv.enqueue(StreamFault(split_writes=7, write_pause=0.0003), path=driver.path)
    model = make(driver)
    out = await driver.ask(model, PROMPT)
    assert out.text == answer_for(PROMPT)


@pytest.mark.parametrize("driver", ALL)
async def test_multibyte_characters_split_across_writes(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    """Each multi-byte UTF-8 character arrives in two reads (cut after its first byte)."""
    fault = StreamFault(split_writes=4096, split_multibyte=True, write_pause=0.0003)
    srv.enqueue(fault, path=driver.path)
    model = make(driver)
    out = await driver.ask(model, UNICODE_PROMPT)
    assert out.text == answer_for(UNICODE_PROMPT)
    assert "\ufffd" not in out.text


async def test_silence_beyond_the_idle_timeout() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        server.enqueue(StreamFault(idle_after_events=3, idle_seconds=5.0), path=driver.path)
        model = make(stream_idle_timeout=0.3, timeout=10.0)
        out, _ = await driver.timed(model, PROMPT)
        assert isinstance(out, StreamIdleTimeoutError), repr(out)
        assert "0.3" in str(out)
        # The client hung up; the server must see it (no stream left running), and it saw
        # it during its 5 s of silence, so the client did not wait for the silence to end.
        assert await _wait(lambda: server.client_disconnects >= 1), "server saw no disconnect"
        [sent] = chat_requests(server, driver.path)
        assert sent.replied is None and sent.gone is not None

    await run_matrix(STREAMS, case)


async def test_silence_within_the_idle_timeout_is_fine() -> None:
    async def case(driver: Driver, server: LocalLunosServer, make: Any) -> None:
        server.enqueue(StreamFault(idle_after_events=3, idle_seconds=0.3), path=driver.path)
        model = make(stream_idle_timeout=1.5, timeout=10.0)
        out = await driver.ask(model, PROMPT)
        assert out.text == answer_for(PROMPT)

    await run_matrix(STREAMS, case)


def _chat_chunks(texts: list[str]) -> list[Any]:
    return [
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "openai/gpt-4o",
            "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}],
        }
        for t in texts
    ]


def _messages_events(texts: list[str]) -> list[Any]:
    start = {
        "type": "message_start",
        "message": {
            "id": "m1",
            "type": "message",
            "role": "assistant",
            "model": "anthropic/claude-sonnet-4",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        },
    }
    events: list[Any] = [
        "event: message_start\ndata: " + _json(start),
        "event: content_block_start\ndata: "
        + _json(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        ),
    ]
    for t in texts:
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": t},
        }
        events.append("event: content_block_delta\ndata: " + _json(delta))
    events.append('event: message_stop\ndata: {"type": "message_stop"}')
    return events


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj)


@pytest.mark.parametrize("driver", STREAMS)
async def test_terminator_without_finish_reason_is_not_complete(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    texts = ["The answer ", "is cut"]
    if driver.api == "messages":
        events = _messages_events(texts)
    else:
        events = [*_chat_chunks(texts), "[DONE]"]
    srv.enqueue(StreamReply(events), path=driver.path)
    model = make(driver)
    out, _ = await driver.timed(model, PROMPT)
    assert isinstance(out, StreamTruncatedError), f"partial answer returned: {out!r}"


async def _wait(predicate: Any, timeout: float = 3.0) -> bool:
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return bool(predicate())
