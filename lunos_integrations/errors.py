"""Typed errors for everything that can go wrong between a caller and Lunos.

One hierarchy serves both frameworks. Each status family has its own class so callers can
``except RateLimitError`` without inspecting numbers, and every message says what to do
next. Error bodies come in several shapes (lunos-api.md §7.1 plus the Anthropic envelope);
:func:`error_from_response` understands all of them and never lets a parsing problem hide
the original HTTP status.

Nothing here ever includes the API key. Messages are built from the server's body and
request metadata without headers, and servers do echo keys (proxies' debug pages, error
bodies repeating the ``Authorization`` header): so every piece of server text is scrubbed
(:mod:`lunos_integrations.redact`) before it is stored, with the secrets the transport
passes in. The unscrubbed body stays reachable only as ``exc.raw_body``, whose value never
shows in ``repr``/``vars`` output and is not pickled.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from .redact import NO_SECRETS, Secrets, scrub_json, scrub_text

_EXCERPT = 200


class _Withheld:
    """Holds a raw (unscrubbed) server body without ever printing or pickling it.

    Why: ``vars(exc)``, debuggers and error trackers print an exception's attributes, and
    pickled exceptions travel to other processes and logs; the raw body may hold an echoed
    key, so it stays in the process that received it and out of every printed form.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<raw body withheld: read exc.raw_body>"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_Withheld, (None,))


def _raw_of(exc: BaseException) -> Any:
    held = getattr(exc, "_raw_body", None)
    return held.value if isinstance(held, _Withheld) else None


class LunosError(Exception):
    """Base class of every error raised by lunos-integrations.

    Every subclass pickles with all its attributes, because ``multiprocessing``,
    ``ProcessPoolExecutor``, Celery and Dask send a worker's exception back pickled; the
    default (``cls(*args)``) fails for classes with required keyword arguments, and in a
    ``multiprocessing.Pool`` that killed the result thread and hung the pool. Unpickling
    does not re-run ``__init__`` (which would rebuild the message); ``__cause__`` and the
    traceback are not pickled, as for any exception.
    """

    #: Attribute names never pickled (for subclasses holding secrets or live objects).
    _not_pickled: ClassVar[tuple[str, ...]] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        skip = self._not_pickled
        state = {k: v for k, v in self.__dict__.items() if k not in skip}
        return (_unpickle_error, (type(self), self.args), state)


def _unpickle_error(cls: type[LunosError], args: tuple[Any, ...]) -> LunosError:
    """An instance of ``cls`` with ``args``, without calling ``__init__`` (see LunosError)."""
    return cls.__new__(cls, *args)


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


class ThrottledError(APITimeoutError):
    """The rate governor could not send the call in time (see ``transport.governor``).

    Raised before an attempt, not after one: the gateway throttled or failed recent calls
    on this key, and waiting for a free slot would have passed the call's bound.
    ``waited`` is the seconds the call was held locally; ``reason`` names the limit.
    """

    def __init__(self, message: str, *, waited: float, reason: str, url: str = "") -> None:
        super().__init__(message, url=url)
        self.waited = waited
        self.reason = reason


class StreamTruncatedError(APIConnectionError):
    """A stream ended without its terminator: the answer is incomplete, never returned as done."""


class TLSVerificationError(APIConnectionError):
    """The server's TLS certificate was not trusted: a retry cannot fix it, so none is made.

    The usual cause is a corporate proxy or private CA; the message says which setting
    (``SSL_CERT_FILE`` / ``SSL_CERT_DIR``, ``ca_bundle``, ``use_truststore``) to change.
    """


class ProxyAuthenticationError(APIConnectionError):
    """The configured proxy answered ``407``: its credentials are missing or wrong (not retried)."""


class IncompleteResponseError(APIConnectionError):
    """The server answered (status and headers arrived) but the body was cut short.

    ``received`` is how many body bytes arrived before the connection ended.
    """

    def __init__(self, message: str, *, url: str = "", received: int = 0) -> None:
        super().__init__(message, url=url)
        self.received = received


class APIResponseValidationError(LunosError):
    """A 2xx response whose body is not what the route promises (HTML, bad JSON, empty)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body_excerpt: str = "",
        request_id: str | None = None,
        raw_body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.request_id = request_id
        self._raw_body = _Withheld(raw_body)

    @property
    def raw_body(self) -> Any:
        """The body exactly as received, *unscrubbed*: it may hold an echoed API key.

        ``body_excerpt`` and the message are scrubbed; read this only to debug, and never
        log it. ``None`` when not kept, and after unpickling.
        """
        return _raw_of(self)


class ResponseTooLargeError(APIResponseValidationError):
    """A response (or one line of a stream) grew past ``max_response_bytes``.

    Counted on decompressed bytes while reading, so a compression bomb is refused once the
    limit is reached; ``limit`` is the limit in force, which can be raised per client.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: int,
        status_code: int = 200,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, request_id=request_id)
        self.limit = limit


