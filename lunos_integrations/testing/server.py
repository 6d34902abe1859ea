"""``LocalLunosServer``: a real HTTP/1.1 Lunos-compatible server on 127.0.0.1.

Why a real socket server (not a mocked transport): retries, timeouts, connection pooling,
stream cancellation and SSE parsing only get tested for real when the client talks TCP.
The server runs an asyncio event loop in a daemon thread, so it serves many concurrent
keep-alive connections and long-lived SSE streams cheaply, and works from sync and async
tests alike.

Usage::

    with LocalLunosServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=server.api_key)
        client.chat.completions.create(model="openai/gpt-4o", messages=[...])
        assert server.requests[-1].json["model"] == "openai/gpt-4o"

    # Anthropic SDK: base_url=server.root_url (the SDK appends /v1/messages)

Every request is recorded (:class:`RecordedRequest`). Scripted faults are queued with
:meth:`LocalLunosServer.enqueue` (see :mod:`lunos_integrations.testing.scripting`).
Connection statistics (``open_connections``, ``total_connections``, ``client_disconnects``)
let tests prove that a cancelled stream really closed its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import itertools
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from . import catalog as catalog_mod
from .http11 import LAST_CHUNK, BadRequest, HTTPRequest, chunk, read_request, response_head
from .records import RecordedRequest
from .replies import chat_error_frame, messages_error_frame
from .routes import Reply, Router, error_reply, json_reply, stream_kind_for
from .scripting import (
    Action,
    Delay,
    Disconnect,
    ErrorReply,
    JSONReply,
    RawReply,
    Script,
    StreamFault,
    StreamReply,
    error_envelope,
)
from .sse import SSEFrame, comment_frame, frame_from_user
from .throttle import Throttle

_POLL = 0.02
#: Number of the connection the current handler task serves (see RecordedRequest).
_CONNECTION: contextvars.ContextVar[int] = contextvars.ContextVar("lunos_connection", default=0)
_log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(data: bytes, size: int, split_multibyte: bool) -> list[bytes]:
    """Cut ``data`` every ``size`` bytes and, optionally, after each UTF-8 lead byte."""
    cuts = set(range(size, len(data), size))
    if split_multibyte:
        cuts.update(i + 1 for i, byte in enumerate(data) if byte >= 0xC0)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


class _ClientGone(Exception):
    """The client closed the connection before the response was complete."""


class LocalLunosServer:
    """A Lunos-compatible HTTP server for tests, bound to a loopback address.

    Args:
        api_key: the only accepted key.
        require_auth: reject requests without the key (401) when true.
        report_cost: add ``usage.cost`` (USD, after discount) to chat replies.
        catalog_shape: ``"array"``, ``"data"`` or ``"data_models"`` wrapper for /v1/models.
        strict_parameters: 400 for chat parameters not in the model's ``supportedParameters``.
        strict_openai_types: refuse chat messages the way llama-cpp-python's server does
            (``content: null`` and other non-string, non-list content; see ``strict_types``).
        host: loopback address to bind (non-loopback hosts are refused).
        port: 0 picks a free port.
        models: replacement catalog (defaults to :func:`catalog.default_models`).
        balance: value reported by ``GET /v1/balance``.
        catalog_profile: how ``/v1/models`` and parameter rejections behave
            (:data:`catalog.CATALOG_PROFILES`: ``"full"``, ``"documented"``, ``"strict"``,
            ``"none"``, ``"slow"``, ``"unauthorized"``).
        catalog_delay: seconds the ``"slow"`` profile takes to answer ``/v1/models``.
        interrupt_streams: behave like llama-cpp-python's server (``interrupt_requests``,
            on by default there): any request that arrives while a stream is being sent
            ends that stream at once with its terminator and no finish reason.
        throttle: refuse model calls like a throttling gateway (token bucket, in-flight
            cap, outage; see :mod:`.throttle`), counting what it admitted and refused.
    """

    def __init__(
        self,
        api_key: str = "sk-lunos-local-test",
        require_auth: bool = True,
        report_cost: bool = False,
        catalog_shape: catalog_mod.CatalogShape = "data",
        strict_parameters: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        models: Sequence[Mapping[str, Any]] | None = None,
        balance: float = 10.5,
        strict_openai_types: bool = False,
        catalog_profile: catalog_mod.CatalogProfile = "full",
        catalog_delay: float = 2.0,
        interrupt_streams: bool = False,
        throttle: Throttle | None = None,
    ) -> None:
        self.throttle = throttle
        self._request_ids = itertools.count(1)
        self._connection_ids = itertools.count(1)
        if not _is_loopback(host):
            raise ValueError(f"LocalLunosServer only binds loopback addresses, not {host!r}")
        self._host = host
        self._requested_port = port
        self._port: int | None = None
        self.router = Router(
            api_key=api_key,
            require_auth=require_auth,
            report_cost=report_cost,
            catalog_shape=catalog_shape,
            strict_parameters=strict_parameters,
            models=catalog_mod.default_models() if models is None else models,
            balance=balance,
            strict_openai_types=strict_openai_types,
            catalog_profile=catalog_profile,
            catalog_delay=catalog_delay,
        )
        self.script = Script()
        self._records: list[RecordedRequest] = []
        self._stats = threading.Condition()
        self._open = 0
        self._total = 0
        self._disconnects = 0
        self.interrupt_streams = interrupt_streams
        #: Requests received so far (read by streams to notice one arriving, see above).
        self._arrivals = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ public properties

    @property
    def api_key(self) -> str:
        return self.router.api_key

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("server is not started")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (for the Anthropic SDK, which appends ``/v1/...``)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (for the OpenAI SDK and OpenAI-style clients)."""
        return self.root_url + "/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        return list(self._records)

    @property
    def open_connections(self) -> int:
        with self._stats:
            return self._open

    @property
    def total_connections(self) -> int:
        with self._stats:
            return self._total

    @property
    def client_disconnects(self) -> int:
        """Requests whose client went away before the response was finished."""
        with self._stats:
            return self._disconnects

    def enqueue(self, action: Action, path: str | None = None) -> None:
        """Queue a scripted action for the next request (to ``path`` only, if given)."""
        self.script.add(action, path)

    def reset(self) -> None:
        """Clear recorded requests, the script, connection counters and prompt-cache state.

        ``open_connections`` is left alone: it describes sockets that really are open.
        """
        self._records.clear()
        self.script.clear()
        self.router.reset()
        with self._stats:
            self._total = 0
            self._disconnects = 0

    def wait_for_disconnects(self, n: int, timeout: float = 5.0) -> bool:
        """Block until ``client_disconnects >= n``; False if ``timeout`` passes first."""
        with self._stats:
            return self._stats.wait_for(lambda: self._disconnects >= n, timeout)

    def wait_for_open_connections(self, n: int, timeout: float = 5.0) -> bool:
        """Block until ``open_connections == n``; False if ``timeout`` passes first."""
        with self._stats:
            return self._stats.wait_for(lambda: self._open == n, timeout)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalLunosServer:
        """Start serving in a background thread; returns ``self`` once the port is bound."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def bind() -> None:
            self._server = await asyncio.start_server(
                self._handle_connection,
                self._host,
                self._requested_port,
                backlog=4096,
                limit=1024 * 1024,
                reuse_address=True,
            )
            self._port = int(self._server.sockets[0].getsockname()[1])

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(bind())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="LocalLunosServer", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            self._loop = None
            raise failure[0]
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every open connection, then end the loop thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._loop = None
        self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)

    def __enter__(self) -> LocalLunosServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LocalLunosServer:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------------ stats helpers

    def _bump(self, *, opened: int = 0, total: int = 0, disconnects: int = 0) -> None:
        with self._stats:
            self._open += opened
            self._total += total
            self._disconnects += disconnects
            self._stats.notify_all()

    # ------------------------------------------------------------------ connection handling

    async def _handle_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._bump(opened=1, total=1)
        _CONNECTION.set(next(self._connection_ids))  # this task serves one connection
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        aborted = False
        try:
            while True:
                try:
                    request = await read_request(reader, writer)
                except BadRequest as exc:
                    reply = error_reply(400, f"Malformed HTTP request: {exc}", "bad_request")
                    await self._send_body(writer, reply, keep_alive=False, fault=None)
                    break
                if request is None:
                    break
                keep, aborted = await self._serve(request, reader, writer)
                if not keep:
                    break
        except (ConnectionError, _ClientGone, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            aborted = True  # server shutdown: drop the socket at once
            writer.transport.abort()
            # End quietly instead of re-raising: on Python 3.11 asyncio's stream callback
            # calls task.exception() on a cancelled handler task, which logs a CancelledError
            # traceback for every keep-alive connection open at stop().
            return
        except Exception:  # a bug in the fake: log it, never kill the event loop
            _log.exception("LocalLunosServer connection handler failed")
        finally:
            if not aborted:
                with contextlib.suppress(Exception):
                    writer.close()
            self._bump(opened=-1)
            if task is not None:
                self._tasks.discard(task)

    def _record(
        self, request: HTTPRequest, action: Action | None, connection: int
    ) -> RecordedRequest:
        parsed: Any = None
        if request.body:
            try:
                parsed = json.loads(request.body)
            except (ValueError, UnicodeDecodeError):
                parsed = None
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=request.body,
            json=parsed,
            action=action,
            connection=connection,
            arrived=time.monotonic(),
            arrived_wall=time.time(),
        )
        self._records.append(record)
        return record

    async def _serve(
        self, request: HTTPRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[bool, bool]:
        """Answer one request; returns (keep the connection, connection was aborted)."""
        action = self.script.pop_for(request.path, request.method)
        record = self._record(request, action, _CONNECTION.get())
        self._arrivals += 1
        keep_alive = request.keep_alive
        delay = action.delay if action is not None else 0.0
        delay += self.router.catalog_delay_for(request)
        if isinstance(action, Delay):
            delay += action.seconds
        gate = self.throttle.enter(request.method, request.headers) if self.throttle else None
        try:
            if gate is not None:  # a throttling gateway's answer comes first
                if (no := gate.refusal) is not None:
                    refused = error_reply(no.status, no.message, no.code)
                    refused.headers.update(no.headers)
                    await self._send_body(writer, refused, keep_alive, None)
                    return keep_alive, False
                delay += gate.service_time
            if delay > 0:
                await self._sleep_watching(reader, writer, delay)
            fault = action if isinstance(action, StreamFault) else None
            if isinstance(action, Disconnect):
                if action.when == "after_headers":
                    reply = self._safe_handle(request)
                    writer.write(self._head(reply, keep_alive))
                    await writer.drain()
                self._drop(writer, action.reset)
                return False, True
            if isinstance(action, StreamReply):
                reply = Reply(
                    status=action.status,
                    content_type=action.content_type,
                    headers=dict(action.headers),
                    frames=[frame_from_user(e) for e in action.events],
                    kind=stream_kind_for(request.path),
                )
                fault = action.fault
            elif isinstance(action, (JSONReply, ErrorReply, RawReply)):
                reply = self._scripted_reply(action)
            else:
                reply = self._safe_handle(request)
            if reply.frames is not None:
                outcome = await self._send_stream(reader, writer, reply, keep_alive, fault)
            else:
                await self._send_body(writer, reply, keep_alive, fault)
                outcome = keep_alive, False
            record.replied = time.monotonic()
            return outcome
        except _ClientGone:
            record.gone = time.monotonic()
            self._bump(disconnects=1)
            return False, False
        except (ConnectionError, OSError):
            self._bump(disconnects=1)
            return False, True
        finally:
            if gate is not None:
                gate.leave()

    def _safe_handle(self, request: HTTPRequest) -> Reply:
        try:
            return self.router.handle(request)
        except Exception as exc:  # a bug in the fake must still produce an HTTP answer
            return error_reply(500, f"LocalLunosServer internal error: {exc!r}", "server_error")

    @staticmethod
    def _scripted_reply(action: JSONReply | ErrorReply | RawReply) -> Reply:
        if isinstance(action, RawReply):
            return Reply(
                status=action.status,
                body=action.body,
                content_type=action.content_type,
                headers=dict(action.headers),
            )
        if isinstance(action, ErrorReply):
            body = action.body if action.body is not None else error_envelope(action.status)
            return json_reply(action.status, body, action.headers)
        return json_reply(action.status, action.body, action.headers)

    # ------------------------------------------------------------------ writing

    def _head(self, reply: Reply, keep_alive: bool) -> bytes:
        headers: list[tuple[str, str]] = [("Content-Type", reply.content_type)]
        if reply.frames is not None:
            headers.append(("Transfer-Encoding", "chunked"))
            headers.append(("Cache-Control", "no-cache"))
        else:
            headers.append(("Content-Length", str(len(reply.body))))
        headers.append(("Connection", "keep-alive" if keep_alive else "close"))
        headers.append(("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())))
        headers.append(("Server", "LocalLunosServer"))
        # Real gateways tag responses for support tickets; clients surface it as request_id.
        headers.append(("x-request-id", f"req_local_{next(self._request_ids)}"))
        lower = {name.lower() for name, _ in headers}
        for name, value in reply.headers.items():
            if name.lower() in lower:
                headers = [(n, v) for n, v in headers if n.lower() != name.lower()]
            headers.append((name, value))
        return response_head(reply.status, headers)

    async def _send_body(
        self,
        writer: asyncio.StreamWriter,
        reply: Reply,
        keep_alive: bool,
        fault: StreamFault | None,
    ) -> None:
        data = self._head(reply, keep_alive) + reply.body
        await self._write(writer, data, fault)

    async def _write(
        self,
        writer: asyncio.StreamWriter,
        data: bytes,
        fault: StreamFault | None,
        reader: asyncio.StreamReader | None = None,
    ) -> None:
        if writer.is_closing():
            raise _ClientGone
        size = fault.split_writes if fault is not None else None
        if not size or size <= 0:
            writer.write(data)
            await writer.drain()
            return
        assert fault is not None
        for piece in _split(data, size, fault.split_multibyte):
            if writer.is_closing() or (reader is not None and reader.at_eof()):
                raise _ClientGone
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(fault.write_pause)

    async def _send_stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        reply: Reply,
        keep_alive: bool,
        fault: StreamFault | None,
    ) -> tuple[bool, bool]:
        frames: list[SSEFrame] = list(reply.frames or [])
        fault = fault or StreamFault()
        if fault.truncate_before_terminator:
            while frames and frames[-1].terminator:
                frames.pop()
        if fault.error_event_after is not None:
            frames = frames[: fault.error_event_after]
            frames.append(self._error_frame(reply.kind, fault.error))
        await self._write(writer, self._head(reply, keep_alive), fault)
        arrivals = self._arrivals
        for index, frame in enumerate(frames):
            if self.interrupt_streams and self._arrivals != arrivals and not frame.terminator:
                continue  # another request came in: straight to the terminator
            if fault.disconnect_after_events is not None and index >= fault.disconnect_after_events:
                self._drop(writer, fault.reset)
                return False, True
            if fault.idle_after_events is not None and index == fault.idle_after_events:
                await self._sleep_watching(reader, writer, fault.idle_seconds)
            self._check_client(reader, writer)
            payload = b""
            if fault.comments:
                payload += comment_frame(crlf=fault.crlf)
            payload += frame.encode(crlf=fault.crlf)
            await self._write(writer, chunk(payload), fault, reader)
        if fault.idle_after_events is not None and fault.idle_after_events >= len(frames):
            await self._sleep_watching(reader, writer, fault.idle_seconds)
        self._check_client(reader, writer)
        await self._write(writer, LAST_CHUNK, fault)
        return keep_alive, False

    @staticmethod
    def _error_frame(kind: str, error: Mapping[str, Any] | None) -> SSEFrame:
        if kind == "messages":
            return messages_error_frame(
                error or {"type": "overloaded_error", "message": "Overloaded"}
            )
        body = error or error_envelope(500, "Upstream provider error during streaming")["error"]
        return chat_error_frame(body)

    @staticmethod
    def _check_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if reader.at_eof() or writer.is_closing():
            raise _ClientGone

    async def _sleep_watching(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seconds: float
    ) -> None:
        """Sleep, but notice (and raise :class:`_ClientGone`) if the client hangs up."""
        deadline = time.monotonic() + seconds
        while True:
            self._check_client(reader, writer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(_POLL, remaining))

    @staticmethod
    def _drop(writer: asyncio.StreamWriter, reset: bool) -> None:
        """Close the connection: RST (``SO_LINGER`` 0 + abort) or a normal FIN."""
        transport = writer.transport
        if reset:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            writer.close()
