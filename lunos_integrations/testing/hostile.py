"""A raw-socket server that misbehaves on purpose, for testing what a client survives.

:class:`LocalLunosServer` answers like Lunos; this one answers like a broken proxy, an
overloaded gateway or an attacker: it trickles the status line, headers or body a byte at
a time, floods a stream with keep-alive comments and empty events, keeps a body open after
the terminator, sends compression bombs, endless lines, JSON nested 100,000 deep or bytes
that are not UTF-8. It speaks just enough HTTP/1.1 (over a plain socket, so that it can
break framing and timing at will) to be reached by ``base_url``::

    with HostileServer("trickle_headers") as server:
        ChatLunos(base_url=server.base_url, api_key="k", timeout=2).invoke("hi")

It binds 127.0.0.1 on an ephemeral port. Every connection is served by its own daemon
thread that stops by itself: when the client goes away, when the server is closed, or
after ``lifetime`` seconds at the latest, so a test that forgets it cannot hang a run.
``GET .../models`` is always answered correctly (an empty catalog), so clients that look
up a model first reach the misbehaving route.
"""

from __future__ import annotations

import contextlib
import functools
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from types import TracebackType

__all__ = ["CASES", "HostileServer"]

#: Every scripted misbehaviour, by name, with what it does.
CASES: dict[str, str] = {
    "trickle_headers": "status line and headers one byte every 0.5 s, forever",
    "trickle_body": "valid headers, then the body one byte every 0.2 s",
    "huge_slow_body": "a 200 MB body (or one stream line) at 64 KB/s",
    "comment_flood": "stream of ': ping' comments every 0.3 s (JSON: whitespace), never ending",
    "empty_choices_flood": "stream of `choices: []` chunks / Anthropic `ping` events every 0.3 s",
    "open_after_terminator": "a complete answer, then the body kept open with an event every 0.5 s",
    "gzip_bomb": "Content-Encoding: gzip; ~1.6 MB that inflates to 1 GiB",
    "corrupt_gzip": "Content-Encoding: gzip; bytes that are not gzip",
    "huge_line": "one line (JSON body or stream line) of 3x the limit, sent at full speed",
    "deep_nesting": "JSON nested 100,000 deep (200 body, stream event)",
    "deep_error_body": "a 500 error whose JSON body is nested 100,000 deep",
    "invalid_utf8": "bytes that are not UTF-8 inside the answer",
}

_REASONS = {200: "OK", 500: "Internal Server Error"}


class _Gone(Exception):
    """The client closed the connection, or the server is stopping."""


class _Conn:
    """One accepted socket with the pacing helpers the scripts use."""

    def __init__(self, sock: socket.socket, stop: threading.Event, until: float) -> None:
        self.sock = sock
        self.stop = stop
        self.until = until

    def send(self, data: bytes) -> None:
        if self.stop.is_set() or time.monotonic() > self.until:
            raise _Gone
        try:
            self.sock.sendall(data)
        except OSError:
            raise _Gone from None

    def pause(self, seconds: float) -> None:
        if self.stop.wait(seconds) or time.monotonic() > self.until:
            raise _Gone

    def trickle(self, data: bytes, every: float, size: int = 1) -> None:
        for i in range(0, len(data), size):
            self.send(data[i : i + size])
            self.pause(every)

    def forever(self, data: bytes, every: float) -> None:
        while True:
            self.send(data)
            self.pause(every)


# ---------------------------------------------------------------------- valid pieces


def _sse(event: str | None, payload: object) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


def _chat_chunk(delta: dict[str, object], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "model": "hostile/model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def complete_stream(kind: str) -> bytes:
    """A short, valid stream ("Hi") with its terminator, for either route."""
    if kind == "chat":
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return (
            _sse(None, _chat_chunk({"role": "assistant", "content": "Hi"}))
            + _sse(None, _chat_chunk({}, "stop"))
            + _sse(None, {"id": "chatcmpl-hostile", "choices": [], "usage": usage})
            + b"data: [DONE]\n\n"
        )
    message: dict[str, object] = {
        "id": "msg_hostile",
        "type": "message",
        "role": "assistant",
        "model": "hostile/model",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 1, "output_tokens": 0},
    }
    return b"".join(
        [
            _sse("message_start", {"type": "message_start", "message": message}),
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "Hi"},
                },
            ),
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 1},
                },
            ),
            _sse("message_stop", {"type": "message_stop"}),
        ]
    )


