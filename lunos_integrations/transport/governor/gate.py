"""The transport's side of the governor: one call's attempts, admitted and settled.

:class:`CallGate` keeps what one call (all of its attempts) needs - its governor, the kind
of its next attempt, the seconds it was held - so the request loops in :mod:`..http` need
one line per event (before an attempt, after its answer). :data:`NO_GATE` stands in when
``rate_governor`` is off: every method does nothing, so behaviour is the old one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ...errors import parse_retry_after
from .core import Governor
from .registry import GOVERNORS, GovernorKey
from .waiting import Kind, Outcome, Ticket

#: How a retry may go (see :meth:`CallGate.answered`).
STOP, BACKOFF, NOW = 0, 1, 2
#: Statuses that are failures of the gateway, not answers (the retry budget counts them).
_FAILURE_STATUSES = frozenset({408, 500, 502, 503, 504})


def estimate_tokens(content: bytes | None, body: Any) -> float:
    """Tokens a request may use, counted offline: ~4 bytes a token, plus its output cap."""
    tokens = len(content or b"") / 4.0
    if isinstance(body, dict):
        for name in ("max_tokens", "max_completion_tokens"):
            cap = body.get(name)
            if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
                tokens += cap
                break
    return tokens


class CallGate:
    """One call's passage through its key's governor."""

    __slots__ = (
        "_cap",
        "_governor",
        "_kind",
        "_limit",
        "_probe",
        "_ticket",
        "_tries",
        "_what",
        "cost",
        "waited",
    )

    def __init__(
        self,
        governor: Governor,
        cost: float,
        limit: float | None,
        what: str,
        probe: bool,
        cap: float = math.inf,
    ) -> None:
        self._governor = governor
        #: max_retry_wait: no pause a server asks for is longer (as for the transport's own).
        self._cap = cap
        self._probe = probe
        self._tries = 0
        self._kind = Kind.FIRST
        self._ticket: Ticket | None = None
        self._limit = limit
        self._what = what
        self.cost = cost
        #: Seconds this call was held by the governor, over all its attempts.
        self.waited = 0.0

    def admit(self) -> None:
        ticket = self._governor.admit(
            self._kind,
            cost=self.cost,
            limit=self._limit,
            what=self._what,
            may_probe=self._probe,
            tries=self._tries,
        )
        self._tries += 1
        self._ticket = ticket
        self.waited += ticket.waited

    async def aadmit(self) -> None:
        ticket = await self._governor.aadmit(
            self._kind,
            cost=self.cost,
            limit=self._limit,
            what=self._what,
            may_probe=self._probe,
            tries=self._tries,
        )
        self._tries += 1
        self._ticket = ticket
        self.waited += ticket.waited

    def _settle(
        self, outcome: Outcome, headers: Mapping[str, str] | None, after: float | None
    ) -> None:
        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            self._governor.settle(ticket, outcome, headers, after)

    def answered(self, response: Any, retrying: bool) -> int:
        """Settle the attempt from its status; how a retry of it may go: :data:`STOP` (the
        retry budget is spent), :data:`BACKOFF` (after the transport's own backoff) or
        :data:`NOW` (a 429: the governor paces it and pauses every caller as asked)."""
        status: int = response.status_code
        headers: Mapping[str, str] = response.headers
        if status == 429:
            self._kind = Kind.RETRY_THROTTLED
            after = parse_retry_after(headers)
            self._settle(
                Outcome.THROTTLED, headers, None if after is None else min(after, self._cap)
            )
            return NOW
        if status in _FAILURE_STATUSES:
            self._kind = Kind.RETRY_FAILURE
            self._settle(Outcome.FAILED, headers, None)
            return self._failure_retry(retrying)
        self._settle(Outcome.OK, headers, None)
        return BACKOFF

    def failed(self, retrying: bool) -> int:
        """The attempt broke (connection error, timeout); how it may be retried (as for
        :meth:`answered`; STOP when ``retrying`` is false)."""
        self._kind = Kind.RETRY_FAILURE
        self._settle(Outcome.FAILED, None, None)
        return self._failure_retry(retrying)

    def _failure_retry(self, retrying: bool) -> int:
        """STOP without budget; NOW while the key is down (the governor holds the retry until
        a probe succeeds, so a backoff on top would only delay the recovery); else BACKOFF."""
        if not (retrying and self._governor.take_retry()):
            return STOP
        return NOW if self._governor.health.down else BACKOFF

    def cancelled(self) -> None:
        self._settle(Outcome.CANCELLED, None, None)


class _NoGate:
    """``rate_governor=False``: nothing is held, nothing is recorded."""

    __slots__ = ()
    waited = 0.0

    def admit(self) -> None:
        return None

    async def aadmit(self) -> None:
        return None

    def answered(self, response: Any, retrying: bool) -> int:
        return BACKOFF

    def failed(self, retrying: bool) -> int:
        return BACKOFF if retrying else STOP

    def cancelled(self) -> None:
        return None


NO_GATE = _NoGate()

Gate = CallGate | _NoGate


def gate_for(
    key: GovernorKey | None,
    cost: float,
    limit: float | None,
    what: str,
    method: str,
    cap: float = math.inf,
) -> Gate:
    """The gate of one call on ``key`` (None: governor off); only non-GET calls probe;
    pauses asked for are capped at ``cap`` (``max_retry_wait``)."""
    if key is None:
        return NO_GATE
    return CallGate(GOVERNORS.get(key), cost, limit, what, method != "GET", cap)
