"""Spend limits for Lunos calls: ``track_usage(budget_usd=..., budgets=..., min_balance=...)``.

:class:`~.guard.SpendGuard` does the work (see its module for the rules); this package is
what :func:`lunos_integrations.track_usage` installs when given a limit. Importing it
performs no I/O.
"""

from __future__ import annotations

from ..errors import BudgetExceededError
from .guard import DEFAULT_PRICE_WAIT, LunosBudgetWarning, SpendGuard, UnknownPrice

__all__ = [
    "DEFAULT_PRICE_WAIT",
    "BudgetExceededError",
    "LunosBudgetWarning",
    "SpendGuard",
    "UnknownPrice",
]