def complete_json(kind: str) -> bytes:
    """A short, valid non-streamed answer ("Hi") for either route."""
    if kind == "chat":
        body: dict[str, object] = {
            "id": "chatcmpl-hostile",
            "object": "chat.completion",
            "model": "hostile/model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    else:
        body = {
            "id": "msg_hostile",
            "type": "message",
            "role": "assistant",
            "model": "hostile/model",
            "content": [{"type": "text", "text": "Hi"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    return json.dumps(body).encode()


def _head(
    status: int = 200, ctype: str = "application/json", length: int | None = None, **extra: str
) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Type: {ctype}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    lines.extend(f"{name.replace('_', '-')}: {value}" for name, value in extra.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _deep(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


@functools.lru_cache(maxsize=4)
def gzip_bomb(inflated: int = 1 << 30, line: bytes = b": pad\n") -> bytes:
    """A gzip member of ``inflated`` bytes made of ``line`` repeated, built in ~0.5 s.

    One MiB block is deflated once and ended with a full flush (which resets the deflate
    history), so its compressed form can simply be repeated; the trailer's CRC and size
    are computed for the whole inflated length, so the member is valid gzip.
    """
    block = (line * (1024 * 1024 // len(line) + 1))[: 1024 * 1024]
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = c.compress(block) + c.flush(zlib.Z_FULL_FLUSH)
    count = max(1, inflated // len(block))
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    # b"\x03\x00": an empty final block with fixed codes, then CRC-32 and size (mod 2**32).
    trailer = b"\x03\x00" + struct.pack("<II", crc, (count * len(block)) & 0xFFFFFFFF)
    return header + piece * count + trailer


# ---------------------------------------------------------------------- the scripts


Script = Callable[[_Conn, str, bool, int], None]


def _trickle_headers(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    head = _head(200, "text/event-stream" if stream else "application/json")
    conn.trickle(head * 1000, 0.5)


def _trickle_body(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    if stream:
        conn.send(_head(200, "text/event-stream"))
        conn.trickle(complete_stream(kind), 0.2)
    else:
        body = complete_json(kind) + b" " * 10_000
        conn.send(_head(200, length=len(body)))
        conn.trickle(body, 0.2)


def _huge_slow_body(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    size, step = 200_000_000, 64 * 1024
    if stream:
        conn.send(_head(200, "text/event-stream") + b"data: ")
    else:
        conn.send(_head(200, length=size) + b'{"pad": "')
    filler = b"x" * step
    for _ in range(size // step):
        conn.send(filler)
        conn.pause(1.0)


def _comment_flood(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    if not stream:  # keep-alive whitespace before a JSON body, as some proxies send
        conn.send(_head(200))
        conn.forever(b" ", 0.3)
    conn.send(_head(200, "text/event-stream"))
    conn.forever(b": ping\n\n", 0.3)


def _empty_choices_flood(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    if not stream:
        conn.send(_head(200))
        conn.forever(b"\n", 0.3)
    conn.send(_head(200, "text/event-stream"))
    if kind == "chat":
        event = _sse(None, {"id": "chatcmpl-hostile", "choices": []})
    else:
        event = _sse("ping", {"type": "ping"})
    conn.forever(event, 0.3)


def _open_after_terminator(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    if not stream:  # the complete JSON, then a body that never ends (no Content-Length)
        conn.send(_head(200) + complete_json(kind))
        conn.forever(b" ", 0.5)
    conn.send(_head(200, "text/event-stream") + complete_stream(kind))
    conn.forever(b": still here\n\n" if kind == "chat" else _sse("ping", {"type": "ping"}), 0.5)


def _gzip_bomb(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    inflated = 1 << 30 if limit >= 128 << 20 else max(4 * limit, 1 << 20)
    if stream:
        body = gzip_bomb(inflated, b": pad\n")
        conn.send(_head(200, "text/event-stream", len(body), Content_Encoding="gzip"))
    else:
        body = gzip_bomb(inflated, b"          ")  # whitespace: still "not done" JSON
        conn.send(_head(200, length=len(body), Content_Encoding="gzip"))
    conn.trickle(body, 0.0, 64 * 1024)


def _corrupt_gzip(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"this is not deflate data" * 10
    ctype = "text/event-stream" if stream else "application/json"
    conn.send(_head(200, ctype, len(body), Content_Encoding="gzip") + body)


def _huge_line(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    size, step = 3 * limit, 256 * 1024
    if stream:
        conn.send(_head(200, "text/event-stream") + b"data: ")
    else:
        conn.send(_head(200, length=size + 2) + b'"')
    filler = b"x" * step
    for _ in range(size // step + 1):
        conn.send(filler)


def _deep_nesting(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    if stream:
        conn.send(_head(200, "text/event-stream") + b"data: " + _deep() + b"\n\n")
        conn.pause(30)
    body = _deep()
    conn.send(_head(200, length=len(body)) + body)


def _deep_error_body(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    body = b'{"error": ' + _deep() + b"}"
    conn.send(_head(500, length=len(body)) + body)


def _invalid_utf8(conn: _Conn, kind: str, stream: bool, limit: int) -> None:
    if stream:
        text = complete_stream(kind).replace(b"Hi", b"H\xff\xfei", 1)
        conn.send(_head(200, "text/event-stream") + text)
        conn.pause(30)
    body = complete_json(kind).replace(b"Hi", b"H\xff\xfei", 1)
    conn.send(_head(200, length=len(body)) + body)


_SCRIPTS: dict[str, Script] = {
    "trickle_headers": _trickle_headers,
    "trickle_body": _trickle_body,
    "huge_slow_body": _huge_slow_body,
    "comment_flood": _comment_flood,
    "empty_choices_flood": _empty_choices_flood,
    "open_after_terminator": _open_after_terminator,
    "gzip_bomb": _gzip_bomb,
    "corrupt_gzip": _corrupt_gzip,
    "huge_line": _huge_line,
    "deep_nesting": _deep_nesting,
    "deep_error_body": _deep_error_body,
    "invalid_utf8": _invalid_utf8,
}


# ---------------------------------------------------------------------- the server


def _read_request(sock: socket.socket) -> tuple[str, str, bytes] | None:
    """``(method, path, body)`` of one request, or ``None`` if the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1 << 20:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return method, path, body


class HostileServer:
    """Serve one scripted misbehaviour (a name from :data:`CASES`) to every chat request.

    ``limit`` is the client's ``max_response_bytes``, which the size cases scale to (a
    bomb inflates to at least 4x it, an endless line is 3x it). ``requests`` counts the
    chat requests received (so a test can see retries).
    """

    def __init__(self, case: str, *, limit: int = 256 << 20, lifetime: float = 60.0) -> None:
        if case not in _SCRIPTS:
            raise ValueError(f"unknown case {case!r}; known: {sorted(_SCRIPTS)}")
        self.case = case
        self.limit = limit
        self.lifetime = lifetime
        self.requests = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> HostileServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=2.0)
        if self._listener is not None:
            self._listener.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="hostile-server")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                sock, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._spawn(self._serve, sock)

    def _serve(self, sock: socket.socket) -> None:
        conn = _Conn(sock, self._stop, time.monotonic() + self.lifetime)
        try:
            sock.settimeout(5.0)
            request = _read_request(sock)
            if request is None:
                return
            method, path, body = request
            if method == "GET" and path.rstrip("/").endswith("/models"):
                catalog = b'{"object": "list", "data": []}'
                conn.send(_head(200, length=len(catalog)) + catalog)
                return
            with self._lock:
                self.requests += 1
            kind = "messages" if path.rstrip("/").endswith("/messages") else "chat"
            try:
                stream = bool(json.loads(body or b"{}").get("stream"))
            except ValueError:
                stream = False
            _SCRIPTS[self.case](conn, kind, stream, self.limit)
        except (_Gone, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()