class BudgetExceededError(LunosError):
    """A spend limit of ``track_usage()`` refused a call, or ended its stream.

    Raised before any byte of the refused attempt is sent, or (``partial_text`` set) while
    a stream ran past the limit: the stream was closed and its text is *not* a complete
    answer. Figures are USD; ``limit`` names what refused (``"budget_usd"``,
    ``"budgets['support']"`` or ``"min_balance"``, whose figures are in the unit of
    ``GET /v1/balance``). It is not retryable: retry middleware and fallbacks that try
    again under the same budget are refused the same way.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        budget: float,
        spent: float,
        reserved: float = 0.0,
        worst_case: float | None = None,
        model: str | None = None,
        app_id: str | None = None,
        partial_text: str | None = None,
        cost_so_far: float | None = None,
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.budget = budget
        self.spent = spent
        self.reserved = reserved
        #: This call's (or attempt's) worst-case cost; ``None`` when the price is unknown.
        self.worst_case = worst_case
        self.model = model
        self.app_id = app_id
        #: For a stream cut at the limit: what it had produced (never a complete answer).
        self.partial_text = partial_text
        self.cost_so_far = cost_so_far


class WireFormatError(LunosError, ValueError):
    """A response or stream event does not have the shape its route promises.

    Raised by the pure wire codecs (which know no HTTP status). Callers never see it bare:
    the client re-raises it, for whole replies and stream events alike, as
    :class:`APIResponseValidationError` with the status and request id attached.
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
        raw_body: Any = None,
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
        self._raw_body = _Withheld(raw_body)

    @property
    def raw_body(self) -> Any:
        """The error body exactly as received, *unscrubbed*: it may hold an echoed API key.

        ``body``, ``message`` and ``str(exc)`` are scrubbed (the key, ``Bearer`` tokens and
        ``x-api-key`` values replaced by ``***``); read this only to debug, and never log
        it. ``None`` when not kept, and after unpickling.
        """
        return _raw_of(self)


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


def scrub_error(error: LunosError, secrets: Secrets = NO_SECRETS) -> LunosError:
    """Scrub, in place, an error built from server text by code that has no secrets at hand
    (the pure wire codecs quote the body they could not decode).

    Its message is scrubbed; an exception chained to it that holds a secret (a JSON
    parser's error keeps the whole document as ``doc``) is detached, since it cannot be
    scrubbed without rebuilding it and the message already says what was wrong.
    """
    error.args = tuple(scrub_text(a, secrets) if isinstance(a, str) else a for a in error.args)
    link = error.__cause__ or error.__context__
    depth = 0
    while link is not None and depth < 8:
        text = f"{link} {getattr(link, '__dict__', '')!r}"
        if scrub_text(text, secrets) != text:
            error.__cause__ = error.__context__ = None
            error.__suppress_context__ = True
            break
        link = link.__cause__ or link.__context__
        depth += 1
    return error


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
    ``{"type": "error", "error": {"type", "message"}}`` (Anthropic), ``{"message": ...}``,
    ``{"detail": ...}`` (FastAPI-based servers).
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
    if message is None and "detail" in body:
        # FastAPI / Starlette servers (llama-cpp-python's, many self-hosted gateways):
        # {"detail": "..."} or {"detail": [validation errors]}.
        detail = body["detail"]
        message = detail if isinstance(detail, str) else _excerpt(json.dumps(detail))
    if etype is None and isinstance(body.get("type"), str) and body.get("type") != "error":
        etype = body["type"]
    return message, code, etype, param


def error_from_response(
    status: int,
    content: bytes,
    headers: Mapping[str, str],
    *,
    request_id: str | None = None,
    secrets: Secrets = NO_SECRETS,
) -> APIStatusError:
    """Build the typed error for an HTTP error response, whatever its body looks like.

    Every piece of server text (body, message, excerpt, header values) is scrubbed of
    ``secrets`` and of bearer tokens before it is stored; ``raw_body`` keeps the original.
    """
    raw_text = content.decode("utf-8", errors="replace")
    raw: Any = None
    if raw_text.strip():
        try:
            raw = json.loads(raw_text)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            raw = None
    body = scrub_json(raw, secrets)
    message, code, etype, param = describe_error_body(body)
    if message is None:
        if raw_text.strip():
            text = scrub_text(raw_text, secrets)  # before the excerpt cuts a secret in two
            ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
            kind = "an HTML page" if "html" in ctype or text.lstrip().startswith("<") else "text"
            message = f"the server answered with {kind}, not JSON: {_excerpt(text)!r}"
            body = body if body is not None else text
        else:
            message = "the server answered with an empty body"
            body = body if body is not None else raw_text
    cls = status_error_class(status)
    kwargs: dict[str, Any] = {
        "status_code": status,
        "code": code,
        "type": etype,
        "param": param,
        "request_id": scrub_text(request_id, secrets) if request_id else request_id,
        "body": body,
        "headers": {k: scrub_text(v, secrets) for k, v in headers.items()},
        "raw_body": raw if raw is not None else raw_text,
    }
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=parse_retry_after(headers), **kwargs)
    return cls(message, **kwargs)


def error_from_stream_event(
    payload: Any, *, request_id: str | None = None, secrets: Secrets = NO_SECRETS
) -> APIStatusError:
    """Typed error for an error event that arrived inside a 200 stream.

    The event is scrubbed as in :func:`error_from_response`; ``raw_body`` keeps it as sent.
    """
    raw = payload
    payload = scrub_json(payload, secrets)
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
        "request_id": scrub_text(request_id, secrets) if request_id else request_id,
        "body": payload,
        "raw_body": raw,
    }
    if cls is RateLimitError:
        return RateLimitError(f"error inside the stream: {text}", **kwargs)
    return cls(f"error inside the stream: {text}", **kwargs)
