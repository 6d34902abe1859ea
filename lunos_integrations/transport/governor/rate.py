"""How fast and how many at once: the learned sending rate and the learned in-flight limit.

Why learned: Lunos publishes no rate limits, and the gateway in front of a key may count
requests per second, tokens per minute or requests in flight. A refusal (429) is the only
signal every gateway sends, so both limits start open and are found from refusals, the way
the AWS SDKs' adaptive retry mode and TCP congestion control find theirs:

* :class:`RateEstimator` - CUBIC: on a refusal the rate drops to ``BETA`` times the rate the
  gateway was observed to accept; afterwards it grows along a cubic curve that is back at
  that rate after ``RECOVERY_S`` seconds and then probes upward, faster the longer no
  refusal comes. Attempts are spaced by the generic cell-rate algorithm (a token bucket
  kept as one "theoretical arrival time"), so a held burst leaves one by one.
* :class:`InflightLimit` - AIMD on the number of attempts in flight, lowered only when a
  refusal arrives at a concurrency higher than any recent success had (a concurrency cap,
  not a rate, refused it) and raised by one per limit's worth of successes.

Everything here is pure arithmetic on a ``now`` the caller passes, so tests drive it with
a fake clock.
"""

from __future__ import annotations

import math

#: Multiplicative decrease on a refusal (CUBIC's beta; AWS adaptive mode uses 0.7).
BETA = 0.7
#: Seconds the cubic curve takes to come back to the rate at the last refusal.
RECOVERY_S = 2.0
#: Width of the window over which the accepted rate is measured.
MEASURE_S = 1.0
#: The learned rate never goes below this (requests per second): a key that refuses
#: everything is handled by Retry-After or by the health tracker, not by starving calls.
MIN_RATE = 0.5
#: How long a recent success's concurrency is remembered by the in-flight learner.
INFLIGHT_MEMORY_S = 2.0


class Pacer:
    """Spaces attempts at ``rate`` per second with a burst of ``burst`` (GCRA)."""

    __slots__ = ("burst", "rate", "tat")

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = burst
        #: Theoretical arrival time of the next attempt at the nominal rate.
        self.tat = -math.inf

    def reserve(self, now: float, cost: float = 1.0) -> float:
        """Book one attempt (``cost`` units); returns the time it may be sent (>= now)."""
        interval = cost / self.rate
        tolerance = (self.burst - 1.0) / self.rate if self.burst > 1 else 0.0
        tat = max(self.tat, now)
        at = max(now, tat - tolerance)
        self.tat = max(tat, at) + interval
        return at

    def delay(self, now: float) -> float:
        """Seconds until one more unit would be admitted, without booking it."""
        tolerance = (self.burst - 1.0) / self.rate if self.burst > 1 else 0.0
        return max(0.0, max(self.tat, now) - tolerance - now)


class RateEstimator:
    """The sending rate learned from refusals; ``rate is None`` until the first one."""

    __slots__ = ("_accepted", "_c", "_k", "_last_refusal", "_pacer", "_w_max", "rate")

    def __init__(self) -> None:
        self.rate: float | None = None
        self._w_max = 0.0
        self._k = RECOVERY_S
        self._c = 0.0
        self._last_refusal = -math.inf
        #: Send times of recent accepted attempts (for the measured rate).
        self._accepted: list[float] = []
        self._pacer: Pacer | None = None

    def measured(self, now: float) -> float:
        """Accepted attempts per second over the last :data:`MEASURE_S` seconds."""
        horizon = now - MEASURE_S
        acc = self._accepted
        drop = 0
        while drop < len(acc) and acc[drop] < horizon:
            drop += 1
        if drop:
            del acc[:drop]
        if not acc:
            return 0.0
        span = max(now - acc[0], 0.1) if len(acc) > 1 else MEASURE_S
        return len(acc) / min(MEASURE_S, span)

    def on_accepted(self, sent_at: float, now: float) -> None:
        """An attempt sent at ``sent_at`` was not refused: count it and grow the rate."""
        self._accepted.append(sent_at)
        if len(self._accepted) > 4096:  # bounded whatever the traffic
            del self._accepted[:2048]
        if self.rate is None:
            return
        t = now - self._last_refusal
        grown = self._c * (t - self._k) ** 3 + self._w_max
        # Never faster than twice what the gateway was seen to accept (AWS does the same).
        ceiling = max(2.0 * self.measured(now), self._w_max)
        self._set(max(MIN_RATE, min(grown, ceiling)) if t > 0 else self.rate)

    def on_refused(self, now: float) -> None:
        """A 429: drop to ``BETA`` of the accepted rate and restart the cubic curve."""
        if now - self._last_refusal < 0.1 and self.rate is not None:
            return  # one congestion event, however many refusals it produced
        accepted = self.measured(now)
        base = accepted if accepted > 0 else (self.rate or MIN_RATE * 2) * BETA
        self._w_max = max(base, MIN_RATE)
        self._c = self._w_max * (1.0 - BETA) / RECOVERY_S**3
        self._k = RECOVERY_S
        self._last_refusal = now
        self._set(max(MIN_RATE, self._w_max * BETA))

    def cap(self, rate: float | None) -> None:
        """Clamp the learned rate to a rate the gateway told us (headers)."""
        if rate is not None and (self.rate is None or rate < self.rate):
            self._set(max(MIN_RATE, rate))

    def _set(self, rate: float) -> None:
        self.rate = rate
        if self._pacer is None:
            self._pacer = Pacer(rate)
        else:
            self._pacer.rate = rate

    def reserve(self, now: float) -> float:
        """The time one attempt may be sent at the learned rate (``now`` when unlimited)."""
        if self._pacer is None:
            return now
        return self._pacer.reserve(now)


class InflightLimit:
    """Attempts allowed in flight at once; ``limit is None`` until a concurrency refusal."""

    __slots__ = ("_ok_at", "_ok_max", "_ceiling", "_credit", "limit")

    def __init__(self, ceiling: int = 10_000) -> None:
        self.limit: int | None = None
        self._ceiling = ceiling
        self._ok_max = 0
        self._ok_at = -math.inf
        self._credit = 0.0

    def allows(self, inflight: int) -> bool:
        return self.limit is None or inflight < self.limit

    def on_accepted(self, inflight_at_send: int, now: float) -> None:
        if now - self._ok_at > INFLIGHT_MEMORY_S:
            self._ok_max = 0
        self._ok_max = max(self._ok_max, inflight_at_send)
        self._ok_at = now
        if self.limit is not None:
            self._credit += 1.0 / self.limit  # additive increase: +1 per window of successes
            if self._credit >= 1.0:
                self._credit = 0.0
                self.limit += 1
                if self.limit >= self._ceiling:
                    self.limit = None

    def on_refused(self, inflight_at_send: int, now: float) -> bool:
        """A 429 sent at ``inflight_at_send`` concurrent attempts; True if the limit fell.

        Only a refusal at a concurrency no recent success reached says "too many at once";
        otherwise the rate, not the concurrency, was refused.
        """
        recent = self._ok_max if now - self._ok_at <= INFLIGHT_MEMORY_S else 0
        if recent <= 0 or inflight_at_send <= recent:
            return False
        new = max(1, recent)
        if self.limit is None or new < self.limit:
            self.limit = new
            self._credit = 0.0
            return True
        return False
