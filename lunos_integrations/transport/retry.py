"""The one retry policy of the package: what is retried, and how long to wait.

There is exactly one retry layer (in the transport). Framework adapters must not add their
own: nested retries multiply attempts and hide the real failure.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from ..errors import parse_retry_after

#: Statuses worth another attempt: timeouts, conflicts, rate limits, transient server errors.
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
#: Statuses that will fail the same way again: never retried, whatever the server hints.
NEVER_RETRY_STATUSES = frozenset({400, 401, 402, 403, 404, 422})


def should_retry_status(status: int, headers: Mapping[str, str]) -> bool:
    """Whether a response with ``status`` should be retried.

    An explicit ``x-should-retry: true|false`` header from the server wins, except that
    client errors which cannot succeed on a second try are never retried.
    """
    if status in NEVER_RETRY_STATUSES:
        return False
    hint = headers.get("x-should-retry")
    if hint is not None:
        lowered = hint.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return status in RETRYABLE_STATUSES


def retry_delay(
    attempt: int,
    headers: Mapping[str, str] | None,
    *,
    backoff: float,
    cap: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 0).

    The server's ``retry-after-ms`` / ``Retry-After`` is honoured when present (bounded by
    ``cap``); otherwise exponential backoff ``backoff * 2**attempt`` with "equal jitter"
    (between half and all of the step) so that many clients do not retry in lockstep.
    """
    if headers is not None:
        asked = parse_retry_after(headers)
        if asked is not None:
            return min(asked, cap)
    step = min(cap, backoff * (2.0**attempt))
    r: float = (rng or random).random()
    return step * (0.5 + 0.5 * r)
