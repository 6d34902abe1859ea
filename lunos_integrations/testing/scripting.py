"""Scripted behaviours: make the next request(s) fail or misbehave in an exact way.

Why: retry, timeout, error-mapping and stream-recovery code can only be tested against a
server that fails on demand. Tests queue actions; each incoming request consumes at most
one action (FIFO among the actions whose ``path`` matches it) and the consumed action is
stored on the request's :class:`~.server.RecordedRequest` as ``action``. With an empty queue
the fake model answers normally.

Queue with ``server.enqueue(action, path=None)`` (or ``server.script.add(action, path)``).
Without ``path`` an action applies to the next POST (chat, messages, embeddings): clients
fetch ``GET /v1/models`` by themselves for pricing, and that look-up must not consume a
fault meant for the call under test. Queue with ``path="/v1/models"`` to fault the catalog.
``path`` limits an action to one route, e.g. ``"/v1/chat/completions"`` (``"/chat/completions"``
also works). Scripted replies are sent *instead of* the normal processing, so they bypass
auth and model checks.

Replies (sent instead of the fake model's answer):

* ``JSONReply(body, status=200, headers={})`` — any JSON body.
* ``ErrorReply(status, body=None, headers={})`` — ``body=None`` gives the Lunos envelope
  ``{"error": {"code", "message", "type"}}`` with a default message for the status;
  ``headers={"Retry-After": "1"}`` or ``{"retry-after-ms": "50"}`` for rate limits.
* ``RawReply(status, body=b"", content_type="text/html", headers={})`` — HTML error pages,
  malformed JSON, empty bodies, wrong content types.
* ``StreamReply(events, status=200, headers={}, content_type="text/event-stream",
  fault=None)`` — hand-written SSE: each item is a ``dict`` (→ ``data: <json>``), a payload
  string (→ ``data: <payload>``) or a full frame (``"event: x\\ndata: y\\n\\n"``, sent
  verbatim). ``fault`` applies a :class:`StreamFault` to these frames.
* ``Disconnect(when="before_response"|"after_headers", reset=True)`` — drop the connection
  before anything is sent, or right after the response headers. ``reset=True`` sends a TCP
  RST (``SO_LINGER`` 0, the client sees "connection reset"); ``False`` closes normally (FIN).

Modifiers (the fake model still answers):

* ``Delay(seconds)`` — the request that consumes it waits ``seconds`` before its (normal)
  reply. Every action also has a ``delay=`` field, e.g. ``ErrorReply(503, delay=0.2)``.
* ``StreamFault(...)`` — damage the fake model's own stream (chat chunks or Anthropic
  events), so tests needn't hand-write frames. Combine freely:

  - ``disconnect_after_events=N`` — send N events, then drop the connection (``reset``
    chooses RST vs FIN); the HTTP chunked body is left incomplete, so clients see a read error.
  - ``truncate_before_terminator=True`` — end the HTTP body cleanly but omit
    ``data: [DONE]`` (chat) or ``message_stop`` (messages).
  - ``error_event_after=N`` — after N events send an error event and end the body:
    chat ``data: {"error": {...}}``, messages ``event: error``. ``error`` overrides its body.
  - ``idle_after_events=N`` + ``idle_seconds`` — go silent for ``idle_seconds`` after N
    events (read-timeout tests), then continue.
  - ``split_writes=K`` — write the response in K-byte TCP writes with ``write_pause`` seconds
    between them, so clients get many small reads and JSON objects are split across reads.
    With ``split_multibyte=True`` (the default) there is also a cut right after the first
    byte of every multi-byte UTF-8 character, so each such character is guaranteed to arrive
    in two reads. Applies to JSON replies too.
  - ``crlf=True`` — ``\\r\\n`` line endings; ``comments=True`` — a ``: keep-alive`` comment
    before every event.

  Apart from ``split_writes``, a ``StreamFault`` has no effect on a non-streaming reply.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias


@dataclass(frozen=True)
class JSONReply:
    """Reply with ``body`` serialised as JSON."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class ErrorReply:
    """Reply with an error status; ``body=None`` uses the Lunos envelope."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class RawReply:
    """Reply with exact bytes and content type (HTML pages, malformed JSON, empty bodies)."""

    status: int
    body: bytes = b""
    content_type: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class StreamFault:
    """Damage applied to a stream; see the module docstring for each option."""

    disconnect_after_events: int | None = None
    reset: bool = True
    truncate_before_terminator: bool = False
    error_event_after: int | None = None
    error: dict[str, Any] | None = None
    idle_after_events: int | None = None
    idle_seconds: float = 5.0
    split_writes: int | None = None
    write_pause: float = 0.003
    split_multibyte: bool = True
    crlf: bool = False
    comments: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class StreamReply:
    """Reply with a hand-written SSE stream (optionally damaged by ``fault``)."""

    events: list[str | bytes | dict[str, Any]]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/event-stream"
    fault: StreamFault | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Disconnect:
    """Drop the connection before the response or right after its headers."""

    when: Literal["before_response", "after_headers"] = "before_response"
    reset: bool = True
    delay: float = 0.0


@dataclass(frozen=True)
class Delay:
    """Delay the consuming request's normal reply by ``seconds``."""

    seconds: float
    delay: float = 0.0


