"""Scripted replies and stream faults, asserted on what a real client sees on the wire."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from lunos_integrations.testing import (
    Delay,
    Disconnect,
    ErrorReply,
    JSONReply,
    LocalLunosServer,
    RawReply,
    StreamFault,
    StreamReply,
)

CHAT = "/chat/completions"
LONG = "Please stream a reasonably long answer with snowmen ☃☃☃ and accents éèê " * 3


def chat_body(text: str = "hi", stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o",
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
        **extra,
    }


def messages_body(text: str = "hi", stream: bool = False) -> dict[str, Any]:
    return {
        "model": "anthropic/claude-sonnet-4",
        "max_tokens": 100,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


def sse_events(raw: bytes) -> list[str]:
    """Split an SSE body into event blocks (either line ending)."""
    text = raw.decode("utf-8").replace("\r\n", "\n")
    return [block for block in text.split("\n\n") if block]


# ------------------------------------------------------------------------------------ replies


def test_json_reply_and_action_is_recorded(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    action = JSONReply({"hello": "world"}, status=201, headers={"X-Custom": "1"})
    lunos_server.enqueue(action)
    r = http.post(CHAT, json=chat_body())
    assert (r.status_code, r.json(), r.headers["x-custom"]) == (201, {"hello": "world"}, "1")
    assert lunos_server.requests[-1].action is action
    # queue empty again → the fake model answers
    assert http.post(CHAT, json=chat_body()).json()["object"] == "chat.completion"
    assert lunos_server.requests[-1].action is None


def test_error_reply_default_envelope_and_retry_headers(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    lunos_server.enqueue(ErrorReply(429, headers={"Retry-After": "1"}))
    lunos_server.script.add(
        ErrorReply(503, body={"success": False, "message": "down", "error": "INTERNAL_ERROR"})
    )
    r = http.post(CHAT, json=chat_body())
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.json() == {
        "error": {
            "code": "rate_limit_exceeded",
            "message": "Rate limit exceeded",
            "type": "rate_limit_error",
        }
    }
    r2 = http.post(CHAT, json=chat_body())
    assert (r2.status_code, r2.json()["error"]) == (503, "INTERNAL_ERROR")


def test_openai_sdk_retries_scripted_429_then_succeeds(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(ErrorReply(429, headers={"retry-after-ms": "10"}))
    client = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=1
    )
    completion = client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "again"}]
    )
    assert completion.choices[0].message.content == "Hello! You said: again"
    assert [type(r.action).__name__ for r in lunos_server.requests] == ["ErrorReply", "NoneType"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "text/html"),
        (b'{"error": {"message": "trunc', "application/json"),
        (b"", "application/json"),
        (b"plain words", "text/plain"),
    ],
)
def test_raw_reply(
    http: httpx.Client, lunos_server: LocalLunosServer, body: bytes, content_type: str
) -> None:
    lunos_server.enqueue(RawReply(502, body=body, content_type=content_type))
    r = http.post(CHAT, json=chat_body())
    assert r.status_code == 502
    assert r.content == body
    assert r.headers["content-type"] == content_type


def test_path_filter_and_fifo_order(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(ErrorReply(500), path="/v1/embeddings")
    lunos_server.enqueue(ErrorReply(401), path="/chat/completions")  # /v1 prefix optional
    lunos_server.enqueue(ErrorReply(402))
    lunos_server.enqueue(ErrorReply(503), path="/models")
    assert http.post(CHAT, json=chat_body()).status_code == 401
    # GET look-ups never take path-less actions (clients fetch the catalog on their own)
    assert http.get("/models").status_code == 503
    assert http.get("/models").status_code == 200
    embed = {"model": "openai/text-embedding-3-small", "input": "x"}
    assert http.post("/embeddings", json=embed).status_code == 500
    assert http.post("/embeddings", json=embed).status_code == 402
    assert http.post("/embeddings", json=embed).status_code == 200
    assert lunos_server.script.pending() == []


def test_stream_reply_items_and_frames(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(
        StreamReply(
            [
                {"a": 1},
                "plain payload",
                'event: custom\ndata: {"b": 2}\n\n',
                b": a comment\n\n",
                "data: [DONE]",
            ]
        )
    )
    with http.stream("POST", CHAT, json=chat_body(stream=True)) as r:
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["transfer-encoding"] == "chunked"
        raw = r.read()
    assert sse_events(raw) == [
        'data: {"a":1}',
        "data: plain payload",
        'event: custom\ndata: {"b": 2}',
        ": a comment",
        "data: [DONE]",
    ]


def test_stream_reply_with_fault(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    events: list[str | bytes | dict[str, Any]] = [{"n": 1}, {"n": 2}, "[DONE]"]
    lunos_server.enqueue(
        StreamReply(events, fault=StreamFault(truncate_before_terminator=True, crlf=True))
    )
    raw = http.post(CHAT, json=chat_body(stream=True)).content
    assert raw == b'data: {"n":1}\r\n\r\ndata: {"n":2}\r\n\r\n'


# ------------------------------------------------------------------------------------ disconnects


def _raw_request(port: int, body: dict[str, Any]) -> socket.socket:
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        b"sk-lunos-local-test\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(data)).encode()
        + b"\r\n\r\n"
        + data
    )
    return sock


def test_disconnect_before_response_reset_is_an_rst(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(Disconnect(reset=True))
    with _raw_request(lunos_server.port, chat_body()) as sock, pytest.raises(ConnectionResetError):
        sock.recv(1024)


def test_disconnect_before_response_close_is_a_fin(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(Disconnect(reset=False))
    with _raw_request(lunos_server.port, chat_body()) as sock:
        assert sock.recv(1024) == b""


@pytest.mark.parametrize("reset", [True, False])
def test_disconnect_before_response_with_httpx(
    lunos_server: LocalLunosServer, http: httpx.Client, reset: bool
) -> None:
    lunos_server.enqueue(Disconnect("before_response", reset=reset))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        http.post(CHAT, json=chat_body())
    assert http.post(CHAT, json=chat_body()).status_code == 200  # a new connection works


@pytest.mark.parametrize("stream", [True, False])
def test_disconnect_after_headers(
    lunos_server: LocalLunosServer, http: httpx.Client, stream: bool
) -> None:
    lunos_server.enqueue(Disconnect("after_headers"))
    with http.stream("POST", CHAT, json=chat_body(stream=stream)) as r:
        assert r.status_code == 200
        expected = "text/event-stream" if stream else "application/json"
        assert r.headers["content-type"].startswith(expected)
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            r.read()


# ------------------------------------------------------------------------------------ delays


def test_delay_and_delay_field(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(Delay(0.3))
    lunos_server.enqueue(ErrorReply(500, delay=0.3))
    start = time.monotonic()
    assert http.post(CHAT, json=chat_body()).status_code == 200
    middle = time.monotonic()
    assert http.post(CHAT, json=chat_body()).status_code == 500
    end = time.monotonic()
    assert middle - start >= 0.3
    assert end - middle >= 0.3


def test_client_timeout_during_delay_counts_a_disconnect(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(Delay(5))
    with httpx.Client(timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        client.post(
            lunos_server.base_url + CHAT,
            json=chat_body(),
            headers={"Authorization": f"Bearer {lunos_server.api_key}"},
        )
    assert lunos_server.wait_for_disconnects(1, timeout=3)
    assert lunos_server.wait_for_open_connections(0, timeout=3)


# ------------------------------------------------------------------------------------ faults


def test_fault_disconnect_after_events(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(StreamFault(disconnect_after_events=3))
    seen: list[str] = []
    with (
        pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)),
        http.stream("POST", CHAT, json=chat_body(LONG, stream=True)) as r,
    ):
        for line in r.iter_lines():
            if line:
                seen.append(line)
    assert len(seen) == 3
    assert all(line.startswith("data: {") for line in seen)


def test_fault_disconnect_after_events_fin(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    lunos_server.enqueue(StreamFault(disconnect_after_events=2, reset=False))
    with (
        http.stream("POST", CHAT, json=chat_body(stream=True)) as r,
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
    ):
        r.read()


def test_fault_disconnect_seen_by_openai_sdk(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(StreamFault(disconnect_after_events=4))
    client = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=0
    )
    got: list[str] = []
    # mid-stream transport errors surface as httpx errors (the SDK does not wrap them)
    with pytest.raises((openai.APIConnectionError, httpx.TransportError)):
        for chunk in client.chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": LONG}], stream=True
        ):
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "Hello! You s"  # role chunk + three 4-character pieces


@pytest.mark.parametrize(
    ("path", "body", "terminator", "last"),
    [
        (CHAT, chat_body(stream=True), "data: [DONE]", '"finish_reason":"stop"'),
        ("/messages", messages_body(stream=True), "event: message_stop", "event: message_delta"),
    ],
)
def test_fault_truncate_before_terminator(
    lunos_server: LocalLunosServer,
    http: httpx.Client,
    path: str,
    body: dict[str, Any],
    terminator: str,
    last: str,
) -> None:
    full = sse_events(http.post(path, json=body).content)
    assert full[-1].startswith(terminator)
    lunos_server.enqueue(StreamFault(truncate_before_terminator=True))
    r = http.post(path, json=body)  # the HTTP body itself completes cleanly
    truncated = sse_events(r.content)
    assert len(truncated) == len(full) - 1
    assert not any(event.startswith(terminator) for event in truncated)
    assert last in truncated[-1]
    assert http.post(path, json=body).status_code == 200  # keep-alive connection still usable


def test_fault_error_event_chat(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(StreamFault(error_event_after=2))
    events = sse_events(http.post(CHAT, json=chat_body(stream=True)).content)
    assert len(events) == 3
    error = json.loads(events[2].removeprefix("data: "))
    assert error["error"]["type"] == "server_error"
    assert error["error"]["message"]

    lunos_server.enqueue(StreamFault(error_event_after=1))
    client = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=0
    )
    with pytest.raises(openai.APIError, match="Upstream provider error"):
        list(
            client.chat.completions.create(
                model="openai/gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )


def test_fault_error_event_messages(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(StreamFault(error_event_after=1))
    events = sse_events(http.post("/messages", json=messages_body(stream=True)).content)
    assert events[0].startswith("event: message_start")
    assert events[1] == (
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        '"message":"Overloaded"}}'
    )
    lunos_server.enqueue(StreamFault(error_event_after=3))
    client = anthropic.Anthropic(
        base_url=lunos_server.root_url, api_key=lunos_server.api_key, max_retries=0
    )
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        client.messages.stream(
            model="anthropic/claude-sonnet-4",
            max_tokens=50,
            messages=[{"role": "user", "content": "x"}],
        ) as stream,
    ):
        stream.get_final_message()


def test_fault_idle_triggers_read_timeout_and_disconnect(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(StreamFault(idle_after_events=2, idle_seconds=10))
    lines: list[str] = []
    client = httpx.Client(timeout=httpx.Timeout(5.0, read=0.3))
    with (
        client,
        pytest.raises(httpx.ReadTimeout),
        client.stream(
            "POST",
            lunos_server.base_url + CHAT,
            json=chat_body(stream=True),
            headers={"Authorization": f"Bearer {lunos_server.api_key}"},
        ) as r,
    ):
        lines.extend(line for line in r.iter_lines() if line)
    assert len(lines) == 2
    assert lunos_server.wait_for_disconnects(1, timeout=3)


def test_fault_idle_then_continues(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(StreamFault(idle_after_events=1, idle_seconds=0.4))
    stamps: list[float] = []
    with http.stream("POST", CHAT, json=chat_body(stream=True)) as r:
        for line in r.iter_lines():
            if line:
                stamps.append(time.monotonic())
    assert stamps[1] - stamps[0] >= 0.35
    assert len(stamps) > 3


def test_fault_split_writes_splits_utf8_across_reads(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    text = "snow ☃ and é"
    normal = http.post(CHAT, json=chat_body(text, stream=True)).content
    lunos_server.enqueue(StreamFault(split_writes=7, write_pause=0.001))
    pieces: list[bytes] = []
    with http.stream("POST", CHAT, json=chat_body(text, stream=True)) as r:
        pieces.extend(r.iter_raw())
    assert len(pieces) > 20
    joined = b"".join(pieces)
    assert [
        json.loads(e.removeprefix("data: "))["choices"][0]["delta"].get("content")
        for e in sse_events(joined)[:-1]
    ] == [
        json.loads(e.removeprefix("data: "))["choices"][0]["delta"].get("content")
        for e in sse_events(normal)[:-1]
    ]
    undecodable = 0
    for piece in pieces:
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0, "some read must end inside a multi-byte UTF-8 character"


def test_fault_split_writes_on_json_reply_and_sdk_still_parses(
    lunos_server: LocalLunosServer,
) -> None:
    lunos_server.enqueue(StreamFault(split_writes=50, write_pause=0.001))
    lunos_server.enqueue(StreamFault(split_writes=3, write_pause=0.001))
    client = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=0
    )
    one = client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "☃ json"}]
    )
    assert one.choices[0].message.content == "Hello! You said: ☃ json"
    chunks = list(
        client.chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "☃ sse"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! You said: ☃ sse"


def test_fault_crlf_and_comments(lunos_server: LocalLunosServer, http: httpx.Client) -> None:
    lunos_server.enqueue(StreamFault(crlf=True, comments=True))
    raw = http.post(CHAT, json=chat_body(stream=True)).content
    assert raw.startswith(b": keep-alive\r\n\r\ndata: {")
    assert raw.endswith(b": keep-alive\r\n\r\ndata: [DONE]\r\n\r\n")
    assert b"\n\n" not in raw.replace(b"\r\n", b"")

    lunos_server.enqueue(StreamFault(crlf=True, comments=True))
    client = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=0
    )
    chunks = list(
        client.chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "crlf"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! You said: crlf"

    lunos_server.enqueue(StreamFault(crlf=True, comments=True))
    ant = anthropic.Anthropic(
        base_url=lunos_server.root_url, api_key=lunos_server.api_key, max_retries=0
    )
    with ant.messages.stream(
        model="anthropic/claude-sonnet-4",
        max_tokens=50,
        messages=[{"role": "user", "content": "crlf"}],
    ) as stream:
        assert stream.get_final_text() == "Hello! You said: crlf"


# ------------------------------------------------------------------------------------ cancel


def test_closing_a_stream_early_closes_the_connection(lunos_server: LocalLunosServer) -> None:
    """Cancelling mid-stream must reach the server as a disconnect (no leaked connection)."""
    lunos_server.enqueue(StreamFault(split_writes=64, write_pause=0.01))
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "POST",
            lunos_server.base_url + CHAT,
            json=chat_body(LONG * 3, stream=True),
            headers={"Authorization": f"Bearer {lunos_server.api_key}"},
        ) as r,
    ):
        for line in r.iter_lines():
            if line:
                break  # leave after the first event; the server is still writing
    assert lunos_server.wait_for_disconnects(1, timeout=5)
    assert lunos_server.wait_for_open_connections(0, timeout=5)


def test_openai_sdk_stream_close_is_seen_by_server(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(StreamFault(idle_after_events=2, idle_seconds=30))
    client = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=0
    )
    stream = client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
    )
    next(iter(stream))
    stream.close()
    assert lunos_server.wait_for_disconnects(1, timeout=5)
    assert lunos_server.client_disconnects == 1
