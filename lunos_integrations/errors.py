"""Typed errors for everything that can go wrong between a caller and Lunos.

One hierarchy serves both frameworks. Each status family has its own class so callers can
``except RateLimitError`` without inspecting numbers, and every message says what to do
next. Error bodies come in several shapes (lunos-api.md §7.1 plus the Anthropic envelope);
:func:`error_from_response` understands all of them and never lets a parsing problem hide
the original HTTP status.

Nothing here ever includes the API key: messages are built from the server's body (which
does not echo keys) and request metadata without headers.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

_EXCERPT = 200


class LunosError(Exception):
    """Base class of every error raised by lunos-integrations."""


class LunosConfigError(LunosError, ValueError):
    """The client was configured wrongly (missing key, bad base URL...)."""


class LunosInputError(LunosError, ValueError):
    """A request was rejected locally, before anything was sent.

    ``param`` names the offending parameter so the fix is obvious.
    """

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class APIConnectionError(LunosError):
    """The server could not be reached, or the connection broke."""

    def __init__(
        self, message: str = "Could not connect to the Lunos API.", *, url: str = ""
    ) -> None:
        super().__init__(message)
        self.url = url


class APITimeoutError(APIConnectionError):
    """The request timed out before a complete response arrived."""


class StreamIdleTimeoutError(APITimeoutError):
    """A stream stayed silent for longer than the configured idle timeout."""


class StreamTruncatedError(APIConnectionError):
    """A stream ended without its terminator: the answer is incomplete, never returned as done."""


class APIResponseValidationError(LunosError):
    """A 2xx response whose body is not what the route promises (HTML, bad JSON, empty)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body_excerpt: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.request_id = request_id


class WireFormatError(LunosError, ValueError):
    """A response or stream event does not have the shape its route promises.

    Raised by the pure wire codecs (which know no HTTP status); the transport re-raises it
    as :class:`APIResponseValidationError` with the status and request id attached.
    """


class APIStatusError(LunosError):
    """The server answered with an error status (or an error event inside a stream)."""

    #: What to tell the user beyond the server's own words.
    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        full = f"Lunos API error {status_code}: {message}"
        if code:
            full += f" (code: {code})"
        if request_id:
            full += f" [request id: {request_id}]"
        if self.hint:
            full += f". {self.hint}"
        super().__init__(full)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.type = type
        self.param = param
        self.request_id = request_id
        self.body = body
        self.headers = dict(headers or {})


class BadRequestError(APIStatusError):
    hint = "Check the request parameters; the model may not support one of them."


class UnsupportedParameterError(BadRequestError):
    """400: the model does not support a parameter that was sent; ``param`` names it."""

    hint = (
        "Remove that parameter, or use gate_parameters='learn' (the default) to have it "
        "dropped automatically where that keeps the answer meaningful."
    )


class AuthenticationError(APIStatusError):
    hint = "Check LUNOS_API_KEY (or the api_key argument): it is missing, invalid or expired."


class InsufficientBalanceError(APIStatusError):
    hint = "Top up your Lunos balance (see get_balance())."


class PermissionDeniedError(APIStatusError):
    hint = "The key is not allowed to use this model or route."


class NotFoundError(APIStatusError):
    hint = "Check the model id (list_models() shows what is available) and the base URL."


class ConflictError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    hint = "The request was well-formed but semantically invalid."


class RateLimitError(APIStatusError):
    """429. ``retry_after`` is the server's requested wait in seconds, when it sent one."""

    hint = "Slow down or raise max_retries; Lunos asked to wait before retrying."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class InternalServerError(APIStatusError):
    hint = "A Lunos or upstream provider error; it was retried up to max_retries."


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

# Anthropic error "type" values mapped to the status family they stand for; used for
# error *events* inside a stream, which carry no HTTP status of their own.
_ANTHROPIC_TYPES: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The most specific error class for an HTTP status."""
    if status in _STATUS_CLASSES:
        return _STATUS_CLASSES[status]
    if status >= 500:
        return InternalServerError
    return APIStatusError


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: ``retry-after-ms``, then ``Retry-After``.

    ``Retry-After`` may be a number of seconds or an HTTP date. Unparseable or negative
    values are ignored (``None``) rather than trusted.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
        return seconds if seconds >= 0 else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, delay)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def describe_error_body(body: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """``(message, code, type, param)`` from any known error envelope, or all ``None``.

    Known shapes: ``{"error": {"message", "code", "type", "param"}}`` (OpenAI / Lunos),
    ``{"success": false, "message": ..., "error": "CODE"}`` (Lunos account routes),
    ``{"type": "error", "error": {"type", "message"}}`` (Anthropic), ``{"message": ...}``.
    """
    if not isinstance(body, dict):
        return None, None, None, None
    err = body.get("error")
    message: str | None = None
    code: str | None = None
    etype: str | None = None
    param: str | None = None
    if isinstance(err, dict):
        m = err.get("message")
        message = m if isinstance(m, str) else (json.dumps(m) if m is not None else None)
        c = err.get("code")
        code = str(c) if c is not None else None
        t = err.get("type")
        etype = t if isinstance(t, str) else None
        p = err.get("param")
        param = p if isinstance(p, str) else None
    elif isinstance(err, str):
        code = err
    if message is None:
        m = body.get("message")
        if isinstance(m, str):
            message = m
        elif isinstance(err, str):
            message = err
    if etype is None and isinstance(body.get("type"), str) and body.get("type") != "error":
        etype = body["type"]
    return message, code, etype, param


def error_from_response(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    request_id: str | None = None,
) -> APIStatusError:
    """Build the typed error for an HTTP error response, whatever its body looks like."""
    text = content.decode("utf-8", errors="replace")
    body: Any = None
    if text.strip():
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    message, code, etype, param = describe_error_body(body)
    if message is None:
        if text.strip():
            ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
            kind = "an HTML page" if "html" in ctype or text.lstrip().startswith("<") else "text"
            message = f"the server answered with {kind}, not JSON: {_excerpt(text)!r}"
        else:
            message = "the server answered with an empty body"
        body = body if body is not None else text
    cls = status_error_class(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "type": etype,
        "param": param,
        "request_id": request_id,
        "body": body,
        "headers": headers,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(headers), **kwargs)
    return cls(message, **kwargs)


def error_from_stream_event(payload: Any, *, request_id: str | None = None) -> APIStatusError:
    """Typed error for an error event that arrived inside a 200 stream."""
    message, code, etype, param = describe_error_body(payload)
    status = 500
    if isinstance(payload, dict):
        err = payload.get("error")
        if isinstance(err, dict):
            raw_status = err.get("status") or err.get("status_code")
            if isinstance(raw_status, int):
                status = raw_status
            elif isinstance(err.get("code"), int):
                status = int(err["code"])
            elif etype in _ANTHROPIC_TYPES:
                status = _ANTHROPIC_TYPES[etype]
    cls = status_error_class(status)
    text = message or "the stream carried an error event"
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "type": etype,
        "param": param,
        "request_id": request_id,
        "body": payload,
    }
    if cls is RateLimitError:
        return RateLimitError(f"error inside the stream: {text}", **kwargs)
    return cls(f"error inside the stream: {text}", **kwargs)
