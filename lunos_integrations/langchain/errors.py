"""Lunos errors re-raised as ``langchain_core.exceptions`` model errors.

Why: LangChain code (retry middleware, fallbacks, agents) catches core's provider-neutral
types such as ``ModelRateLimitError``; Lunos users catch ``lunos_integrations`` types such
as ``RateLimitError``. Each class below inherits from both, so either ``except`` works, and
the original error stays attached as ``__cause__``. Errors core has no type for (402
insufficient balance, 409, local input errors) pass through unchanged; a spend limit's
refusal is a plain ``ModelError`` (core has no budget type), which retry middleware does
not retry.
"""

from __future__ import annotations

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from ..errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BudgetExceededError,
    IncompleteResponseError,
    InternalServerError,
    LunosError,
    NotFoundError,
    PermissionDeniedError,
    ProxyAuthenticationError,
    RateLimitError,
    StreamIdleTimeoutError,
    StreamTruncatedError,
    TLSVerificationError,
    UnprocessableEntityError,
)

__all__ = [
    "LunosAPIError",
    "LunosAuthenticationError",
    "LunosBudgetExceededError",
    "LunosConnectionError",
    "LunosContextOverflowError",
    "LunosIncompleteResponseError",
    "LunosInvalidRequestError",
    "LunosModelNotFoundError",
    "LunosPermissionDeniedError",
    "LunosProxyAuthenticationError",
    "LunosRateLimitError",
    "LunosStreamIdleTimeoutError",
    "LunosStreamTruncatedError",
    "LunosTLSVerificationError",
    "LunosTimeoutError",
    "LunosUnprocessableEntityError",
    "to_langchain_error",
]


class LunosContextOverflowError(BadRequestError, ContextOverflowError):
    """The prompt does not fit the model's context window."""


class LunosInvalidRequestError(BadRequestError, ModelInvalidRequestError):
    """400: the request was rejected as invalid."""


class LunosUnprocessableEntityError(UnprocessableEntityError, ModelInvalidRequestError):
    """422: well-formed but semantically invalid."""


class LunosAuthenticationError(AuthenticationError, ModelAuthenticationError):
    """401: missing, invalid or expired key."""


class LunosPermissionDeniedError(PermissionDeniedError, ModelPermissionDeniedError):
    """403: the key may not use this model or route."""


class LunosModelNotFoundError(NotFoundError, ModelNotFoundError):
    """404: unknown model (or route)."""


class LunosRateLimitError(RateLimitError, ModelRateLimitError):
    """429: slow down; ``retry_after`` carries the server's wait when it sent one."""


class LunosAPIError(InternalServerError, ModelAPIError):
    """5xx: a Lunos or upstream provider failure."""


class LunosConnectionError(APIConnectionError, ModelConnectionError):
    """The server could not be reached or the connection broke."""


class LunosTimeoutError(APITimeoutError, ModelTimeoutError):
    """The request timed out."""


class LunosStreamIdleTimeoutError(StreamIdleTimeoutError, ModelTimeoutError):
    """A stream went silent for longer than the idle timeout."""


class LunosStreamTruncatedError(StreamTruncatedError, ModelConnectionError):
    """A stream ended before its terminator; the answer is incomplete."""


class LunosBudgetExceededError(BudgetExceededError, ModelError):
    """A ``track_usage()`` spend limit refused the call (or cut its stream); not retryable."""


class LunosTLSVerificationError(TLSVerificationError, ModelConnectionError):
    """The server's certificate was not trusted (not retried; the message says what to set)."""


class LunosProxyAuthenticationError(ProxyAuthenticationError, ModelConnectionError):
    """The proxy answered 407 (not retried)."""


class LunosIncompleteResponseError(IncompleteResponseError, ModelConnectionError):
    """The server answered but the body was cut short."""


# Most specific first: the first matching base decides.
_MAPPING: tuple[tuple[type[LunosError], type[LunosError]], ...] = (
    (BudgetExceededError, LunosBudgetExceededError),
    (RateLimitError, LunosRateLimitError),
    (AuthenticationError, LunosAuthenticationError),
    (PermissionDeniedError, LunosPermissionDeniedError),
    (NotFoundError, LunosModelNotFoundError),
    (UnprocessableEntityError, LunosUnprocessableEntityError),
    (BadRequestError, LunosInvalidRequestError),
    (InternalServerError, LunosAPIError),
    (StreamIdleTimeoutError, LunosStreamIdleTimeoutError),
    (APITimeoutError, LunosTimeoutError),
    (StreamTruncatedError, LunosStreamTruncatedError),
    (TLSVerificationError, LunosTLSVerificationError),
    (ProxyAuthenticationError, LunosProxyAuthenticationError),
    (IncompleteResponseError, LunosIncompleteResponseError),
    (APIConnectionError, LunosConnectionError),
)

# Phrases providers use for "prompt too long"; Lunos documents none (lunos-api.md §10.9).
_OVERFLOW_MARKERS = (
    "context_length_exceeded",
    "context length",
    "context window",
    "maximum context",
    "prompt is too long",
    "input tokens exceed",
    "too many tokens",
    "request_too_large",
)


def _is_context_overflow(error: APIStatusError) -> bool:
    if error.status_code not in (400, 413, 422):
        return False
    text = f"{error.message} {error.code or ''} {error.type or ''}".lower()
    return any(marker in text for marker in _OVERFLOW_MARKERS)


def _clone(error: LunosError, cls: type[LunosError]) -> LunosError:
    """Same attributes and message, new class; ``__init__`` is not re-run (it adds hints)."""
    new = cls.__new__(cls)
    new.args = error.args
    new.__dict__.update(error.__dict__)
    return new


def to_langchain_error(error: BaseException) -> BaseException:
    """The error to raise in place of ``error`` (itself when core has no matching type)."""
    if isinstance(error, ModelError) or not isinstance(error, LunosError):
        return error
    if isinstance(error, APIStatusError) and _is_context_overflow(error):
        return _clone(error, LunosContextOverflowError)
    for base, target in _MAPPING:
        if isinstance(error, base):
            return _clone(error, target)
    return error
