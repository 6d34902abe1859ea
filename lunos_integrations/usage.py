"""``track_usage()``: requests, tokens and dollars per model and per app, for any Lunos call.

Like LangChain's ``get_openai_callback`` but for every Lunos model and for both frameworks,
because it listens at the client (:mod:`lunos_integrations.usage_events`) rather than in
one framework's callback system::

    from lunos_integrations import track_usage

    with track_usage() as usage:
        chat.invoke("hi")                 # ChatLunos, LunosLLM, LunosEmbeddings, LunosClient...
    print(usage.requests, usage.total_cost, usage.by_model["openai/gpt-4o"].output_tokens)

Why contextvars: the active trackers travel with the context, so an asyncio task, or a
thread started with a copied context (LangChain's executors do this), adds to the tracker
that was active where it started, while unrelated concurrent work does not. Trackers nest:
every active tracker receives each call. Accumulation is locked, so threads are safe.

Streams are counted once, when they end (the client reports a stream's usage a single time).

Cost: ``usage.cost`` as reported by Lunos, else computed from catalog prices
(:mod:`lunos_integrations.pricing`). Calls whose cost is unknown (model missing from the
catalog) are counted in ``unpriced_requests`` and add nothing to ``total_cost``; check
``cost_complete`` before trusting a total.

The LangChain callback handler and the LlamaIndex event handler
(``lunos_integrations.langchain.callbacks`` / ``lunos_integrations.llama_index.events``)
each own a separate :class:`UsageTracker` fed from framework events; they never feed the
trackers of ``track_usage()``, so using them together cannot double count.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._forksafe import ForkSafeLock
from .observe import watching
from .usage_events import add_listener, current_listeners, remove_listener
from .wire.types import Usage

if TYPE_CHECKING:
    from .budget import SpendGuard, UnknownPrice

__all__ = ["UsageTotals", "UsageTracker", "record_usage", "track_usage"]


@dataclass
class UsageTotals:
    """Sums for one slice (all calls, one model, or one app)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    total_cost: float = 0.0
    #: Calls whose cost is unknown (not reported and not computable); not in ``total_cost``.
    unpriced_requests: int = 0

    @property
    def cost_complete(self) -> bool:
        """True when every counted call had a known cost."""
        return self.unpriced_requests == 0

    def add(self, usage: Usage) -> None:
        self.requests += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.total_tokens += usage.total_tokens or (usage.input_tokens + usage.output_tokens)
        self.cached_tokens += usage.cache_read_tokens
        self.cache_creation_tokens += usage.cache_creation_tokens
        self.reasoning_tokens += usage.reasoning_tokens
        if usage.cost is None:
            self.unpriced_requests += 1
        else:
            self.total_cost += usage.cost


@dataclass
class UsageTracker(UsageTotals):
    """Totals plus breakdowns ``by_model`` (model id) and ``by_app`` (``X-App-ID``, or None)."""

    by_model: dict[str, UsageTotals] = field(default_factory=dict)
    by_app: dict[str | None, UsageTotals] = field(default_factory=dict)
    #: The spend limits of the ``track_usage`` block (``None`` without any): its
    #: ``snapshot()`` shows each limit's spent, held, admitted and refused figures.
    budget: SpendGuard | None = field(default=None, repr=False, compare=False)
    _lock: ForkSafeLock = field(default_factory=ForkSafeLock, repr=False, compare=False)

    def record(self, model: str, app_id: str | None, usage: Usage) -> None:
        """Add one finished call (thread-safe)."""
        with self._lock:
            self.add(usage)
            self.by_model.setdefault(model, UsageTotals()).add(usage)
            self.by_app.setdefault(app_id, UsageTotals()).add(usage)

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, e.g. for logging or JSON."""
        with self._lock:

            def flat(t: UsageTotals) -> dict[str, Any]:
                return {
                    "requests": t.requests,
                    "input_tokens": t.input_tokens,
                    "output_tokens": t.output_tokens,
                    "total_tokens": t.total_tokens,
                    "cached_tokens": t.cached_tokens,
                    "cache_creation_tokens": t.cache_creation_tokens,
                    "reasoning_tokens": t.reasoning_tokens,
                    "total_cost": t.total_cost,
                    "unpriced_requests": t.unpriced_requests,
                }

            out = flat(self)
            out["by_model"] = {k: flat(v) for k, v in self.by_model.items()}
            out["by_app"] = {k: flat(v) for k, v in self.by_app.items()}
            return out

    def __str__(self) -> str:
        cost = f"${self.total_cost:.6f}" + ("" if self.cost_complete else " (incomplete)")
        return (
            f"Lunos usage: {self.requests} requests, {self.input_tokens} input tokens "
            f"({self.cached_tokens} cached), {self.output_tokens} output tokens "
            f"({self.reasoning_tokens} reasoning), {cost}"
        )


def record_usage(model: str, app_id: str | None, usage: Usage) -> None:
    """Announce one finished call to every listener (tracker) active in this context."""
    for listener in current_listeners():
        listener(model, app_id, usage)


class track_usage:
    """Context manager (sync ``with`` and ``async with``) yielding a :class:`UsageTracker`.

    With ``budget_usd`` (every call in the block), ``budgets`` (per ``X-App-ID``) or
    ``min_balance``, it also enforces spend limits: a call that could pass one is refused
    before it is sent with :class:`~.errors.BudgetExceededError` (see
    :mod:`lunos_integrations.budget` and the README's "Spend limits"). ``unknown_price``
    says what happens to a call whose price is unknown (``"refuse"`` by default);
    ``price_wait`` is how long a call under a budget may wait for the catalog's prices.
    Without any limit nothing changes: no call waits or is refused.
    """

    def __init__(
        self,
        *,
        budget_usd: float | None = None,
        budgets: Mapping[str, float] | None = None,
        min_balance: float | None = None,
        unknown_price: UnknownPrice = "refuse",
        price_wait: float | None = None,
    ) -> None:
        self.tracker = UsageTracker()
        self._token: contextvars.Token[Any] | None = None
        self._watch: contextlib.ExitStack | None = None
        if budget_usd is not None or budgets is not None or min_balance is not None:
            from .budget import DEFAULT_PRICE_WAIT, SpendGuard  # only when a limit is asked

            self.tracker.budget = SpendGuard(
                budget_usd,
                budgets,
                unknown_price=unknown_price,
                price_wait=DEFAULT_PRICE_WAIT if price_wait is None else price_wait,
                min_balance=min_balance,
            )

    def __enter__(self) -> UsageTracker:
        self._token = add_listener(self.tracker.record)
        guard = self.tracker.budget
        if guard is not None:
            self._watch = contextlib.ExitStack()
            self._watch.enter_context(watching(guard))
        return self.tracker

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        token, self._token = self._token, None
        remove_listener(self.tracker.record, token)

    async def __aenter__(self) -> UsageTracker:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
