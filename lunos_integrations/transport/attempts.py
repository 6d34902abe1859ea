"""What a transport's attempts are built from: headers, URLs, requests, readers, errors.

:class:`TransportBase` holds what :class:`~.http.Transport`'s send loops (sync and async,
in :mod:`.http`) share for one :class:`LunosConfig`: the auth and default headers, the
parsed URLs, how a request is built for either HTTP library, the deadline budgets, the
body readers and the typed errors, the pool lease and the key's rate-governor gate. It
is split from the loops for size, not for reuse elsewhere: every request still goes
through :class:`~.http.Transport`.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from .._version import __version__
from ..config import LunosConfig
from ..errors import (
    APIResponseValidationError,
    LunosError,
    error_from_response,
)
from ..redact import Secrets, redact_url, split_userinfo
from . import bodies, failures, http_lib
from .bodies import BodyReader
from .deadline import Budget, whole_attempt_seconds
from .governor import GOVERNORS, Gate, estimate_tokens, gate_for, governor_key
from .http_lib import TIMEOUT_ERRORS, TRANSPORT_ERRORS, check_client, lib_of
from .pools import POOLS
from .replies import (
    connection_error,
    encode_body,
    request_id_of,
)
from .retry import retry_delay

__all__ = ["USER_AGENT", "TransportBase"]

logger = logging.getLogger("lunos_integrations")

USER_AGENT = f"lunos-integrations/{__version__}"
_URL_CACHE_SIZE = 64


class TransportBase:
    """What every attempt of a :class:`~.http.Transport` is built from, for one config.

    Sends requests for one :class:`LunosConfig`, over shared connection pools.

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
        return (
            f"{type(self).__name__}(base_url={self._display_base!r}, app_id={self.config.app_id!r})"
        )

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


def _noop() -> None:
    """Release callback for injected clients, which are not sharded."""
