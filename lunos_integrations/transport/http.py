"""The HTTP transport: auth, headers, retries, error mapping and event streams.

Both frameworks send every request through :class:`Transport`. It knows HTTP and the two
stream framings (chat-completions ``data: [DONE]`` and Anthropic ``event: message_stop``),
but nothing about chat semantics, which live in :mod:`lunos_integrations.wire`.

Sync and async paths share every decision (what to retry, how to read an event, which
error to raise); only the lines that do I/O differ.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx

from .._version import __version__
from ..config import LunosConfig
from ..errors import (
    APIResponseValidationError,
    LunosError,
    WireFormatError,
    error_from_response,
)
from ..observe import NO_OBSERVATION, Observation
from ..redact import Secrets, redact_url, split_userinfo
from . import bodies, deadline, failures, http_lib
from .bodies import BodyReader
from .deadline import Budget, whole_attempt_seconds
from .governor import BACKOFF, GOVERNORS, Gate, estimate_tokens, gate_for, governor_key
from .http_lib import HTTP_ERRORS, TIMEOUT_ERRORS, TRANSPORT_ERRORS, check_client, lib_of
from .pools import POOLS
from .redirects import redirected
from .replies import (
    JSONResponse,
    StreamEvent,
    check_stream_response,
    connection_error,
    decode_json_body,
    encode_body,
    request_id_of,
)
from .retry import retry_delay, should_retry_status
from .sse import SSEParser
from .stream_state import StreamKind, StreamState

__all__ = ["USER_AGENT", "JSONResponse", "StreamEvent", "StreamKind", "Transport"]

logger = logging.getLogger("lunos_integrations")

USER_AGENT = f"lunos-integrations/{__version__}"
_URL_CACHE_SIZE = 64
_monotonic = time.monotonic


class Transport:
    """Sends requests for one :class:`LunosConfig`, over shared connection pools.

    ``http_client`` / ``http_async_client`` may be injected (e.g. with a mock transport or
    custom TLS); injected clients are used as they are and never closed by us. They may
    be httpx or httpx2 clients (see :mod:`.http_lib`); anything else is refused here.
    """

    def __init__(
        self,
        config: LunosConfig,
        *,
        http_client: Any = None,
        http_async_client: Any = None,
    ) -> None:
        check_client(http_client, is_async=False, argument="http_client")
        check_client(http_async_client, is_async=True, argument="http_async_client")
        self.config = config
        self._http_client = http_client
        self._http_async_client = http_async_client
        self._lease: tuple[Any, ...] | None = POOLS.lease(config)
        key = config.api_key.get_secret_value()
        # Credentials in base_url are taken out of the URL that requests (and so httpx's
        # logs, reprs and exceptions) carry, and sent the way httpx sent them when they
        # were left in: as HTTP Basic auth, which takes the Authorization header's place.
        self._request_base, user, password = split_userinfo(config.base_url)
        self._display_base = redact_url(config.base_url)
        authorization = f"Bearer {key}"
        basic = None
        if user or password:  # httpx's own test: "http://@host" sends no Basic header
            userpass = f"{user}:{password or ''}".encode()
            basic = base64.b64encode(userpass).decode("ascii")
            authorization = f"Basic {basic}"
        #: What error construction scrubs from server text, besides any bearer token.
        self._secrets = Secrets((key, password, basic))
        headers = {
            "Authorization": authorization,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Accept-Encoding": bodies.ACCEPT_ENCODING,
        }
        if config.app_id:
            headers["X-App-ID"] = config.app_id
        headers.update(dict(config.default_headers))
        self._base_headers = headers
        idle = config.idle_timeout
        t = config.timeout
        self._stream_timeout = httpx.Timeout(
            connect=t.connect, read=idle, write=t.write, pool=t.pool
        )
        self._urls: dict[tuple[str, str], Any] = {}
        #: The whole-attempt bound (deadline module) and the stream progress bound.
        self._attempt_seconds = whole_attempt_seconds(t)
        self._idle_seconds = (
            config.stream_idle_timeout
            if config.stream_idle_timeout is not None
            else self._attempt_seconds
        )
        self._limit = config.max_response_bytes
        #: One stream line is held whole until its newline: a quarter of the response limit
        #: keeps an endless line from costing the whole limit (64 MiB by default).
        self._line_limit = max(1, self._limit // 4)
        #: The key's shared rate governor (None: rate_governor=False); see transport.governor.
        self._governor = governor_key(config)
        if self._governor is not None:
            GOVERNORS.get(self._governor, config)  # declares requests/tokens_per_minute

    def _budget(self) -> Budget:
        return Budget(self._attempt_seconds, f"timeout={self._attempt_seconds} s")

    def _gate(self, request: httpx.Request, body: Any, budget: Budget) -> Gate:
        """This call's passage through the governor; waits are bounded like an attempt."""
        cost = estimate_tokens(request.content, body) if self._governor else 0.0
        cap = self.config.max_retry_wait
        return gate_for(self._governor, cost, budget.seconds, budget.what, request.method, cap)

    def __repr__(self) -> str:
        return f"Transport(base_url={self._display_base!r}, app_id={self.config.app_id!r})"

    @property
    def secrets(self) -> Secrets:
        """What errors built from this transport's responses must scrub (never printed)."""
        return self._secrets

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Return this transport's lease on the shared pool (closing it if it was the last)."""
        if self._lease is not None:
            key, self._lease = self._lease, None
            POOLS.release(key)

    async def aclose(self) -> None:
        if self._lease is not None:
            key, self._lease = self._lease, None
            for client in POOLS.release(key):
                await client.aclose()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def sync_client(self) -> httpx.Client:
        return self._http_client or POOLS.sync_client(self.config)

    @property
    def async_client(self) -> httpx.AsyncClient:
        return self._http_async_client or POOLS.async_client(self.config)

    def _acquire_async(self) -> tuple[httpx.AsyncClient, Callable[[], None]]:
        if self._http_async_client is not None:
            return self._http_async_client, _noop
        return POOLS.acquire_async(self.config)

    # ------------------------------------------------------------------ building

    def url(self, path: str) -> str:
        """The URL of ``path`` as messages show it (credentials masked)."""
        return self._display_base + path

    def _parsed_url(self, path: str, lib: http_lib.HTTPLib = http_lib.HTTPX) -> Any:
        """The parsed URL for ``path``, parsed once: httpx re-parses a string URL on every
        request (~13 µs), and a transport only ever calls a handful of paths. Each library
        (httpx, httpx2) only takes its own URL type."""
        key = (lib.name, path)
        url = self._urls.get(key)
        if url is None:
            url = lib.url(self._request_base + path)
            if len(self._urls) < _URL_CACHE_SIZE:  # bounded: model ids can appear in paths
                self._urls[key] = url
        return url

    def _build(
        self,
        client: Any,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        stream: bool,
    ) -> httpx.Request:
        h = dict(self._base_headers)
        h["Accept"] = "text/event-stream" if stream else "application/json"
        if headers:
            h.update(headers)
        content = encode_body(body) if body is not None else None
        if content is None:
            del h["Content-Type"]
        lib = lib_of(client)
        extensions: dict[str, Any] = {
            # Bounds every socket operation of connections this request opens (deadline.py).
            "trace": lib.async_trace
            if isinstance(client, http_lib.ASYNC_CLIENTS)
            else lib.sync_trace
        }
        if stream:
            extensions["timeout"] = self._stream_timeout.as_dict()
        return client.build_request(  # type: ignore[no-any-return]
            method,
            self._parsed_url(path, lib),
            content=content,
            params=params,
            headers=h,
            extensions=extensions,
        )

    def _retry_wait(self, attempt: int, headers: Mapping[str, str] | None) -> float:
        return retry_delay(
            attempt, headers, backoff=self.config.retry_backoff, cap=self.config.max_retry_wait
        )

    def _status_error(self, response: httpx.Response, content: bytes) -> LunosError:
        if response.status_code == 407:  # a forwarding proxy's answer, not Lunos's
            return failures.proxy_auth_error(self.config.proxy, self._display_base, "its answer")
        return error_from_response(
            response.status_code,
            content,
            response.headers,
            request_id=request_id_of(response.headers),
            secrets=self._secrets,
        )

    def _error_reader(
        self, response: httpx.Response, budget: Budget, method: str, path: str
    ) -> BodyReader:
        """An error body is read for its message only: cut at 1 MiB, within the deadline."""
        return BodyReader(
            response,
            limit=min(self._limit, bodies.ERROR_BODY_LIMIT),
            budget=budget,
            route=f"{method} {path}",
            url=self.url(path),
            truncate=True,
        )

    def _body_reader(
        self, response: httpx.Response, budget: Budget, method: str, path: str
    ) -> BodyReader:
        return BodyReader(
            response,
            limit=self._limit,
            budget=budget,
            route=f"{method} {path}",
            url=self.url(path),
        )

    def _read_failed(
        self, exc: Exception, budget: Budget, method: str, path: str, reader: BodyReader
    ) -> LunosError:
        """The typed error for a body read that broke (deadline, network, decoding)."""
        route = f"{method} {path}"
        if isinstance(exc, TIMEOUT_ERRORS) and budget.expired():
            return bodies.deadline_error(route, budget, self.url(path))
        if failures.is_cut(exc):
            status, got = reader.response.status_code, len(reader.buffer)
            return failures.cut_error(exc, route, self.url(path), status, got, reader.attempt)
        if isinstance(exc, TRANSPORT_ERRORS):
            return connection_error(exc, self.url(path))
        return APIResponseValidationError(
            f"The body Lunos sent for {route} could not be decoded ({type(exc).__name__}: {exc}).",
            status_code=200,
        )

    def _log(self, method: str, path: str, status: object, attempt: int, started: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s -> %s (attempt %d, %.3f s)",
                method,
                path,
                status,
                attempt + 1,
                time.perf_counter() - started,
            )

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


def _noop() -> None:
    """Release callback for injected clients, which are not sharded."""
