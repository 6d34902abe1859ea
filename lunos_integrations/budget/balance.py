"""``min_balance``: refuse new calls while the account balance is below a floor.

Why cached and refreshed in the background: ``GET /v1/balance`` is a round trip, and a
spend guard must not add one to every call. The floor reads the last balance it saw; when
that is older than ``refresh`` seconds (or was never fetched) it starts one fetch on a
daemon thread and lets the call go on. So the very first call after entering
``track_usage(min_balance=...)`` is never refused by the floor: it only starts the first
fetch. A failed fetch keeps the last known figure (or none) and is retried at the next
refresh; the floor never raises anything but :class:`~..errors.BudgetExceededError`.

The unit: Lunos does not document whether ``balance`` is USD or credits (lunos-api.md
§6.1; the SDK says USD, older pages say credits). The floor compares the number the
endpoint returns with ``min_balance`` as given, unconverted, and says so in its error.

The clock is injectable (tests advance it by hand, never sleep).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._forksafe import ForkSafeLock
from ..errors import BudgetExceededError

if TYPE_CHECKING:
    from ..client import LunosClient

__all__ = ["BalanceFloor"]

logger = logging.getLogger("lunos_integrations")

#: Seconds a fetched balance is trusted before the next background refresh starts.
DEFAULT_BALANCE_REFRESH = 30.0


class BalanceFloor:
    """The floor and the last balance seen (one per ``track_usage`` block)."""

    def __init__(
        self,
        minimum: float,
        *,
        refresh: float = DEFAULT_BALANCE_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.minimum = minimum
        self.refresh = refresh
        self.clock = clock
        #: The last balance fetched (``None``: none yet), and when.
        self.balance: float | None = None
        self.fetched_at: float | None = None
        #: Fetches started and ended (for reports and tests).
        self.fetches = 0
        self.failures = 0
        self._lock = ForkSafeLock()
        self._fetching: threading.Thread | None = None

    def check(self, client: LunosClient | None, model: str | None) -> None:
        """Refuse when the cached balance is below the floor; refresh it if stale.

        The call is judged on the figure known when it came, read before a refresh starts:
        a background fetch that happens to finish first must not decide it either way.
        """
        balance = self.balance
        if client is not None:
            self._maybe_refresh(client)
        if balance is not None and balance < self.minimum:
            raise BudgetExceededError(
                f"Lunos call to {model!r} refused: the account balance last read from "
                f"GET /v1/balance is {balance:g}, below min_balance={self.minimum:g} (both in "
                "the unit that endpoint reports, which Lunos does not document as USD or "
                "credits; compared as given). Nothing was sent. Top up the account or lower "
                "min_balance in track_usage(...).",
                limit="min_balance",
                budget=self.minimum,
                spent=balance,
                model=model,
            )

    def _maybe_refresh(self, client: LunosClient) -> None:
        now = self.clock()
        with self._lock:
            stale = self.fetched_at is None or now - self.fetched_at >= self.refresh
            busy = self._fetching is not None and self._fetching.is_alive()  # (not after fork)
            if not stale or busy:
                return
            self.fetches += 1
            thread = self._fetching = threading.Thread(
                target=self._fetch, args=(client,), name="lunos-balance-fetch", daemon=True
            )
        thread.start()

    def _fetch(self, client: LunosClient) -> None:
        from ..catalog.listing import get_balance  # the floor is rarely used: import late

        try:
            value = get_balance(client=client).balance
        except Exception:  # the floor must never break a call: keep the last figure
            logger.debug("min_balance: GET /balance failed", exc_info=True)
            with self._lock:
                self.failures += 1
                self.fetched_at = self.clock()
                self._fetching = None
            return
        with self._lock:
            self.balance = value
            self.fetched_at = self.clock()
            self._fetching = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for a background fetch in flight (tests, scripts); True when none is left."""
        thread = self._fetching
        if thread is not None:
            thread.join(timeout)
        return self._fetching is None
