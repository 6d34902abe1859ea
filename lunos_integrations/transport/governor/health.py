"""Failures that are not throttling: a retry budget, and probes through an outage.

Why: every call retrying on its own multiplies the load on a gateway that is already
failing (a 3 s outage met 300 requests for 100 calls, all inside the outage, and every call
failed). Two mechanisms, both per key:

* :class:`RetryBudget` - a token bucket in the spirit of the AWS SDKs' standard retry mode
  and Envoy's retry budgets: a retry of a failure (5xx, connection error, timeout) takes a
  token, each success gives back a fraction of one. While most attempts succeed the bucket
  stays full; when failures persist, retries are limited to that fraction of the load and
  the rest fail at once with their own error instead of adding load.
* :class:`Health` - when most recent attempts failed, the key is *down*: attempts are held
  and only one probe at a time is sent, at growing intervals. The first probe that succeeds
  ends the outage and every held call resumes (spread, see :mod:`.pause`). A short outage
  costs a handful of probes instead of every call's retries; one that outlasts
  ``patience`` fails the held calls, and new ones at once, with a typed error.

Pure state on a ``now`` the caller passes.
"""

from __future__ import annotations

import math
from collections import deque

#: Outcomes remembered to decide whether the key is down.
WINDOW_S = 5.0
#: At least this many failures, and at least this share of recent outcomes, mean "down".
MIN_FAILURES = 5
FAILURE_SHARE = 0.5
#: Probe intervals during an outage: first, growth factor, largest.
PROBE_FIRST_S = 0.25
PROBE_GROWTH = 1.5
PROBE_MAX_S = 0.5
#: Seconds an outage may last before held calls give up (and new ones fail at once).
PATIENCE_S = 10.0
#: Retry bucket: capacity, cost of one retry, refund per success.
BUDGET_TOKENS = 10.0
RETRY_COST = 1.0
SUCCESS_REFUND = 0.1


class RetryBudget:
    """Tokens for retries of failures; refilled by successes."""

    __slots__ = ("capacity", "tokens")

    def __init__(self, capacity: float = BUDGET_TOKENS) -> None:
        self.capacity = capacity
        self.tokens = capacity

    def take(self) -> bool:
        """Spend one retry; False when the budget is exhausted (do not retry)."""
        if self.tokens < RETRY_COST - 1e-9:  # ten refunds of 0.1 make one token
            return False
        self.tokens -= RETRY_COST
        return True

    def refund(self) -> None:
        self.tokens = min(self.capacity, self.tokens + SUCCESS_REFUND)

    def refill(self) -> None:
        """An outage ended: the held calls' retries are the recovery, not new load."""
        self.tokens = self.capacity


class Health:
    """Whether the key is down, and when the next probe may go."""

    __slots__ = (
        "_outcomes",
        "down_since",
        "patience",
        "probe_at",
        "probe_interval",
        "probing",
    )

    def __init__(self, patience: float = PATIENCE_S) -> None:
        self._outcomes: deque[tuple[float, bool]] = deque()
        #: Start of the current outage, or None while the key is healthy.
        self.down_since: float | None = None
        self.patience = patience
        self.probe_at = -math.inf
        self.probe_interval = PROBE_FIRST_S
        #: A probe is in flight (only one at a time).
        self.probing = False

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def gave_up(self, now: float) -> bool:
        """The outage has outlasted ``patience``: fail instead of holding."""
        return self.down_since is not None and now - self.down_since >= self.patience

    def record(self, now: float, failed: bool) -> bool:
        """One attempt's outcome; True when it made the key go down."""
        outcomes = self._outcomes
        outcomes.append((now, failed))
        horizon = now - WINDOW_S
        while outcomes and (outcomes[0][0] < horizon or len(outcomes) > 256):
            outcomes.popleft()
        if not failed or self.down_since is not None:
            return False
        failures = sum(1 for _, f in outcomes if f)
        if failures >= MIN_FAILURES and failures >= FAILURE_SHARE * len(outcomes):
            self.down_since = now
            self.probe_interval = PROBE_FIRST_S
            self.probe_at = now + PROBE_FIRST_S
            self.probing = False
            return True
        return False

    def may_probe(self, now: float) -> bool:
        return not self.probing and now >= self.probe_at

    def probe_sent(self) -> None:
        self.probing = True

    def probe_failed(self, now: float) -> None:
        self.probing = False
        self.probe_interval = min(PROBE_MAX_S, self.probe_interval * PROBE_GROWTH)
        self.probe_at = now + self.probe_interval

    def recovered(self) -> None:
        """A probe succeeded: forget the failures that made the key go down."""
        self.down_since = None
        self.probing = False
        self._outcomes.clear()
