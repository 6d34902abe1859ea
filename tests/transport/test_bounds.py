"""Time and size bounds of the transport, on injected httpx clients (no sockets to wrap).

The socket-level half of the deadline is exercised against real sockets in
``tests/reliability/test_hostile.py``; these tests pin the parts that hold for any httpx
transport: decompression under a cap, typed errors for what cannot be decoded, the loop
deadline, and which stream events count as progress.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from lunos_integrations.config import resolve_config
from lunos_integrations.errors import (
    APIResponseValidationError,
    APITimeoutError,
    ResponseTooLargeError,
    StreamIdleTimeoutError,
)
from lunos_integrations.testing.hostile import gzip_bomb
from lunos_integrations.transport import bodies
from lunos_integrations.transport.deadline import (
    chat_progress,
    messages_progress,
    whole_attempt_seconds,
)
from lunos_integrations.transport.http import Transport

REPLY = {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}


def transport(handler: Any, **config: Any) -> Transport:
    cfg = resolve_config(api_key="sk-test", base_url="http://lunos.test/v1", **config)
    return Transport(cfg, http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def atransport(handler: Any, **config: Any) -> Transport:
    cfg = resolve_config(api_key="sk-test", base_url="http://lunos.test/v1", **config)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return Transport(cfg, http_async_client=client)


def answer(body: bytes, **headers: str) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(body))

    return handler


@pytest.mark.parametrize(
    "encode, name",
    [
        (gzip.compress, "gzip"),
        (zlib.compress, "deflate"),
        (lambda b: zlib.compress(b)[2:-4], "deflate"),  # raw deflate, as some servers send
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw"],
)
def test_compressed_bodies_decode_exactly(encode: Any, name: str) -> None:
    body = json.dumps(REPLY).encode()
    t = transport(answer(encode(body), **{"content-encoding": name}))
    assert t.request("POST", "/chat/completions", body={}).data == REPLY


def test_only_encodings_we_can_cap_are_asked_for_and_accepted() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept-encoding"])
        return httpx.Response(200, headers={"content-encoding": "br"}, content=b"\x0b\x02\x80")

    with pytest.raises(APIResponseValidationError, match=r"Content-Encoding 'br'.*not asked"):
        transport(handler).request("POST", "/chat/completions", body={})
    assert seen == [bodies.ACCEPT_ENCODING]


def test_a_gzip_bomb_is_refused_after_at_most_the_limit() -> None:
    limit = 2 * 1024 * 1024
    t = transport(
        answer(gzip_bomb(64 * limit), **{"content-encoding": "gzip"}), max_response_bytes=limit
    )
    grown: list[int] = []
    original = bodies.BodyReader.add

    def spy(self: bodies.BodyReader, piece: bytes) -> bool:
        grown.append(len(self.buffer) + len(piece))
        return original(self, piece)

    bodies.BodyReader.add = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=2,097,152") as info:
            t.request("POST", "/chat/completions", body={})
    finally:
        bodies.BodyReader.add = original  # type: ignore[method-assign]
    assert info.value.limit == limit
    assert max(grown) <= limit + bodies.PIECE  # never more than one piece past the limit


def test_a_declared_length_above_the_limit_is_refused_before_reading() -> None:
    t = transport(answer(b"x" * 5000, **{"content-length": "5000"}), max_response_bytes=1000)
    with pytest.raises(ResponseTooLargeError, match="after 0 bytes"):
        t.request("POST", "/chat/completions", body={})


def test_corrupt_gzip_is_a_typed_error_naming_the_route() -> None:
    t = transport(answer(b"\x1f\x8b\x08\x00garbage" * 20, **{"content-encoding": "gzip"}))
    with pytest.raises(APIResponseValidationError, match=r"POST /chat/completions.*decompress"):
        t.request("POST", "/chat/completions", body={})


def test_deeply_nested_json_is_a_typed_error() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(APIResponseValidationError, match="nested deeper"):
        transport(answer(deep)).request("POST", "/chat/completions", body={})


def test_a_stream_larger_than_the_limit_is_refused() -> None:
    events = b"".join(
        b'data: {"choices":[{"delta":{"content":"abcdefgh"}}]}\n\n' for _ in range(200)
    )
    t = transport(answer(events, **{"content-type": "text/event-stream"}), max_response_bytes=4000)
    with pytest.raises(ResponseTooLargeError, match="max_response_bytes=4,000"):
        list(t.stream("/chat/completions", {}, kind="chat"))


def test_one_stream_line_may_hold_a_quarter_of_the_limit() -> None:
    line = b"data: " + b"x" * 1500 + b"\n\n"
    t = transport(answer(line, **{"content-type": "text/event-stream"}), max_response_bytes=4000)
    with pytest.raises(ResponseTooLargeError, match="line limit of 1,000") as info:
        list(t.stream("/chat/completions", {}, kind="chat"))
    assert "Raise max_response_bytes" in str(info.value)


class _SlowStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends ``piece`` every ``every`` seconds, ``count`` times, then ``tail``.

    ``sent`` counts the pieces handed over: a bound that cut the body short shows as
    ``sent < count``, whatever the machine's speed, since each piece costs at least
    ``every`` seconds of the body's own sleeping (or, for a flood, megabytes of parsing).
    """

    def __init__(self, piece: bytes, every: float, count: int, tail: bytes = b"") -> None:
        self.piece, self.every, self.count, self.tail = piece, every, count, tail
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.count):
            time.sleep(self.every)
            self.sent += 1
            yield self.piece
        yield self.tail

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            await asyncio.sleep(self.every)
            self.sent += 1
            yield self.piece
        yield self.tail


