"""One attempt's passage through the governor: its ticket, and how a held caller is woken.

A governor is shared by threads and by any number of event loops (each ``asyncio.run``
is a new loop), so it keeps no asyncio object of its own: each held async caller brings a
future of its own loop, and the governor wakes it with ``call_soon_threadsafe``; a held
thread waits on its own ``threading.Event``. Nothing here outlives the wait it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from enum import Enum


class Kind(Enum):
    """Why an attempt is made: a first try, or a retry after a failure or a refusal."""

    FIRST = "first"
    RETRY_FAILURE = "retry_failure"
    RETRY_THROTTLED = "retry_throttled"


class Outcome(Enum):
    """How an admitted attempt ended, as far as the governor cares."""

    OK = "ok"  # any answer that is neither a refusal nor a failure (2xx, most 4xx)
    THROTTLED = "throttled"  # 429
    FAILED = "failed"  # 5xx, 408, connection error, timeout
    CANCELLED = "cancelled"  # the caller went away before an answer


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Ticket:
    """The state of one attempt from its arrival at the governor to its outcome."""

    __slots__ = (
        "admitted",
        "cost",
        "event",
        "future",
        "granted",
        "inflight_at_send",
        "kind",
        "loop",
        "may_probe",
        "probe",
        "release_at",
        "sent_at",
        "slot_at",
        "tries",
        "waited",
    )

    def __init__(
        self, kind: Kind = Kind.FIRST, cost: float = 0.0, may_probe: bool = True, tries: int = 0
    ) -> None:
        self.kind = kind
        #: Attempts the call made before this one (probes go to the calls with fewest).
        self.tries = tries
        #: May test an outage's end: model calls may, a catalog GET proves too little.
        self.may_probe = may_probe
        #: Estimated tokens of the request (for a declared tokens-per-minute limit).
        self.cost = cost
        #: Seconds this attempt was held before it was sent.
        self.waited = 0.0
        self.admitted = False
        #: Holds an in-flight slot handed over by a finishing attempt (FIFO hand-off).
        self.granted = False
        self.probe = False
        #: When this attempt leaves after a pause (jittered), and its booked pacing slot.
        self.release_at: float | None = None
        self.slot_at: float | None = None
        self.sent_at = 0.0
        self.inflight_at_send = 0
        self.event: threading.Event | None = None
        self.future: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Wake the caller holding this ticket (any thread, any loop)."""
        if self.loop is not None and self.future is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(_resolve, self.future)
        elif self.event is not None:
            self.event.set()

    def arm_sync(self) -> threading.Event:
        event = self.event
        if event is None:
            event = self.event = threading.Event()
        else:
            event.clear()
        return event

    def arm_async(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        self.loop = loop
        future: asyncio.Future[None] = loop.create_future()
        self.future = future
        return future
