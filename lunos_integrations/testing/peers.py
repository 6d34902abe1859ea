"""Small raw-socket peers for the transport's connection-level cases (standard library only).

Why apart from :class:`~.server.LocalLunosServer`: these cases live below HTTP semantics,
where an asyncio HTTP server cannot misbehave precisely enough:

* :class:`TinyHTTPServer` answers every request with one JSON body (a chat completion by
  default) and can, on purpose,

  - ``stale=True``: close a kept-alive connection *when its next request arrives*, without
    answering, which is what a client sees when the server's keep-alive expiry races a new
    request (the request was written on a connection that was already dead);
  - ``cut_after=N``: send ``200`` headers with the full ``Content-Length``, then only ``N``
    body bytes, then close;
  - ``ssl_context=...``: speak TLS (a private CA's certificate, made by the test).

* :class:`RefusingProxy` answers every request, ``CONNECT`` included, with ``407 Proxy
  Authentication Required``, and counts them.

Both bind 127.0.0.1 on an ephemeral port, count what they saw, and stop on ``close()``
or at the end of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from typing import Any

__all__ = ["CHAT_COMPLETION", "RefusingProxy", "TinyHTTPServer"]

#: A minimal, valid chat-completions reply.
CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-peer",
    "object": "chat.completion",
    "created": 0,
    "model": "openai/gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "peer says hi"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
}


def _read_request(conn: socket.socket) -> bytes | None:
    """One request's head and body (by Content-Length), or ``None`` at end of stream."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head


class _Peer:
    """Accept loop on a daemon thread; one handler thread per connection."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._conns: list[socket.socket] = []
        #: Connections accepted, and request heads received (first lines), in order.
        self.connections = 0
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                number = self.connections
                self._conns.append(conn)
            threading.Thread(target=self._run, args=(conn, number), daemon=True).start()

    def _run(self, conn: socket.socket, number: int) -> None:
        try:
            if self._ssl is not None:
                try:
                    conn = self._ssl.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # the client refused our certificate: what TLS tests expect
            self.serve(conn, number)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _note(self, head: bytes) -> int:
        with self._lock:
            self.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
            return len(self.requests)

    def serve(self, conn: socket.socket, number: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        self._stopped.set()
        self._sock.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TinyHTTPServer(_Peer):
    """Answers each request with ``body`` as JSON, with the faults in the module docstring."""

    def __init__(
        self,
        body: Any = None,
        *,
        stale: bool = False,
        cut_after: int | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.body = json.dumps(CHAT_COMPLETION if body is None else body).encode()
        self.stale = stale
        self.cut_after = cut_after
        #: Requests that were sent a complete answer.
        self.answered = 0
        super().__init__(ssl_context)

    @property
    def base_url(self) -> str:
        scheme = "https" if self._ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/v1"

    def serve(self, conn: socket.socket, number: int) -> None:
        served_here = 0
        while True:
            head = _read_request(conn)
            if head is None:
                return
            self._note(head)
            if self.stale and served_here >= 1:
                return  # the kept-alive connection dies under the new request, unanswered
            body = self.body
            cut = self.cut_after
            if cut is None:  # counted before sending: the client may read it at once
                with self._lock:
                    self.answered += 1
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n".encode()
                + b"Connection: keep-alive\r\n\r\n"
                + (body if cut is None else body[:cut])
            )
            if cut is not None:
                return
            served_here += 1


class RefusingProxy(_Peer):
    """A proxy that wants credentials it never gets: every request is answered 407."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, conn: socket.socket, number: int) -> None:
        while True:
            head = _read_request(conn)
            if head is None:
                return
            self._note(head)
            conn.sendall(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="peer"\r\nContent-Length: 0\r\n\r\n'
            )
