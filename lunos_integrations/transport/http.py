"""The HTTP transport: auth, headers, retries, error mapping and event streams.

Both frameworks send every request through :class:`Transport`. It knows HTTP and the two
stream framings (chat-completions ``data: [DONE]`` and Anthropic ``event: message_stop``),
but nothing about chat semantics, which live in :mod:`lunos_integrations.wire`.

Sync and async paths share every decision (what to retry, how to read an event, which
error to raise); only the lines that do I/O differ.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx

from ..errors import (
    WireFormatError,
)
from ..observe import NO_OBSERVATION, Observation
from . import bodies, deadline, failures, http_lib
from .attempts import USER_AGENT, TransportBase
from .deadline import Budget
from .governor import BACKOFF
from .http_lib import HTTP_ERRORS, TRANSPORT_ERRORS
from .redirects import redirected
from .replies import (
    JSONResponse,
    StreamEvent,
    check_stream_response,
    connection_error,
    decode_json_body,
    request_id_of,
)
from .retry import should_retry_status
from .sse import SSEParser
from .stream_state import StreamKind, StreamState

__all__ = ["USER_AGENT", "JSONResponse", "StreamEvent", "StreamKind", "Transport"]

logger = logging.getLogger("lunos_integrations")

_monotonic = time.monotonic


class Transport(TransportBase):
    """Sends requests for one :class:`LunosConfig`, over shared connection pools.

    Retries, the rate governor's gate and the call's observers meet in the send loops
    below, once per attempt; what an attempt is built from is :class:`TransportBase`'s.
    ``http_client`` / ``http_async_client`` may be injected (httpx or httpx2 clients, used
    as they are and never closed by us; see :mod:`.http_lib`).
    """

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ sync

    def _send_sync(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        stream: bool,
        budget: Budget,
        observation: Observation = NO_OBSERVATION,
    ) -> httpx.Response:
        """Send with retries; returns an open 2xx response whose body is not read yet.

        Each attempt must get its status line and headers within ``budget`` (restarted per
        attempt; the waits between attempts are not part of it).
        """
        client = self.sync_client
        # Built (and the body JSON-encoded) once: a request with bytes content can be sent
        # again as it is, so retries only re-send; a redirect's request replaces it for that
        # attempt only.
        original = self._build(client, method, path, body, params, headers, stream)
        attempt, gate = 0, self._gate(original, body, budget)
        budget.stale_retried = False
        while True:
            request = original
            if observation:  # may refuse (a budget) before a byte of this attempt is sent
                observation.on_attempt(attempt, request.headers)
            gate.admit()  # every attempt, first or retry, passes the key's governor
            started = time.perf_counter()
            token = deadline.enter(failures.fresh_attempt(budget.start()))
            try:
                response = client.send(request, stream=True, follow_redirects=False)
                hops = 0
                while response.is_redirect:
                    response.close()
                    request = redirected(request, response, hops)
                    hops += 1
                    response = client.send(request, stream=True, follow_redirects=False)
            except TRANSPORT_ERRORS as exc:
                self._log(method, path, type(exc).__name__, attempt, started)
                try:
                    resend = failures.send_failed(exc, budget, self.url(path), self.config)
                except BaseException:
                    gate.cancelled()  # refused as it is (TLS, 407): nothing for the governor
                    raise
                if resend:  # a stale pooled connection: the request never reached the server
                    gate.cancelled()
                    continue
                retry = gate.failed(attempt < self.config.max_retries)
                if not retry:
                    raise connection_error(exc, self.url(path)) from exc
                if retry == BACKOFF:  # not while the key is down: the governor holds it
                    time.sleep(self._retry_wait(attempt, None))
                attempt += 1
                continue
            except BaseException:
                gate.cancelled()
                raise
            finally:
                deadline.leave(token)
            self._log(method, path, response.status_code, attempt, started)
            if observation:
                observation.on_response(attempt, response.status_code, response.headers)
            retry = gate.answered(response, attempt < self.config.max_retries)
            if response.status_code < 400:
                response.extensions["lunos_waited"] = gate.waited
                if observation and gate.waited:
                    observation.on_rate_limit_wait(gate.waited)
                return response
            reader = self._error_reader(response, budget, method, path)
            deadline.attach(response, budget)
            try:
                content = bytes(bodies.read_body(reader))
            except http_lib.HTTP_OR_LUNOS_ERRORS:
                content = bytes(reader.buffer)
            finally:
                deadline.attach(response, None)
                response.close()
            if (
                retry
                and attempt < self.config.max_retries
                and should_retry_status(response.status_code, response.headers)
            ):
                if retry == BACKOFF:  # a 429 or a down key: the governor paces and holds
                    time.sleep(self._retry_wait(attempt, response.headers))
                attempt += 1
                continue
            raise self._status_error(response, content)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        observation: Observation = NO_OBSERVATION,
    ) -> JSONResponse:
        """Send one JSON request (with retries) and decode the JSON answer.

        Each attempt, body included, ends within the timeout; the body may hold at most
        ``max_response_bytes`` once decompressed.
        """
        budget = self._budget()
        cuts = 0
        while True:
            response = self._send_sync(
                method, path, body, params, headers, False, budget, observation
            )
            deadline.attach(response, budget)
            reader = None
            try:
                reader = self._body_reader(response, budget, method, path)
                content = bodies.read_body(reader)
                break
            except HTTP_ERRORS as exc:
                if reader is None:
                    raise
                if failures.resend_cut(exc, method, reader, cuts, self.config.max_retries):
                    cuts += 1
                    time.sleep(self._retry_wait(cuts - 1, None))
                    continue
                raise self._read_failed(exc, budget, method, path, reader) from exc
            finally:
                deadline.attach(response, None)
                response.close()
        data = decode_json_body(response, content, self._secrets)
        return JSONResponse(
            response.status_code,
            data,
            response.headers,
            request_id_of(response.headers),
            response.extensions.get("lunos_waited", 0.0),
        )

    def stream(
        self,
        path: str,
        body: Any,
        *,
        kind: StreamKind,
        headers: Mapping[str, str] | None = None,
        observation: Observation = NO_OBSERVATION,
    ) -> Iterator[StreamEvent]:
        """Yield decoded events of an SSE stream until its terminator.

        Raises :class:`StreamTruncatedError` when the stream ends early,
        :class:`StreamIdleTimeoutError` when it goes silent, and the typed status error
        when an error event arrives. Closing the iterator early closes the connection.
        """
        budget = self._budget()
        response = self._send_sync("POST", path, body, None, headers, True, budget, observation)
        state = StreamState(kind, request_id_of(response.headers), f"POST {path}", self._secrets)
        parser = SSEParser(max_line=self._line_limit)
        idle, limit = self._idle_seconds, self._limit
        # From the headers on, the budget is the progress clock: it restarts on each event
        # that moves the answer on, and each socket read waits at most what is left of it.
        budget.start(idle, f"stream_idle_timeout={idle} s")
        deadline.attach(response, budget)
        try:
            check_stream_response(response)
            seen = 0
            try:
                chunks = bodies.body_chunks(response, state.route)
                for chunk in chunks:
                    seen += len(chunk)
                    if seen > limit:
                        raise bodies.too_large(state.route, limit, seen)
                    away, moved = 0.0, False
                    for ev in parser.feed(chunk):
                        out = state.decode(ev)
                        if out is not None:
                            if state.progress:
                                moved = True
                                yield out  # the clock restarts after this chunk anyway
                            else:  # the caller's time on it is not the server's
                                began = _monotonic()
                                yield out
                                away += _monotonic() - began
                        if state.finished:
                            bodies.drain(chunks, budget)
                            return
                    if budget.tick(away, moved):  # restart on progress, else check
                        raise state.idle(idle)
            except TRANSPORT_ERRORS as exc:
                raise state.broken(exc, idle) from exc
            except WireFormatError as exc:
                raise state.invalid(exc) from None
            for ev in state.end(parser):
                out = state.decode(ev)
                if out is not None:
                    yield out
            if not state.finished:
                raise state.truncated("the connection closed")
        finally:
            deadline.attach(response, None)
            response.close()

    # ------------------------------------------------------------------ async

    async def _send_async(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        stream: bool,
        budget: Budget,
        observation: Observation = NO_OBSERVATION,
    ) -> httpx.Response:
        # Built (and the body JSON-encoded) once: a request with bytes content can be sent
        # again as it is, so retries only re-send; a redirect's request replaces it for that
        # attempt only.
        original = self._build(client, method, path, body, params, headers, stream)
        attempt, gate = 0, self._gate(original, body, budget)
        budget.stale_retried = False
        while True:
            request = original
            if observation:  # may refuse (a budget) before a byte of this attempt is sent
                observation.on_attempt(attempt, request.headers)
            await gate.aadmit()  # every attempt, first or retry, passes the key's governor
            started = time.perf_counter()
            token = deadline.enter(failures.fresh_attempt(budget.start()))
            try:
                response = await client.send(request, stream=True, follow_redirects=False)
                hops = 0
                while response.is_redirect:
                    await response.aclose()
                    request = redirected(request, response, hops)
                    hops += 1
                    response = await client.send(request, stream=True, follow_redirects=False)
            except TRANSPORT_ERRORS as exc:
                self._log(method, path, type(exc).__name__, attempt, started)
                try:
                    resend = failures.send_failed(exc, budget, self.url(path), self.config)
                except BaseException:
                    gate.cancelled()  # refused as it is (TLS, 407): nothing for the governor
                    raise
                if resend:  # a stale pooled connection: the request never reached the server
                    gate.cancelled()
                    continue
                retry = gate.failed(attempt < self.config.max_retries)
                if not retry:
                    raise connection_error(exc, self.url(path)) from exc
                if retry == BACKOFF:  # not while the key is down: the governor holds it
                    await asyncio.sleep(self._retry_wait(attempt, None))
                attempt += 1
                continue
            except BaseException:
                gate.cancelled()
                raise
            finally:
                deadline.leave(token)
            self._log(method, path, response.status_code, attempt, started)
            if observation:
                observation.on_response(attempt, response.status_code, response.headers)
            retry = gate.answered(response, attempt < self.config.max_retries)
            if response.status_code < 400:
                response.extensions["lunos_waited"] = gate.waited
                if observation and gate.waited:
                    observation.on_rate_limit_wait(gate.waited)
                return response
            reader = self._error_reader(response, budget, method, path)
            deadline.attach(response, budget)
            try:
                content = bytes(await bodies.aread_body(reader))
            except http_lib.HTTP_OR_LUNOS_ERRORS:
                content = bytes(reader.buffer)
            finally:
                deadline.attach(response, None)
                await response.aclose()
            if (
                retry
                and attempt < self.config.max_retries
                and should_retry_status(response.status_code, response.headers)
            ):
                if retry == BACKOFF:  # a 429 or a down key: the governor paces and holds
                    await asyncio.sleep(self._retry_wait(attempt, response.headers))
                attempt += 1
                continue
            raise self._status_error(response, content)

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        observation: Observation = NO_OBSERVATION,
    ) -> JSONResponse:
        client, release = self._acquire_async()
        budget = self._budget()
        cuts = 0
        try:
            while True:
                response = await self._send_async(
                    client, method, path, body, params, headers, False, budget, observation
                )
                deadline.attach(response, budget)
                reader = None
                try:
                    reader = self._body_reader(response, budget, method, path)
                    content = await bodies.aread_body(reader)
                    break
                except HTTP_ERRORS as exc:
                    if reader is None:
                        raise
                    if failures.resend_cut(exc, method, reader, cuts, self.config.max_retries):
                        cuts += 1
                        await asyncio.sleep(self._retry_wait(cuts - 1, None))
                        continue
                    raise self._read_failed(exc, budget, method, path, reader) from exc
                finally:
                    deadline.attach(response, None)
                    await response.aclose()
        finally:
            release()
        data = decode_json_body(response, content, self._secrets)
        return JSONResponse(
            response.status_code,
            data,
            response.headers,
            request_id_of(response.headers),
            response.extensions.get("lunos_waited", 0.0),
        )

    async def astream(
        self,
        path: str,
        body: Any,
        *,
        kind: StreamKind,
        headers: Mapping[str, str] | None = None,
        observation: Observation = NO_OBSERVATION,
    ) -> AsyncIterator[StreamEvent]:
        client, release = self._acquire_async()
        budget = self._budget()
        try:
            response = await self._send_async(
                client, "POST", path, body, None, headers, True, budget, observation
            )
        except BaseException:
            release()
            raise
        state = StreamState(kind, request_id_of(response.headers), f"POST {path}", self._secrets)
        parser = SSEParser(max_line=self._line_limit)
        idle, limit = self._idle_seconds, self._limit
        budget.start(idle, f"stream_idle_timeout={idle} s")  # now the progress clock
        deadline.attach(response, budget)
        try:
            check_stream_response(response)
            seen = 0
            try:
                chunks = bodies.abody_chunks(response, state.route)
                async for chunk in chunks:
                    seen += len(chunk)
                    if seen > limit:
                        raise bodies.too_large(state.route, limit, seen)
                    away, moved = 0.0, False
                    for ev in parser.feed(chunk):
                        out = state.decode(ev)
                        if out is not None:
                            if state.progress:
                                moved = True
                                yield out  # the clock restarts after this chunk anyway
                            else:  # the caller's time on it is not the server's
                                began = _monotonic()
                                yield out
                                away += _monotonic() - began
                        if state.finished:
                            await bodies.adrain(chunks, budget)
                            return
                    if budget.tick(away, moved):  # restart on progress, else check
                        raise state.idle(idle)
            except TRANSPORT_ERRORS as exc:
                raise state.broken(exc, idle) from exc
            except WireFormatError as exc:
                raise state.invalid(exc) from None
            for ev in state.end(parser):
                out = state.decode(ev)
                if out is not None:
                    yield out
            if not state.finished:
                raise state.truncated("the connection closed")
        finally:
            deadline.attach(response, None)
            try:
                await response.aclose()
            finally:
                release()
