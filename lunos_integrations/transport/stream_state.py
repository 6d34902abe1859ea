"""The per-stream reader state shared by the sync and async stream loops.

One :class:`StreamState` lives for one streamed response. It turns SSE events into
:class:`~.replies.StreamEvent` payloads, tells the loop whether an event was *progress*
(which restarts the idle clock; keep-alive comments and pings do not), notices the
terminator, and builds the typed error for every way a stream can go wrong. The loops in
:mod:`.http` only do the I/O around it.
"""

from __future__ import annotations

from typing import Any, Literal

from .._json import loads as fast_json_loads
from ..errors import (
    APIResponseValidationError,
    APITimeoutError,
    LunosError,
    ResponseTooLargeError,
    StreamIdleTimeoutError,
    StreamTruncatedError,
    WireFormatError,
    error_from_stream_event,
)
from ..redact import NO_SECRETS, Secrets, scrub_text
from .deadline import chat_progress, messages_progress
from .http_lib import READ_TIMEOUTS, TIMEOUT_ERRORS
from .replies import StreamEvent
from .sse import SSEEvent, SSELineTooLongError, SSEParser

StreamKind = Literal["chat", "messages"]
_LOADS = fast_json_loads
_MALFORMED = object()


class StreamState:
    """Per-stream decisions shared by the sync and async readers."""

    __slots__ = ("finished", "kind", "progress", "request_id", "route", "secrets", "yielded")

    def __init__(
        self,
        kind: StreamKind,
        request_id: str | None,
        route: str = "",
        secrets: Secrets = NO_SECRETS,
    ) -> None:
        self.kind = kind
        self.request_id = request_id
        self.route = route
        self.secrets = secrets
        self.finished = False
        self.yielded = False
        #: Whether the last decoded event moved the answer on (restarts the idle clock).
        self.progress = False

    def decode(self, ev: SSEEvent) -> StreamEvent | None:
        """Turn one SSE event into a payload, or ``None`` for terminators and pings."""
        data = ev.data
        if self.kind == "chat" and data == "[DONE]":
            self.finished = True
            return None
        try:
            obj = _LOADS(data)
        except RecursionError:
            raise APIResponseValidationError(
                f"a stream event from {self.route} holds JSON nested deeper than the parser "
                "follows (thousands of levels); no real event looks like that",
                status_code=200,
                body_excerpt=scrub_text(data, self.secrets)[:200],
                request_id=self.request_id,
            ) from None
        except ValueError:
            obj = _MALFORMED
        if obj is _MALFORMED:  # raised outside the except: the parser error holds the data
            excerpt = scrub_text(data, self.secrets)[:200]
            raise APIResponseValidationError(
                f"malformed JSON in a stream event: {excerpt!r}",
                status_code=200,
                body_excerpt=excerpt,
                request_id=self.request_id,
                raw_body=data,
            )
        if self.kind == "chat":
            if type(obj) is dict and "error" in obj and not obj.get("choices"):
                raise error_from_stream_event(obj, request_id=self.request_id, secrets=self.secrets)
            self.progress = chat_progress(obj)
            return self._event(ev.event, obj)
        name = ev.event or (obj.get("type") if type(obj) is dict else None)
        if type(name) is not str:  # e.g. {"type": []}: not an event name at all
            name = None
        if name == "error":
            raise error_from_stream_event(obj, request_id=self.request_id, secrets=self.secrets)
        if name == "ping":
            return None
        if name == "message_stop":
            self.finished = True
        self.progress = messages_progress(name, obj)
        return self._event(name, obj)

    def _event(self, name: str | None, obj: Any) -> StreamEvent:
        if self.yielded:
            return StreamEvent(name, obj)
        self.yielded = True
        return StreamEvent(name, obj, self.request_id)

    def end(self, parser: SSEParser) -> list[SSEEvent]:
        try:
            return parser.close()
        except SSELineTooLongError as exc:
            raise self.invalid(exc) from None
        except WireFormatError:
            raise self.truncated("it ended inside a UTF-8 character") from None

    def invalid(self, exc: WireFormatError) -> APIResponseValidationError:
        """The typed error for bytes the SSE parser refused (bad UTF-8, a line too long)."""
        if isinstance(exc, SSELineTooLongError):
            return ResponseTooLargeError(
                f"The Lunos stream from {self.route} was refused: {exc} (a quarter of "
                "max_response_bytes). Raise max_response_bytes (client argument or LunosConfig "
                "field) if events this large are expected.",
                limit=exc.limit,
                request_id=self.request_id,
            )
        return APIResponseValidationError(
            f"The Lunos stream from {self.route} is broken: {exc}.",
            status_code=200,
            request_id=self.request_id,
        )

    def truncated(self, why: str) -> StreamTruncatedError:
        terminator = "data: [DONE]" if self.kind == "chat" else "event: message_stop"
        return StreamTruncatedError(
            f"The Lunos stream ended before its terminator ({terminator}): {why}. "
            "The answer is incomplete and was not returned as complete."
        )

    def broken(self, exc: Exception, idle: float | None) -> LunosError:
        if isinstance(exc, READ_TIMEOUTS):
            return self.idle(idle)
        if isinstance(exc, TIMEOUT_ERRORS):
            return APITimeoutError(f"The Lunos stream timed out ({type(exc).__name__}).")
        return self.truncated(f"the connection broke ({type(exc).__name__}: {exc})")

    def idle(self, idle: float | None) -> StreamIdleTimeoutError:
        return StreamIdleTimeoutError(
            f"The Lunos stream from {self.route} made no progress for {idle} s "
            "(stream_idle_timeout, or timeout when unset): no content, tool call, reasoning, "
            "usage or finish arrived; keep-alive comments and empty events do not count. "
            "The connection was closed."
        )
