"""What the transport hands back, and how it reads a 2xx body or a failed connection.

Kept apart from :mod:`.http` so the request loop reads as a loop: these are the pure
pieces it calls (request ids, JSON in and out, the typed errors for a body that is not
what was asked for). No I/O happens here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .._json import loads as fast_json_loads
from ..errors import APIConnectionError, APIResponseValidationError, APITimeoutError
from ..redact import NO_SECRETS, Secrets, scrub_text
from . import bodies
from .http_lib import TIMEOUT_ERRORS

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-lunos-request-id")
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_LOADS = fast_json_loads


@dataclass(slots=True)
class JSONResponse:
    """A successful response: decoded JSON plus what callers may want to surface."""

    status_code: int
    data: Any
    headers: httpx.Headers
    request_id: str | None
    #: Seconds the call was held by the rate governor before its attempts were sent.
    waited: float = 0.0


@dataclass(slots=True)
class StreamEvent:
    """One decoded stream event; ``event`` is the SSE event name (Anthropic) or ``None``."""

    event: str | None
    data: Any
    #: Only on the first event of a stream: the response's request id header, if any.
    request_id: str | None = None


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def encode_body(body: Any) -> bytes:
    return _DUMPS(body).encode("utf-8")


def decode_json_body(
    response: httpx.Response, content: bytes | bytearray, secrets: Secrets = NO_SECRETS
) -> Any:
    """The JSON of a 2xx body, or a typed error naming what actually came back (with any
    echoed secret scrubbed from the excerpt)."""
    rid = request_id_of(response.headers)
    invalid_at = -1
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:  # kept for the message below; the body may not be JSON
        invalid_at = exc.start
        text = content.decode("utf-8", errors="replace")
    bodies.free_after_decode(content)  # the text is the one copy from here on
    ctype = response.headers.get("content-type", "")
    if not text.strip():
        raise APIResponseValidationError(
            f"Lunos returned status {response.status_code} with an empty body "
            "where JSON was expected",
            status_code=response.status_code,
            request_id=rid,
        )
    try:
        data = _LOADS(text)
    except RecursionError:
        raise APIResponseValidationError(
            f"Lunos returned status {response.status_code} with JSON nested deeper than the "
            "parser follows (thousands of levels); no real reply looks like that.",
            status_code=response.status_code,
            request_id=rid,
        ) from None
    except ValueError:
        pass
    else:
        if invalid_at < 0:
            return data
        # JSON is UTF-8 (RFC 8259). Replacing the bad bytes would hand back an answer that
        # is not the one sent, with nothing to say so: refuse it, as a stream does.
        raise APIResponseValidationError(
            f"Lunos returned status {response.status_code} with a JSON body that is not "
            f"valid UTF-8 (first bad byte at offset {invalid_at}); the answer was not "
            "returned because its text would have been altered. A proxy re-encoding the "
            "body is the usual cause.",
            status_code=response.status_code,
            request_id=rid,
        )
    # Raised here, not in the except block: the parser's error would stay attached as
    # __context__, and its ``doc`` attribute is the whole unscrubbed body.
    excerpt = " ".join(scrub_text(text, secrets).split())[:200]
    kind = "an HTML page" if "html" in ctype or text.lstrip().startswith("<") else "non-JSON"
    raise APIResponseValidationError(
        f"Lunos returned status {response.status_code} with {kind} "
        f"(content-type {ctype or 'missing'}) where JSON was expected: {excerpt!r}. "
        "A proxy or wrong base_url is the usual cause.",
        status_code=response.status_code,
        body_excerpt=excerpt,
        request_id=rid,
        raw_body=text,
    )


def connection_error(exc: Exception, url: str) -> APIConnectionError:
    if isinstance(exc, TIMEOUT_ERRORS):
        return APITimeoutError(f"Request to {url} timed out ({type(exc).__name__}).", url=url)
    return APIConnectionError(
        f"Could not reach {url}: {type(exc).__name__}: {exc}. "
        "Check the network, base_url and any proxy settings.",
        url=url,
    )


def check_stream_response(response: httpx.Response) -> None:
    """A 2xx answer to a stream request must be an event stream, not a JSON or HTML page."""
    ctype = response.headers.get("content-type", "")
    if not ctype or "text/event-stream" in ctype:
        return
    raise APIResponseValidationError(
        f"Lunos answered a streaming request with status {response.status_code} and "
        f"content-type {ctype!r} instead of text/event-stream. A proxy or a wrong base_url "
        "is the usual cause.",
        status_code=response.status_code,
        request_id=request_id_of(response.headers),
    )
