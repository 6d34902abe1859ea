"""Event streams over real sockets: terminators, truncation, errors, framing, cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lunos_integrations import errors as E
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.scripting import Disconnect, ErrorReply, StreamFault, StreamReply
from lunos_integrations.transport.http import StreamEvent

from .conftest import CHAT_BODY, MakeTransport

STREAM_BODY = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
MESSAGES_BODY = {
    "model": "anthropic/claude-sonnet-4",
    "max_tokens": 200,
    "messages": [{"role": "user", "content": "Say hello"}],
    "stream": True,
}


def text_of(events: list[StreamEvent]) -> str:
    out = []
    for ev in events:
        for choice in ev.data.get("choices") or []:
            out.append(choice["delta"].get("content") or "")
    return "".join(out)


def test_chat_stream_ends_at_done(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    events = list(make_transport().stream("/chat/completions", STREAM_BODY, kind="chat"))
    assert text_of(events)
    assert any(ev.data.get("usage") for ev in events)
    assert lunos_server.requests[-1].headers["accept"] == "text/event-stream"


def test_messages_stream_ends_at_message_stop(make_transport: MakeTransport) -> None:
    events = list(make_transport().stream("/messages", MESSAGES_BODY, kind="messages"))
    names = [ev.event for ev in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert "ping" not in names


@pytest.mark.parametrize(
    "fault",
    [
        StreamFault(split_writes=3, write_pause=0.0005),
        StreamFault(crlf=True),
        StreamFault(comments=True),
        # 1-byte writes split every CRLF; a short pause keeps them separate reads (the
        # default 3 ms per byte made this one case 8 s of the fast tier)
        StreamFault(split_writes=1, write_pause=0.0005, crlf=True, comments=True),
    ],
    ids=["split", "crlf", "comments", "all"],
)
def test_framing_variants_give_identical_events(
    fault: StreamFault, lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    t = make_transport()

    def strip_ids(events: list[StreamEvent]) -> list[Any]:
        return [{k: v for k, v in ev.data.items() if k not in ("id", "created")} for ev in events]

    plain = strip_ids(list(t.stream("/chat/completions", STREAM_BODY, kind="chat")))
    lunos_server.enqueue(fault)
    damaged = strip_ids(list(t.stream("/chat/completions", STREAM_BODY, kind="chat")))
    assert damaged == plain and len(plain) > 3


def test_multibyte_character_split_across_writes(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    frames: list[str | bytes | dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": "héllo ✓ 😀"}}]},
        "[DONE]",
    ]
    lunos_server.enqueue(StreamReply(frames, fault=StreamFault(split_writes=1)))
    events = list(make_transport().stream("/chat/completions", STREAM_BODY, kind="chat"))
    assert text_of(events) == "héllo ✓ 😀"


@pytest.mark.parametrize("kind", ["chat", "messages"])
def test_missing_terminator_raises(
    kind: str, lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(StreamFault(truncate_before_terminator=True))
    path, body = (
        ("/chat/completions", STREAM_BODY) if kind == "chat" else ("/messages", MESSAGES_BODY)
    )
    got: list[StreamEvent] = []
    with pytest.raises(E.StreamTruncatedError, match="terminator"):
        for ev in make_transport().stream(path, body, kind=kind):  # type: ignore[arg-type]
            got.append(ev)
    assert got  # the events before the cut were delivered, then the error


@pytest.mark.parametrize("kind", ["chat", "messages"])
def test_reset_mid_stream_raises_truncated(
    kind: str, lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(StreamFault(disconnect_after_events=2))
    path, body = (
        ("/chat/completions", STREAM_BODY) if kind == "chat" else ("/messages", MESSAGES_BODY)
    )
    with pytest.raises(E.StreamTruncatedError):
        list(make_transport().stream(path, body, kind=kind))  # type: ignore[arg-type]
    assert len(lunos_server.requests) == 1  # never retried once events were delivered


@pytest.mark.parametrize(
    ("kind", "error", "cls"),
    [
        ("chat", {"message": "upstream overloaded", "code": 503}, E.InternalServerError),
        ("messages", {"type": "rate_limit_error", "message": "slow"}, E.RateLimitError),
    ],
)
def test_error_event_mid_stream(
    kind: str,
    error: dict[str, Any],
    cls: type[E.APIStatusError],
    lunos_server: LocalLunosServer,
    make_transport: MakeTransport,
) -> None:
    lunos_server.enqueue(StreamFault(error_event_after=2, error=error))
    path, body = (
        ("/chat/completions", STREAM_BODY) if kind == "chat" else ("/messages", MESSAGES_BODY)
    )
    with pytest.raises(cls, match=str(error["message"])):
        list(make_transport().stream(path, body, kind=kind))  # type: ignore[arg-type]


def test_silence_beyond_idle_timeout(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(StreamFault(idle_after_events=1, idle_seconds=3))
    with pytest.raises(E.StreamIdleTimeoutError, match="stream_idle_timeout"):
        list(
            make_transport(stream_idle_timeout=0.3).stream(
                "/chat/completions", STREAM_BODY, kind="chat"
            )
        )


def test_malformed_event_json_is_an_error_not_skipped(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(StreamReply(['{"choices": [', "[DONE]"]))
    with pytest.raises(E.APIResponseValidationError, match="malformed JSON"):
        list(make_transport().stream("/chat/completions", STREAM_BODY, kind="chat"))


def test_json_answer_to_a_stream_request_is_an_error(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(StreamReply(["{}"], content_type="text/html"))
    with pytest.raises(E.APIResponseValidationError, match="text/event-stream"):
        list(make_transport().stream("/chat/completions", STREAM_BODY, kind="chat"))


def test_stream_retried_before_any_event(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(ErrorReply(503))
    lunos_server.enqueue(Disconnect("before_response"))
    events = list(make_transport().stream("/chat/completions", STREAM_BODY, kind="chat"))
    assert text_of(events)
    assert len(lunos_server.requests) == 3


def test_closing_a_stream_early_closes_the_connection(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    t = make_transport()
    lunos_server.enqueue(StreamFault(idle_after_events=2, idle_seconds=3))
    it = t.stream("/chat/completions", STREAM_BODY, kind="chat")
    next(it)
    it.close()  # type: ignore[attr-defined]
    assert lunos_server.wait_for_disconnects(1, timeout=5)
    # the shared pool is still usable afterwards
    assert t.request("POST", "/chat/completions", body=CHAT_BODY).status_code == 200


def test_cancelling_an_async_stream_closes_the_connection(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    t = make_transport()
    lunos_server.enqueue(StreamFault(idle_after_events=2, idle_seconds=5))

    async def consume(first: asyncio.Event) -> None:
        async for _ in t.astream("/chat/completions", STREAM_BODY, kind="chat"):
            first.set()

    async def main() -> int:
        first = asyncio.Event()
        task = asyncio.create_task(consume(first))
        await asyncio.wait_for(first.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(lunos_server.wait_for_disconnects, 1, 5)
        resp = await t.arequest("POST", "/chat/completions", body=CHAT_BODY)
        return resp.status_code

    assert asyncio.run(main()) == 200


def test_async_stream_truncation_and_success(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    t = make_transport()

    async def collect() -> list[StreamEvent]:
        return [ev async for ev in t.astream("/messages", MESSAGES_BODY, kind="messages")]

    events = asyncio.run(collect())
    assert events[-1].event == "message_stop"
    lunos_server.enqueue(StreamFault(truncate_before_terminator=True))
    with pytest.raises(E.StreamTruncatedError):
        asyncio.run(collect())


def test_content_encoded_stream_is_decoded() -> None:
    """Raw bytes are read only for identity streams; a gzip'd stream goes through httpx."""
    import gzip

    import httpx

    from lunos_integrations.config import resolve_config
    from lunos_integrations.transport.http import Transport

    sse = 'data: {"choices":[{"index":0,"delta":{"content":"zipped"}}]}\n\ndata: [DONE]\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=gzip.compress(sse.encode()),
            headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"},
        )

    client = httpx.Client(transport=httpx.MockTransport(handler))
    cfg = resolve_config(api_key="sk-test-123456", base_url="http://127.0.0.1:9/v1")
    with Transport(cfg, http_client=client) as t:
        events = list(t.stream("/chat/completions", STREAM_BODY, kind="chat"))
    assert text_of(events) == "zipped"
