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
* :class:`InflightLimit` - AIMD on the number of attempts in flight: lowered to what is
  still in flight when a refusal comes back, never below what the learned rate needs, and
  raised by one per four limits' worth of successes.

Everything here is pure arithmetic on a ``now`` the caller passes, so tests drive it with
a fake clock.
"""

from __future__ import annotations

import math
from collections import deque

#: Multiplicative decrease on a refusal. CUBIC's beta is 0.7; a gentler 0.8 here, because a
#: refusal that carries Retry-After also pauses the whole key.
BETA = 0.8
#: Seconds the cubic curve takes to come back to the rate at the last refusal.
RECOVERY_S = 3.0
#: Shortest epoch over which the accepted rate is measured (and the window measured).
MEASURE_S = 1.0
#: Refusals of attempts sent this soon after an epoch began belong to the event that
#: ended the previous one (they were booked or in flight when the rate fell).
GRACE_S = 0.1
#: In slow start (no measured rate yet) the rate doubles this often.
SLOW_START_DOUBLING_S = 0.5
#: Where a slow start begins at the least (requests per second), like TCP's initial window:
#: the first refusals of a batch often come back before any success has.
SLOW_START_MIN = 4.0
#: The learned rate never goes below this (requests per second): a key that refuses
#: everything is handled by Retry-After or by the health tracker, not by starving calls.
MIN_RATE = 0.5


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
    """The sending rate learned from refusals; ``rate is None`` until the first one.

    At a refusal, the rate the gateway accepts is measured as the accepted answers of the
    last second of sending (time paused on the gateway's request left out). When too little
    has been sent to measure (the first burst of a batch is refused within milliseconds),
    a slow start begins instead: the rate doubles every half second until a refusal
    measures it. Refusals of attempts sent just after a congestion event belong to it
    (they were booked or in flight) and are not counted again.
    """

    __slots__ = (
        "_c",
        "_epoch_start",
        "_first_sent",
        "_k",
        "_last_refusal",
        "_pacer",
        "_recent",
        "_resumed_at",
        "_slow_start",
        "_w_max",
        "rate",
    )

    def __init__(self) -> None:
        self.rate: float | None = None
        self._w_max = 0.0
        self._k = RECOVERY_S
        self._c = 0.0
        self._last_refusal = -math.inf
        self._epoch_start: float | None = None
        self._first_sent = math.inf
        self._resumed_at = -math.inf
        self._slow_start = False
        #: Answer times of accepted attempts within the last MEASURE_S.
        self._recent: deque[float] = deque()
        self._pacer: Pacer | None = None

    def on_sent(self, now: float) -> None:
        if self._epoch_start is None:
            self._epoch_start = self._first_sent = now

    def on_accepted(self, sent_at: float, now: float) -> None:
        """An attempt sent at ``sent_at`` was not refused: count it and grow the rate."""
        recent = self._recent
        recent.append(now)
        while recent[0] < now - MEASURE_S or len(recent) > 100_000:
            recent.popleft()
        rate = self.rate
        if rate is None:
            return
        t = now - self._last_refusal
        if t <= 0:
            return
        if self._slow_start:
            grown = self._w_max * 2.0 ** (t / SLOW_START_DOUBLING_S)
        else:
            grown = self._c * (t - self._k) ** 3 + self._w_max
        self._set(max(MIN_RATE, grown))

    def accepted_rate(self, now: float) -> float | None:
        """Accepted answers per second over the last :data:`MEASURE_S` of sending (time in
        a pause excluded); None when less than half of that has passed since it resumed."""
        start = max(now - MEASURE_S, self._resumed_at)
        if self._epoch_start is None or start < self._first_sent or now - start < MEASURE_S / 2:
            return None
        return sum(1 for at in self._recent if at >= start) / (now - start)

    def on_refused(self, sent_at: float, now: float, resume_at: float) -> bool:
        """A 429 at ``now`` for an attempt sent at ``sent_at``; sending resumes at
        ``resume_at`` (after any pause asked for). False when it belongs to a congestion
        event already counted: an attempt sent before the current epoch began."""
        if sent_at < self._last_refusal + GRACE_S:
            return False
        measured = self.accepted_rate(now)
        if measured is not None and measured > 0:
            self._slow_start = False
            self._w_max = max(MIN_RATE, measured)
            self._c = self._w_max * (1.0 - BETA) / RECOVERY_S**3
            self._k = RECOVERY_S
            rate = self._w_max * BETA
        else:
            self._slow_start = True
            base = self.rate * BETA if self.rate is not None else float(len(self._recent))
            self._w_max = rate = max(SLOW_START_MIN, base)
        self._last_refusal = resume_at
        self._epoch_start = resume_at
        if resume_at > now:
            self._resumed_at = resume_at
        self._set(max(MIN_RATE, rate))
        return True

    def _set(self, rate: float) -> None:
        self.rate = rate
        if self._pacer is None:
            self._pacer = Pacer(rate)
        else:
            self._pacer.rate = rate

    def delay(self, now: float) -> float:
        return 0.0 if self._pacer is None else self._pacer.delay(now)

    def reserve(self, now: float) -> float:
        """The time one attempt may be sent at the learned rate (``now`` when unlimited)."""
        if self._pacer is None:
            return now
        return self._pacer.reserve(now)


class InflightLimit:
    """Attempts allowed in flight at once; ``limit is None`` until a concurrency refusal.

    A refusal (without Retry-After) lowers the limit to the number of our attempts still in
    flight when it came back: with a concurrency cap, the refused burst returns at once and
    the count left is what the gateway is serving. The limit never goes below what the
    learned rate needs (rate x latency, Little's law), so a rate limit, whose refusals come
    back while few attempts are in flight, is left to the rate. Successes add one slot per
    four limits' worth (additive increase).
    """

    __slots__ = ("_ceiling", "_credit", "_set_at", "latency", "limit")

    def __init__(self, ceiling: int = 10_000) -> None:
        self.limit: int | None = None
        self._ceiling = ceiling
        self._credit = 0.0
        self._set_at = -math.inf
        #: Smoothed seconds from send to answer of accepted attempts.
        self.latency: float | None = None

    def allows(self, inflight: int, rate: float | None = None) -> bool:
        """Whether one more attempt may go with ``inflight`` in flight (at ``rate``)."""
        limit = self.limit
        if limit is None or inflight < limit:
            return True
        return inflight < self._floor(rate)

    def _floor(self, rate: float | None) -> int:
        """What the rate needs in flight (Little's law, with room): never limited below."""
        if rate is None or self.latency is None:
            return 1
        return max(1, math.ceil(rate * self.latency * 1.5))

    def on_accepted(self, sent_at: float, now: float) -> None:
        took = max(0.0, now - sent_at)
        self.latency = took if self.latency is None else 0.8 * self.latency + 0.2 * took
        if self.limit is not None:
            # Additive increase, slowly: +1 per four windows of successes (each probe above
            # a real cap costs a refusal).
            self._credit += 0.25 / self.limit
            if self._credit >= 1.0:
                self._credit = 0.0
                self.limit += 1
                if self.limit >= self._ceiling:
                    self.limit = None

    def on_refused(
        self,
        inflight_now: int,
        inflight_at_send: int,
        sent_at: float,
        now: float,
        rate: float | None,
    ) -> bool:
        """A 429 came back with ``inflight_now`` other attempts in flight (it was sent at
        ``sent_at`` with ``inflight_at_send``, itself included); True when the concurrency
        explains it (and the limit is now at most that), False when the rate must be the
        cause: it was sent under the current limit with room to spare, or too few are in
        flight for a cap to explain it."""
        if inflight_now < max(1, self._floor(rate)):
            return False
        limit = self.limit
        if limit is not None and sent_at >= self._set_at and inflight_at_send < limit:
            return False
        if limit is None or inflight_now < limit:
            self.limit = inflight_now
            self._set_at = now
            self._credit = 0.0
        return True
