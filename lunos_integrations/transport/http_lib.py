"""Which HTTP library a client belongs to: httpx, or its maintained successor httpx2.

Why this exists: users inject their own clients (proxies, mTLS, corporate CAs), and in a
2026 environment that client is often an ``httpx2.Client``: the OpenAI and Anthropic SDKs,
Starlette and the MCP SDK moved to it. The two libraries have the same API but separate
classes, so an ``httpx.URL`` handed to an ``httpx2`` client is a ``TypeError``, and
``except httpx.TransportError`` does not catch ``httpx2.ReadError``. Everything the
transport builds (URLs, requests, trace hooks) is therefore built with the injected
client's own library, and every ``except`` uses the tuples below, which hold both
libraries' classes when httpx2 is installed.

httpx2 is optional (it needs Python 3.11+); without it only httpx clients are accepted and
the tuples hold httpx's classes alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpcore
import httpx

from ..errors import LunosConfigError, LunosError
from . import deadline

_httpx2: ModuleType | None
_httpcore2: ModuleType | None
try:  # optional: see the module docstring
    import httpcore2 as _httpcore2
    import httpx2 as _httpx2
except ImportError:  # pragma: no cover - exercised where httpx2 is not installed
    _httpx2 = None
    _httpcore2 = None

__all__ = [
    "HTTPX",
    "HTTPX2",
    "HTTP_ERRORS",
    "PROXY_ERRORS",
    "READ_TIMEOUTS",
    "TIMEOUT_ERRORS",
    "TRANSPORT_ERRORS",
    "HTTPLib",
    "check_client",
    "lib_of",
]


@dataclass(frozen=True, eq=False)
class HTTPLib:
    """One HTTP library's types, as the transport needs them."""

    name: str
    module: ModuleType
    sync_trace: Callable[[str, dict[str, Any]], None]
    async_trace: Callable[[str, dict[str, Any]], Any]

    def url(self, text: str) -> Any:
        return self.module.URL(text)

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return self.module.Request(*args, **kwargs)


def _lib(module: ModuleType, core: ModuleType) -> HTTPLib:
    sync_trace, async_trace = deadline.make_traces(core)
    return HTTPLib(module.__name__, module, sync_trace, async_trace)


HTTPX = HTTPLib("httpx", httpx, deadline.sync_trace, deadline.async_trace)
#: ``None`` when httpx2 is not installed.
HTTPX2: HTTPLib | None = (
    _lib(_httpx2, _httpcore2) if _httpx2 is not None and _httpcore2 is not None else None
)

_MODULES: tuple[ModuleType, ...] = (httpx,) if _httpx2 is None else (httpx, _httpx2)


def _classes(name: str) -> tuple[type[Exception], ...]:
    return tuple(getattr(module, name) for module in _MODULES)


def _types(name: str) -> tuple[type[Any], ...]:
    return tuple(getattr(module, name) for module in _MODULES)


#: ``except`` these, never ``httpx.X`` alone: they catch both libraries' errors.
TRANSPORT_ERRORS = _classes("TransportError")
HTTP_ERRORS = _classes("HTTPError")
TIMEOUT_ERRORS = _classes("TimeoutException")
READ_TIMEOUTS = _classes("ReadTimeout")
PROXY_ERRORS = _classes("ProxyError")
REMOTE_PROTOCOL_ERRORS = _classes("RemoteProtocolError")
NETWORK_ERRORS = _classes("NetworkError")
#: What a failed error-body read or drain may raise (swallowed there: the status matters).
HTTP_OR_LUNOS_ERRORS: tuple[type[Exception], ...] = (*HTTP_ERRORS, LunosError)
ASYNC_CLIENTS = _types("AsyncClient")
SYNC_BYTE_STREAMS = _types("SyncByteStream")
ASYNC_BYTE_STREAMS = _types("AsyncByteStream")
#: httpcore's own timeout, for code that sits below httpx (the deadline hooks).
CORE_READ_TIMEOUTS: tuple[type[Exception], ...] = (httpcore.ReadTimeout,) + (
    () if _httpcore2 is None else (_httpcore2.ReadTimeout,)
)


def stack_module(name: str) -> ModuleType:
    """The module the package's own pools are built with (``LunosConfig.http_stack``)."""
    if name == "httpx2":
        if _httpx2 is None:
            raise LunosConfigError(
                "http_stack='httpx2' (LUNOS_HTTP_STACK) needs the httpx2 package "
                "(pip install httpx2; Python 3.11+)."
            )
        return _httpx2
    return httpx


def lib_of(client: Any) -> HTTPLib:
    """The library ``client`` comes from (httpx for anything not from httpx2)."""
    if HTTPX2 is not None and type(client).__module__.split(".", 1)[0] == "httpx2":
        return HTTPX2
    return HTTPX


def _accepted(is_async: bool) -> str:
    cls = "AsyncClient" if is_async else "Client"
    names = [f"httpx.{cls}"]
    if HTTPX2 is not None:
        names.append(f"httpx2.{cls}")
    return " or ".join(names)


def check_client(client: Any, *, is_async: bool, argument: str) -> None:
    """Refuse, at construction, a client the transport cannot drive.

    Why now and not on the first call: a wrong client used to fail deep inside a chain
    with a bare ``TypeError`` about URL types. Subclasses of the accepted classes pass (a
    client with a mock transport, a test double subclassing ``httpx.Client``).
    """
    if client is None:
        return
    wanted = [m.AsyncClient if is_async else m.Client for m in _MODULES]
    if isinstance(client, tuple(wanted)):
        return
    got = f"{type(client).__module__}.{type(client).__qualname__}"
    hint = ""
    other = [m.Client if is_async else m.AsyncClient for m in _MODULES]
    if isinstance(client, tuple(other)):
        hint = (
            f" It is the {'sync' if is_async else 'async'} kind: pass it as "
            f"{'http_client' if is_async else 'http_async_client'} instead."
        )
    elif type(client).__module__.split(".", 1)[0] == "httpx2":
        hint = " httpx2 clients need the httpx2 package importable (Python 3.11+)."
    raise LunosConfigError(
        f"{argument} must be an {_accepted(is_async)} (a client of either library is driven "
        f"with its own URL and request types); got {got}.{hint}"
    )
