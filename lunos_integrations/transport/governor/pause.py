"""Pauses the gateway asks for, and the spread with which held attempts leave one.

Why: ``Retry-After: 1`` obeyed by each call on its own brings every refused call back at
the same instant, and the gateway refuses that herd again (refusals per 250 ms: 49, then 49
at t = 1 s, then 84-93 at t = 2 s). Here a 429 that says when to come back pauses every new
attempt on the key until then, and the held attempts are released one after another, a
short jittered gap apart, instead of all at the end of the pause.

Rate-limit headers (OpenAI style ``x-ratelimit-remaining-requests`` /
``x-ratelimit-reset-requests``, the ``-tokens`` pair, and LiteLLM's per-key
``x-ratelimit-api_key-*`` variants) are read here too: no requests left means a pause until
the reset; a few left means at most that many until the reset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Gap between two held attempts released after a pause, seconds (scaled down for short
#: pauses): 50 held attempts leave over half a second, a lone one at once.
GAP_S = 0.01

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def spread_for(pause: float) -> float:
    """The release gap after a pause of ``pause`` seconds: GAP_S, less for short pauses."""
    return min(GAP_S, max(0.001, pause / 50.0))


def parse_duration(text: str) -> float | None:
    """``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"`` or plain seconds; None if unreadable."""
    raw = text.strip().lower()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return value if value >= 0 and math.isfinite(value) else None
    total, pos = 0.0, 0
    for match in _DURATION.finditer(raw):
        if match.start() != pos:
            return None
        total += float(match[1]) * _UNITS[match[2]]
        pos = match.end()
    return total if pos == len(raw) and pos > 0 else None


@dataclass(frozen=True, slots=True)
class HeaderLimits:
    """What a response's rate-limit headers say about the next requests."""

    #: Requests left in the current window and seconds until it resets (both or neither).
    remaining: float | None = None
    reset_s: float | None = None

    def pause_s(self) -> float | None:
        """Seconds to pause everyone when nothing is left."""
        if self.remaining is not None and self.remaining <= 0 and self.reset_s is not None:
            return self.reset_s
        return None

    def rate(self) -> float | None:
        """The rate that spends what is left exactly by the reset."""
        if self.remaining is None or self.reset_s is None or self.remaining <= 0:
            return None
        return self.remaining / max(self.reset_s, 0.001)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def has_rate_headers(headers: Mapping[str, str]) -> bool:
    """Whether any header name starts with ``x-ratelimit`` (cheap: one pass, no lookups)."""
    raw = getattr(headers, "raw", None)  # httpx.Headers: bytes names, no re-encoding
    if raw is not None:
        return any(name[:11].lower() == b"x-ratelimit" for name, _ in raw)
    return any(name[:11].lower() == "x-ratelimit" for name in headers)


def header_limits(headers: Mapping[str, str]) -> HeaderLimits | None:
    """The tightest of the request and token windows a response announces, or None."""
    best: HeaderLimits | None = None
    for kind in ("requests", "tokens"):
        for prefix in ("x-ratelimit-", "x-ratelimit-api_key-"):
            remaining = _number(headers.get(f"{prefix}remaining-{kind}"))
            if remaining is None:
                continue
            reset_raw = headers.get(f"{prefix}reset-{kind}")
            reset = parse_duration(reset_raw) if reset_raw is not None else None
            if reset is None:
                continue
            if kind == "tokens" and remaining > 0:
                # A token window empties when too few are left for a typical call; the
                # request count it allows is unknown, so only "none left" is used.
                continue
            found = HeaderLimits(remaining, reset)
            if best is None or _tighter(found, best):
                best = found
    return best


def _tighter(a: HeaderLimits, b: HeaderLimits) -> bool:
    pa, pb = a.pause_s(), b.pause_s()
    if pa is not None or pb is not None:
        return (pa or 0.0) > (pb or 0.0)
    ra, rb = a.rate(), b.rate()
    return ra is not None and (rb is None or ra < rb)
