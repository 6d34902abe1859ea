"""The governor of one gateway key: every attempt on the key asks it when it may go.

One :class:`Governor` per (base URL, key) is shared by every model, LLM, embedder and
client of the process (see :mod:`.registry`), because a gateway throttles the key, not
the Python object: ten ``ChatLunos`` objects retrying on their own are ten herds.

Each attempt - first tries and retries alike - calls :meth:`Governor.admit` (or
:meth:`Governor.aadmit`) before it is sent and :meth:`Governor.settle` with its outcome.
In between, the governor applies, in this order: an outage in progress (hold, one probe at
a time, see :mod:`.health`); a pause the gateway asked for (Retry-After or exhausted
rate-limit headers, for every attempt on the key, released with jitter, see :mod:`.pause`);
the retry budget for retries of failures; the learned in-flight limit (FIFO hand-off);
pacing at the learned and declared rates (:mod:`.rate`).

The decision itself (:meth:`Governor.decide`) takes ``now`` as an argument and never
blocks, so the logic is tested on a fake clock; only ``admit`` / ``aadmit`` sleep. While the
gateway is healthy an attempt costs one lock round trip each way and never waits.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable, Mapping

from ..._forksafe import ForkSafeLock
from ...errors import ThrottledError
from .health import Health, RetryBudget
from .pause import GAP_S, has_rate_headers, header_limits, spread_for
from .rate import InflightLimit, Pacer, RateEstimator
from .waiting import Kind, Outcome, Ticket

__all__ = ["FAIL", "GO", "HOLD", "SLEEP", "Governor"]

#: Verdicts of :meth:`Governor.decide`.
GO, SLEEP, HOLD, FAIL = "go", "sleep", "hold", "fail"
_EPSILON = 1e-4
#: A refusal that comes back with at least this many others in flight is blamed on
#: concurrency alone (the in-flight limit falls, the rate does not).
MANY_INFLIGHT = 4
#: Pacing slots are booked at most this far ahead (see ``_decide``).
HORIZON_S = 0.1


class Governor:
    """Admission control for one key. Thread-safe; usable from any event loop."""

    def __init__(
        self,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        patience: float | None = None,
    ) -> None:
        self._lock = ForkSafeLock()
        self.clock = clock
        self._rng = rng or random.Random()
        self.rate = RateEstimator()
        self.inflight_limit = InflightLimit()
        self.health = Health() if patience is None else Health(patience)
        self.budget = RetryBudget()
        self.paused_until = -math.inf
        self._spread = 0.0
        self._rank = 0
        self.inflight = 0
        self._slot_queue: deque[Ticket] = deque()
        self._outage_queue: list[Ticket] = []
        self._rpm: Pacer | None = None
        self._tpm: Pacer | None = None
        self._header_pacer: Pacer | None = None
        self._header_until = -math.inf
        self.declare(requests_per_minute, tokens_per_minute)
        self._stats: dict[str, float] = dict.fromkeys(
            (
                "admitted",
                "held",
                "waited_s",
                "refused",
                "failed",
                "retries_denied",
                "probes",
                "outages",
                "pauses",
                "gave_up",
            ),
            0,
        )

    def __repr__(self) -> str:
        return (
            f"Governor(rate={self.rate.rate!r}, inflight_limit={self.inflight_limit.limit!r}, "
            f"inflight={self.inflight}, down={self.health.down})"
        )

    # ------------------------------------------------------------------ settings

    def declare(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        """Known limits of the key (e.g. a LiteLLM key's rpm / tpm); None leaves one as is."""
        with self._lock:
            if requests_per_minute is not None and (
                self._rpm is None or self._rpm.rate != requests_per_minute / 60.0
            ):
                per_s = requests_per_minute / 60.0
                self._rpm = Pacer(per_s, burst=max(1.0, per_s))
            if tokens_per_minute is not None and (
                self._tpm is None or self._tpm.rate != tokens_per_minute / 60.0
            ):
                per_s = tokens_per_minute / 60.0
                self._tpm = Pacer(per_s, burst=max(1.0, per_s))

    def stats(self) -> dict[str, float]:
        """Counters since this governor was created, and the current learned limits."""
        with self._lock:
            out = dict(self._stats)
            out["rate"] = self.rate.rate if self.rate.rate is not None else math.inf
            limit = self.inflight_limit.limit
            out["inflight_limit"] = math.inf if limit is None else float(limit)
            out["inflight"] = float(self.inflight)
            return out

    # ------------------------------------------------------------------ decisions

    def decide(self, ticket: Ticket, now: float) -> tuple[str, float]:
        """What ``ticket`` should do at ``now``: (GO, 0), (SLEEP, s), (HOLD, s) or (FAIL, 0).

        HOLD means: wait until woken (:meth:`Ticket.wake`) or ``s`` seconds, then ask again.
        FAIL means the key has been down longer than the outage patience: do not send.
        """
        with self._lock:
            return self._decide(ticket, now)

    def _decide(self, t: Ticket, now: float) -> tuple[str, float]:
        health = self.health
        if t.granted and (health.down or now < self.paused_until):
            self._ungrant(t)
        if health.down:
            if t.may_probe and health.may_probe(now) and self._probe_turn(t):
                health.probe_sent()
                t.probe = True
                self._stats["probes"] += 1
                return self._go(t, now)
            if health.gave_up(now):  # fail fast; probes still test recovery
                self._stats["gave_up"] += 1
                return FAIL, 0.0
            if t not in self._outage_queue:
                self._outage_queue.append(t)
            left = health.patience - (now - (health.down_since or now))
            until_probe = health.probe_at - now if not health.probing else left
            return HOLD, max(_EPSILON, min(left, until_probe))
        if now < self.paused_until:
            if t.release_at is None or t.release_at < self.paused_until:
                # In arrival order, a gap apart (jittered within it): a lone call leaves at
                # the pause's end, a herd leaves over a window that grows with its size.
                rank, self._rank = self._rank, self._rank + 1
                gap = self._spread
                t.release_at = self.paused_until + (rank + self._rng.random()) * gap
            t.slot_at = None  # a slot booked before the pause is void: book anew after it
            return SLEEP, t.release_at - now
        if t.release_at is not None and now < t.release_at - _EPSILON:
            return SLEEP, t.release_at - now
        if not t.granted:
            if t in self._slot_queue:
                return HOLD, math.inf
            if self._slot_queue or not self.inflight_limit.allows(self.inflight, self.rate.rate):
                self._slot_queue.append(t)
                return HOLD, math.inf
        if t.slot_at is None:
            # Book only slots close at hand: a slot booked far ahead at a low rate would
            # keep its place when the rate grows meanwhile.
            ahead = self._pace_delay(now)
            if ahead > HORIZON_S:
                return SLEEP, ahead - HORIZON_S / 2
            t.slot_at = self._book(t, now)
        if t.slot_at > now + _EPSILON:
            return SLEEP, t.slot_at - now
        return self._go(t, now)

    def _probe_turn(self, t: Ticket) -> bool:
        """Whether ``t`` should be the next probe: a held call with fewer attempts goes
        first (woken here), so a failing probe does not spend one call's every retry."""
        best = t
        for other in self._outage_queue:
            if other.may_probe and other.tries < best.tries:
                best = other
        if best is t:
            return True
        best.wake()
        return False

    def _pace_delay(self, now: float) -> float:
        """Seconds until the slowest pacer would admit one more attempt (no booking)."""
        ahead = self.rate.delay(now)
        for pacer in (self._rpm, self._tpm):
            if pacer is not None:
                ahead = max(ahead, pacer.delay(now))
        if self._header_pacer is not None and now < self._header_until:
            ahead = max(ahead, self._header_pacer.delay(now))
        return ahead

    def _book(self, t: Ticket, now: float) -> float:
        """The earliest time every pacer allows this attempt (each books its slot)."""
        at = self.rate.reserve(now)
        if self._rpm is not None:
            at = max(at, self._rpm.reserve(now))
        if self._tpm is not None and t.cost > 0:
            at = max(at, self._tpm.reserve(now, min(t.cost, self._tpm.burst)))
        if self._header_pacer is not None and now < self._header_until:
            at = max(at, self._header_pacer.reserve(now))
        return at

    def _go(self, t: Ticket, now: float) -> tuple[str, float]:
        if t.probe and t in self._outage_queue:
            self._outage_queue.remove(t)
        if not t.granted:
            self.inflight += 1
        t.granted = False
        t.admitted = True
        t.sent_at = now
        t.inflight_at_send = self.inflight
        self.rate.on_sent(now)
        t.release_at = t.slot_at = None
        self._stats["admitted"] += 1
        return GO, 0.0

    def _ungrant(self, t: Ticket) -> None:
        t.granted = False
        self.inflight -= 1
        self._grant()

    def _grant(self) -> None:
        """Hand free in-flight slots to held attempts, oldest first."""
        queue, limit = self._slot_queue, self.inflight_limit
        while queue and limit.allows(self.inflight, self.rate.rate):
            t = queue.popleft()
            t.granted = True
            self.inflight += 1
            t.wake()

    def take_retry(self) -> bool:
        """Whether a failed attempt may be retried (the retry budget; see :mod:`.health`).

        During an outage the retry is allowed without a token: it is held, and only probes
        reach the gateway until it recovers.
        """
        with self._lock:
            if self.health.down or self.budget.take():
                return True
            self._stats["retries_denied"] += 1
            return False

    def abandon(self, t: Ticket) -> None:
        """The caller of ``t`` stops waiting (deadline, cancellation, failure)."""
        with self._lock:
            if t in self._slot_queue:
                self._slot_queue.remove(t)
            if t in self._outage_queue:
                self._outage_queue.remove(t)
            if t.granted:
                self._ungrant(t)

    # ------------------------------------------------------------------ outcomes

    def settle(
        self,
        t: Ticket,
        outcome: Outcome,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        now: float | None = None,
    ) -> None:
        """Record how an admitted attempt ended (``headers`` of its response, if any)."""
        if not t.admitted:
            return
        now = self.clock() if now is None else now
        with self._lock:
            t.admitted = False
            self.inflight -= 1
            health = self.health
            if outcome is Outcome.CANCELLED:
                if t.probe:
                    health.probing = False
                    health.probe_at = now
                self._grant()
                self._wake_outage_probe()
                return
            if outcome is Outcome.FAILED:
                self._stats["failed"] += 1
                if health.record(now, True):
                    self._stats["outages"] += 1
                if t.probe:
                    health.probe_failed(now)
                    self._wake_outage_probe()  # the next probe is one of the held
                self._grant()
                return
            # The gateway answered a probe: it is up, whatever it said. (Other answers during
            # an outage - a catalog GET, a call admitted before it - prove less.)
            health.record(now, False)
            if health.down and t.probe:
                health.recovered()
                self.budget.refill()
                self._release_outage(now)
            if outcome is Outcome.OK:
                self.rate.on_accepted(t.sent_at, now)
                self.inflight_limit.on_accepted(t.sent_at, now)
                self.budget.refund()
            else:
                self._stats["refused"] += 1
                paused = retry_after is not None and retry_after > 0
                if paused:
                    self._pause(now + (retry_after or 0.0), retry_after or 0.0)
                by_cap = self.inflight_limit.on_refused(
                    self.inflight, t.inflight_at_send, t.sent_at, now, self.rate.rate
                )
                # Refused while many are in flight: a concurrency cap, not the rate. With few
                # in flight both are possible, and the rate falls too.
                if paused or not (by_cap and self.inflight >= MANY_INFLIGHT):
                    self.rate.on_refused(t.sent_at, now, max(now, self.paused_until))
            if headers is not None:
                self._read_headers(headers, now)
            self._grant()

    def _pause(self, until: float, length: float) -> None:
        if until > self.paused_until:
            self.paused_until = until
            self._spread = spread_for(length)
            self._rank = 0
            self._stats["pauses"] += 1

    def _read_headers(self, headers: Mapping[str, str], now: float) -> None:
        if not has_rate_headers(headers):  # one pass over the names, for most responses
            return
        limits = header_limits(headers)
        if limits is None:
            return
        pause = limits.pause_s()
        if pause is not None:
            self._pause(now + pause, pause)
            return
        rate = limits.rate()
        remaining = limits.remaining or 0.0
        if rate is not None and remaining < 2 * max(1, self.inflight):
            self._header_pacer = Pacer(rate)
            self._header_until = now + (limits.reset_s or 0.0)

    def _release_outage(self, now: float) -> None:
        """The outage is over: wake every held attempt, one after another (jittered gaps)."""
        held, self._outage_queue = self._outage_queue, []
        gap = GAP_S / 2  # fewer probes' worth of doubt than after a pause: a shorter gap
        for rank, t in enumerate(held):
            t.release_at = now + (rank + self._rng.random()) * gap
            t.wake()

    def _wake_outage_probe(self) -> None:
        if self._outage_queue:
            self._outage_queue[0].wake()

    # ------------------------------------------------------------------ blocking wrappers

    def _failed(self, t: Ticket, waited: float, what: str, gave_up: bool) -> ThrottledError:
        self.abandon(t)
        if gave_up:
            reason = "outage"
            text = (
                "most recent attempts on this key failed and no probe has succeeded for "
                f"{self.health.patience:g} s; not sent, so a failing gateway is not given "
                "more load"
            )
        elif self.health.down:
            reason = "outage"
            text = (
                "most recent attempts on this key failed; it was held for a probe to "
                f"succeed, which did not happen within {what}"
            )
        else:
            reason = "deadline"
            text = f"it could not be sent within {what}"
        return ThrottledError(
            f"Held by the rate governor for {waited:.2f} s: {text}. Set rate_governor=False "
            "to send without it, or raise timeout.",
            waited=waited,
            reason=reason,
        )

    def admit(
        self,
        kind: Kind = Kind.FIRST,
        *,
        cost: float = 0.0,
        limit: float | None = None,
        what: str = "the timeout",
        may_probe: bool = True,
        tries: int = 0,
    ) -> Ticket:
        """Block until an attempt may be sent; raise :class:`ThrottledError` if it cannot be
        within ``limit`` seconds (``None``: no bound)."""
        t = Ticket(kind, cost, may_probe, tries)
        clock = self.clock
        start = now = clock()
        if self.decide(t, now)[0] is GO:  # the healthy path: no waiter is armed
            return t
        try:
            while True:
                event = t.arm_sync()  # armed before deciding, so no wake-up is lost
                verdict, wait = self.decide(t, now)
                if verdict is GO:
                    return self._admitted(t, now - start)
                waited = now - start
                if verdict is FAIL:
                    raise self._failed(t, waited, what, gave_up=True)
                if limit is not None and waited + wait > limit:
                    if verdict is SLEEP or waited >= limit:
                        raise self._failed(t, waited, what, gave_up=False)
                    wait = limit - waited
                if verdict is SLEEP:
                    time.sleep(wait)
                else:
                    event.wait(None if math.isinf(wait) else wait)
                now = clock()
        except BaseException:
            self.abandon(t)
            raise

    async def aadmit(
        self,
        kind: Kind = Kind.FIRST,
        *,
        cost: float = 0.0,
        limit: float | None = None,
        what: str = "the timeout",
        may_probe: bool = True,
        tries: int = 0,
    ) -> Ticket:
        """:meth:`admit` for coroutines (the event loop keeps running while held)."""
        t = Ticket(kind, cost, may_probe, tries)
        clock = self.clock
        start = now = clock()
        if self.decide(t, now)[0] is GO:  # the healthy path: no future is made
            return t
        try:
            while True:
                future = t.arm_async()
                verdict, wait = self.decide(t, now)
                if verdict is GO:
                    return self._admitted(t, now - start)
                waited = now - start
                if verdict is FAIL:
                    raise self._failed(t, waited, what, gave_up=True)
                if limit is not None and waited + wait > limit:
                    if verdict is SLEEP or waited >= limit:
                        raise self._failed(t, waited, what, gave_up=False)
                    wait = limit - waited
                if verdict is SLEEP:
                    await asyncio.sleep(wait)
                else:
                    await asyncio.wait({future}, timeout=None if math.isinf(wait) else wait)
                now = clock()
        except BaseException:
            self.abandon(t)
            raise

    def _admitted(self, t: Ticket, waited: float) -> Ticket:
        t.waited = waited
        if waited > 0:
            with self._lock:
                self._stats["held"] += 1
                self._stats["waited_s"] += waited
        return t