Action: TypeAlias = (
    JSONReply | ErrorReply | RawReply | StreamReply | Disconnect | Delay | StreamFault
)


def _normalise_path(path: str | None) -> str | None:
    if path is None:
        return None
    path = "/" + path.lstrip("/")
    path = path.split("?", 1)[0].rstrip("/") or "/"
    return path if path.startswith("/v1/") or path == "/v1" else "/v1" + path


class Script:
    """Thread-safe FIFO of scripted actions (tests add from their thread, the server pops)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[Action, str | None]] = deque()

    def add(self, action: Action, path: str | None = None) -> None:
        """Queue ``action`` for the next request (to ``path`` only, if given)."""
        with self._lock:
            self._queue.append((action, _normalise_path(path)))

    def pop_for(self, path: str, method: str = "POST") -> Action | None:
        """Remove and return the first action that applies to ``path``.

        An action queued without a path applies to the next *generation* request (any
        POST). Catalog and balance look-ups (GET) only consume actions queued for their own
        path, because clients fetch the catalog on their own (for pricing and parameter
        gating) and would otherwise swallow a fault meant for the chat call under test.
        """
        target = _normalise_path(path)
        is_get = method.upper() == "GET"
        with self._lock:
            for i, (action, only) in enumerate(self._queue):
                if (only is None and not is_get) or only == target:
                    del self._queue[i]
                    return action
        return None

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[tuple[Action, str | None]]:
        """Actions not consumed yet (useful to assert a script was fully used)."""
        with self._lock:
            return list(self._queue)

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)


DEFAULT_ERROR_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("invalid_request_error", "Bad request", "invalid_request_error"),
    401: ("invalid_api_key", "Missing or invalid secret key", "authentication_error"),
    402: ("insufficient_balance", "Insufficient balance", "billing_error"),
    403: ("forbidden", "Forbidden", "permission_error"),
    404: ("not_found", "Not found", "invalid_request_error"),
    408: ("timeout", "Request timeout", "timeout_error"),
    409: ("conflict", "Conflict", "invalid_request_error"),
    422: ("unprocessable_entity", "Unprocessable entity", "invalid_request_error"),
    429: ("rate_limit_exceeded", "Rate limit exceeded", "rate_limit_error"),
    500: ("server_error", "Internal server error", "server_error"),
    502: ("bad_gateway", "Bad gateway", "server_error"),
    503: ("service_unavailable", "Service unavailable", "server_error"),
    504: ("gateway_timeout", "Gateway timeout", "server_error"),
}


def error_envelope(
    status: int, message: str | None = None, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """The documented Lunos error body ``{"error": {code, message, type[, param]}}``."""
    d_code, d_message, d_type = DEFAULT_ERROR_MESSAGES.get(
        status, ("server_error" if status >= 500 else "error", f"HTTP {status}", "api_error")
    )
    error: dict[str, Any] = {"code": code or d_code, "message": message or d_message}
    if param is not None:
        error["param"] = param
    error["type"] = d_type
    return {"error": error}
