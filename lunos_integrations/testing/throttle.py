"""Throttling for :class:`LocalLunosServer`: the ways real gateways refuse load.

Why: code that runs batches must be tested against a gateway that says no. A
:class:`Throttle` handed to ``LocalLunosServer(throttle=...)`` refuses model calls (every
``POST``; catalog and balance ``GET`` requests pass untouched) the way gateways do:

* a per-key token bucket - ``rate`` requests per second, ``burst`` at once - answering
  429 beyond it, with ``Retry-After: <retry_after>`` when that is set (else no header);
* a cap of ``max_inflight`` requests being served at once per key (429 beyond it);
* an outage - ``outage`` seconds of ``outage_status`` (503) from the first model call
  (or from :meth:`Throttle.start_outage`), then healthy again;
* ``service_time`` seconds taken by every admitted request (so concurrency matters).

It counts what it did: ``admitted``, ``refused`` (429), ``failed`` (5xx), ``peak_inflight``,
and every arrival's time and verdict (:meth:`Throttle.arrivals`), measured on the server's
own clock, so tests assert on what reached the server rather than on client timing.
Standard library only, like the rest of :mod:`lunos_integrations.testing`.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["admitted", "refused", "failed"]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One model call as the throttle saw it: seconds since the first, key digest, verdict."""

    at: float
    key: str
    verdict: Verdict


@dataclass(slots=True)
class Refusal:
    """What the server answers instead of the request."""

    status: int
    message: str
    code: str
    headers: dict[str, str] = field(default_factory=dict)


class Ticket:
    """One admitted request; :meth:`leave` when its answer is written (in-flight count)."""

    __slots__ = ("_left", "_throttle", "key", "refusal", "service_time")

    def __init__(
        self, throttle: Throttle, key: str, refusal: Refusal | None, service_time: float
    ) -> None:
        self._throttle = throttle
        self._left = refusal is not None
        self.key = key
        self.refusal = refusal
        self.service_time = service_time

    def leave(self) -> None:
        if not self._left:
            self._left = True
            self._throttle._leave(self.key)


class Throttle:
    """Per-key limits for :class:`LocalLunosServer` (see the module docstring)."""

    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: float = 1.0,
        retry_after: float | None = None,
        max_inflight: int | None = None,
        outage: float = 0.0,
        outage_status: int = 503,
        service_time: float = 0.0,
        headers: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and not rate > 0:
            raise ValueError(f"rate must be > 0 requests per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst!r}")
        if max_inflight is not None and max_inflight < 1:
            raise ValueError(f"max_inflight must be >= 1, got {max_inflight!r}")
        self.rate = rate
        self.burst = float(burst)
        self.retry_after = retry_after
        self.max_inflight = max_inflight
        self.outage = outage
        self.outage_status = outage_status
        self.service_time = service_time
        #: Send OpenAI-style ``x-ratelimit-remaining-requests`` / ``-reset-requests``.
        self.headers = headers
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._inflight: dict[str, int] = {}
        self._outage_from: float | None = None
        self._first: float | None = None
        self._arrivals: list[Arrival] = []
        self.admitted = 0
        self.refused = 0
        self.failed = 0
        self.peak_inflight = 0

    def __repr__(self) -> str:
        return (
            f"Throttle(rate={self.rate!r}, burst={self.burst!r}, retry_after={self.retry_after!r}"
            f", max_inflight={self.max_inflight!r}, outage={self.outage!r}, "
            f"admitted={self.admitted}, refused={self.refused}, failed={self.failed})"
        )

    # ------------------------------------------------------------------ control

    def start_outage(self, seconds: float) -> None:
        """Answer ``outage_status`` to every model call for ``seconds`` from now."""
        with self._lock:
            self.outage = seconds
            self._outage_from = self._clock()

    def arrivals(self, verdict: Verdict | None = None) -> list[float]:
        """Arrival times (seconds since the first model call), optionally of one verdict."""
        with self._lock:
            return [a.at for a in self._arrivals if verdict is None or a.verdict == verdict]

    def records(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def per_window(self, width: float, verdict: Verdict | None = None) -> list[int]:
        """Arrivals counted in consecutive windows of ``width`` seconds."""
        times = self.arrivals(verdict)
        if not times:
            return []
        counts = [0] * (int(max(times) / width) + 1)
        for t in times:
            counts[int(t / width)] += 1
        return counts

    # ------------------------------------------------------------------ the server's hooks

    def enter(self, method: str, headers: Mapping[str, str]) -> Ticket | None:
        """Decide one request (None: not a model call, not throttled)."""
        if method != "POST":
            return None
        auth = headers.get("authorization") or headers.get("x-api-key") or ""
        key = hashlib.sha256(auth.encode()).hexdigest()[:12]
        with self._lock:
            now = self._clock()
            if self._first is None:
                self._first = now
                if self.outage > 0 and self._outage_from is None:
                    self._outage_from = now
            refusal = self._decide(key, now)
            verdict: Verdict = "admitted"
            if refusal is None:
                self.admitted += 1
                count = self._inflight.get(key, 0) + 1
                self._inflight[key] = count
                self.peak_inflight = max(self.peak_inflight, count)
            elif refusal.status == 429:
                self.refused += 1
                verdict = "refused"
            else:
                self.failed += 1
                verdict = "failed"
            self._arrivals.append(Arrival(now - self._first, key, verdict))
        return Ticket(self, key, refusal, self.service_time if refusal is None else 0.0)

    def _leave(self, key: str) -> None:
        with self._lock:
            self._inflight[key] = self._inflight.get(key, 1) - 1

    def _decide(self, key: str, now: float) -> Refusal | None:
        start = self._outage_from
        if start is not None and now - start < self.outage:
            return Refusal(self.outage_status, "Service temporarily unavailable", "overloaded")
        if self.max_inflight is not None and self._inflight.get(key, 0) >= self.max_inflight:
            return Refusal(429, "Too many requests in flight for this key", "rate_limit_exceeded")
        if self.rate is None:
            return None
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return None
        self._buckets[key] = (tokens, now)
        refusal = Refusal(429, "Rate limit exceeded for this key", "rate_limit_exceeded")
        if self.retry_after is not None:
            refusal.headers["Retry-After"] = f"{self.retry_after:g}"
        if self.headers:
            refusal.headers.update(self._limit_headers(tokens))
        return refusal

    def _limit_headers(self, tokens: float) -> dict[str, str]:
        assert self.rate is not None
        remaining = max(0, math.floor(tokens))
        reset = (1.0 - (tokens - remaining)) / self.rate if remaining == 0 else 0.0
        return {
            "x-ratelimit-limit-requests": f"{self.rate * 60:g}",
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": f"{max(reset, 0.001):.3f}s",
        }