class slow:
    """A mock-transport handler answering with a :class:`_SlowStream` (kept as ``body``)."""

    def __init__(
        self, piece: bytes, every: float, count: int, tail: bytes = b"", sse: bool = True
    ) -> None:
        self.body = _SlowStream(piece, every, count, tail)
        self.ctype = "text/event-stream" if sse else "application/json"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": self.ctype}, stream=self.body)


@pytest.mark.timeout(20)
def test_keep_alive_comments_do_not_hold_a_stream_open() -> None:
    body = slow(b": ping\n\n", 0.1, 100)  # 10 s of pings
    t = transport(body, timeout=1)
    with pytest.raises(StreamIdleTimeoutError, match=r"made no progress for 1\.0 s"):
        list(t.stream("/chat/completions", {}, kind="chat"))
    assert body.body.sent < 100  # ended by the idle bound, not by the body


@pytest.mark.timeout(20)
def test_empty_choices_chunks_do_not_hold_an_async_stream_open() -> None:
    body = slow(b'data: {"choices":[]}\n\n', 0.1, 100)
    t = atransport(body, stream_idle_timeout=0.5)

    async def run() -> None:
        async for _ in t.astream("/chat/completions", {}, kind="chat"):
            pass

    with pytest.raises(StreamIdleTimeoutError):
        asyncio.run(run())
    assert body.body.sent < 100


@pytest.mark.timeout(20)
def test_progress_events_keep_a_stream_alive_past_the_idle_timeout() -> None:
    chunk = b'data: {"choices":[{"delta":{"content":"a"}}]}\n\n'
    t = transport(slow(chunk, 0.2, 8, b"data: [DONE]\n\n"), stream_idle_timeout=0.5)
    events = list(t.stream("/chat/completions", {}, kind="chat"))  # 1.6 s > 0.5 s idle
    assert len(events) == 8


@pytest.mark.timeout(20)
def test_a_trickled_json_body_ends_at_the_whole_attempt_deadline() -> None:
    body = slow(b" ", 0.1, 100, sse=False)
    t = transport(body, timeout=1)
    with pytest.raises(APITimeoutError, match=r"within timeout=1\.0 s"):
        t.request("POST", "/chat/completions", body={})
    assert body.body.sent < 100


def test_whole_attempt_bound_is_the_largest_phase_limit() -> None:
    assert whole_attempt_seconds(httpx.Timeout(2.0)) == 2.0
    assert whole_attempt_seconds(httpx.Timeout(5.0, connect=1.0, read=30.0)) == 30.0
    assert whole_attempt_seconds(httpx.Timeout(None)) is None


@pytest.mark.parametrize(
    "chunk, progress",
    [
        ({"choices": []}, False),
        ({"choices": [], "usage": {"total_tokens": 3}}, True),
        ({"choices": [{"delta": {"role": "assistant"}}]}, False),
        ({"choices": [{"delta": {"role": "assistant", "content": ""}}]}, False),
        ({"choices": [{"delta": {"content": "x"}}]}, True),
        ({"choices": [{"delta": {"tool_calls": [{"index": 0}]}}]}, True),
        ({"choices": [{"delta": {"reasoning_content": "hmm"}}]}, True),
        ({"choices": [{"delta": {}, "finish_reason": "stop"}]}, True),
        ({"choices": {"0": 1}}, False),
        ([1, 2], False),
    ],
)
def test_chat_progress(chunk: Any, progress: bool) -> None:
    assert chat_progress(chunk) is progress


@pytest.mark.parametrize(
    "name, obj, progress",
    [
        ("ping", {"type": "ping"}, False),
        ("content_block_delta", {"delta": {"type": "text_delta", "text": ""}}, False),
        ("content_block_delta", {"delta": {"type": "text_delta", "text": "x"}}, True),
        ("content_block_delta", {"delta": {"type": "input_json_delta", "partial_json": "{"}}, True),
        ("message_delta", {"delta": {"stop_reason": "end_turn"}}, True),
        ("message_start", {}, True),
        ("message_stop", {}, True),
        ("some_future_event", {}, False),
    ],
)
def test_messages_progress(name: str, obj: Any, progress: bool) -> None:
    assert messages_progress(name, obj) is progress


@pytest.mark.timeout(20)
def test_the_callers_own_time_does_not_count_against_the_idle_timeout() -> None:
    role_only = b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'  # not progress
    rest = b'data: {"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}]}\n\n'
    t = transport(slow(role_only, 0.0, 1, rest + b"data: [DONE]\n\n"), stream_idle_timeout=0.5)
    seen = []
    for event in t.stream("/chat/completions", {}, kind="chat"):
        seen.append(event)
        time.sleep(0.8)  # longer than the idle timeout, but spent by the caller
    assert len(seen) == 2


@pytest.mark.timeout(20)
def test_a_flood_that_keeps_us_busy_parsing_still_ends_at_the_idle_timeout() -> None:
    flood = b": pad\n" * 40_000  # ~240 KB of comments per chunk, sent as fast as read
    body = slow(flood, 0.0, 5000)  # 1.2 GB if read to the end
    t = transport(body, stream_idle_timeout=0.5)
    with pytest.raises(StreamIdleTimeoutError):
        list(t.stream("/chat/completions", {}, kind="chat"))
    assert body.body.sent < 5000
