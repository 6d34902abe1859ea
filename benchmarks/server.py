"""A fast Lunos-compatible server for benchmarks, run in its own process.

Why not :class:`lunos_integrations.testing.LocalLunosServer` directly: that server rebuilds
every reply with the fake model and drains the socket after every SSE frame, so at 500
concurrent requests it, not the client under test, becomes the bottleneck. This server
answers with exactly the same bytes (it asks the same ``Router`` on the first request of each
distinct shape) but caches the encoded reply, so a repeat costs a dictionary lookup and one
``transport.write``. It runs in a separate process, so none of its CPU is charged to the
client being measured.

``--hold S`` makes every stream pause ``S`` seconds after its first event, so that a batch of
streams started together is really open at the same time (the peak-RSS measurement).

Run: ``python -m benchmarks.server --port 0`` prints ``BASE_URL=<url> API_KEY=<key>``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from typing import Any

from lunos_integrations.testing import catalog as catalog_mod
from lunos_integrations.testing.http11 import LAST_CHUNK, HTTPRequest, chunk, response_head
from lunos_integrations.testing.routes import Reply, Router

API_KEY = "sk-lunos-bench"
MAX_CACHE = 4096
_MAX_HEAD = 64 * 1024


class _Encoded:
    """A reply encoded once: the whole response, or a stream split after its first event."""

    __slots__ = ("first", "rest")

    def __init__(self, first: bytes, rest: bytes) -> None:
        self.first = first
        self.rest = rest


def _encode(reply: Reply) -> _Encoded:
    headers: list[tuple[str, str]] = []
    if reply.frames is None:
        ctype = reply.content_type
        if ctype == "application/json":
            ctype = "application/json; charset=utf-8"
        headers = [("Content-Type", ctype), ("Content-Length", str(len(reply.body)))]
    else:
        headers = [
            ("Content-Type", reply.content_type),
            ("Transfer-Encoding", "chunked"),
            ("Cache-Control", "no-cache"),
        ]
    headers.append(("Connection", "keep-alive"))
    headers.append(("Server", "lunos-bench"))
    headers.extend(reply.headers.items())
    head = response_head(reply.status, headers)
    if reply.frames is None:
        return _Encoded(head + reply.body, b"")
    frames = [chunk(frame.encode()) for frame in reply.frames]
    first = head + (frames[0] if frames else b"")
    return _Encoded(first, b"".join(frames[1:]) + LAST_CHUNK)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; requests are answered in order."""

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self._close()
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            body = self.buffer[end + 4 : total]
            self.buffer = self.buffer[total:]
            encoded = self.server.reply_for(method, target, headers, body)
            assert self.transport is not None
            if self.transport.is_closing():
                return
            if encoded.rest and self.server.hold > 0:
                self.transport.write(encoded.first)
                self.busy = True
                loop = asyncio.get_running_loop()
                loop.call_later(self.server.hold, self._finish_held, encoded.rest)
                return
            self.transport.write(encoded.first + encoded.rest if encoded.rest else encoded.first)

    def _finish_held(self, rest: bytes) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(rest)
        self._process()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class BenchServer:
    """Answers like the local Lunos server, from a cache of encoded replies."""

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.router = Router(
            api_key=API_KEY,
            require_auth=True,
            report_cost=False,
            catalog_shape="data",
            strict_parameters=False,
            models=catalog_mod.default_models(),
            balance=10.0,
        )
        self._cache: dict[tuple[Any, ...], _Encoded] = {}

    def reply_for(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Encoded:
        key = (method, target, headers.get("authorization"), headers.get("x-api-key"), body)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        path, _, query_text = target.partition("?")
        query = dict(part.partition("=")[::2] for part in query_text.split("&") if part)
        request = HTTPRequest(
            method=method.upper(),
            target=target,
            path=path,
            query=query,
            version="HTTP/1.1",
            headers=headers,
            body=body,
        )
        encoded = _encode(self.router.handle(request))
        if len(self._cache) >= MAX_CACHE:
            self._cache.clear()
        self._cache[key] = encoded
        return encoded


async def serve(port: int, hold: float) -> None:
    bench = BenchServer(hold=hold)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Connection(bench), "127.0.0.1", port, backlog=4096, reuse_address=True
    )
    bound = server.sockets[0].getsockname()[1]
    print(f"BASE_URL=http://127.0.0.1:{bound}/v1 API_KEY={API_KEY}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--hold", type=float, default=0.0, help="pause streams after 1 event")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.hold))
    return 0


if __name__ == "__main__":
    sys.exit(main())
