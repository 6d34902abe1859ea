"""One spending ceiling: what was spent, what is held for calls in flight, and the test.

Why "held": a call's real cost is known only when its reply arrives, so checking
``spent + cost <= limit`` afterwards lets fifty concurrent calls all pass and overrun
together. Instead each attempt first *holds* its worst case, under a lock, and is refused
when ``spent + held + worst_case`` would pass the limit; when the reply arrives, the hold
is replaced by the real cost. As long as no reply costs more than its hold, the sum of
real costs of the admitted calls cannot pass the limit, however many run at once.

A ledger does no locking of its own: :class:`~.guard.SpendGuard` holds one lock around all
of its ledgers, so that a call held against two of them (the run's and its app's) is
admitted by both or by neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import LunosInputError

__all__ = ["Ledger", "check_usd"]


def check_usd(value: object, name: str) -> float:
    """``value`` as a finite, non-negative float, or :class:`LunosInputError` naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise LunosInputError(
            f"{name} must be a finite number of US dollars >= 0, got {value!r}.", param=name
        )
    return float(value)


@dataclass
class Ledger:
    """The state of one limit (``name`` is how errors and reports refer to it)."""

    name: str
    limit: float
    #: Real costs settled so far (the server's figure when it reported one).
    spent: float = 0.0
    #: Worst cases held by attempts in flight.
    held: float = 0.0
    admitted: int = 0
    refused: int = 0

    def room(self) -> float:
        """What is left for new holds (never negative)."""
        return max(self.limit - self.spent - self.held, 0.0)

    def give_back(self, amount: float) -> None:
        """End a hold of ``amount`` (float residue of many holds is rounded to zero)."""
        self.held -= amount
        if self.held < 1e-12 * max(self.limit, 1e-9):
            self.held = 0.0

    def fits(self, amount: float) -> bool:
        # A relative epsilon: sums of float prices must not refuse a call that fits exactly.
        return self.spent + self.held + amount <= self.limit * (1 + 1e-12) + 1e-15

    @property
    def remaining(self) -> float:
        """``limit - spent`` (what later calls may still spend, holds included)."""
        return max(self.limit - self.spent, 0.0)
