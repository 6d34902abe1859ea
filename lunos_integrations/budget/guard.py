"""``SpendGuard``: the call observer behind ``track_usage(budget_usd=..., budgets=...)``.

It is an :data:`~..observe.ObserverFactory` installed with :func:`~..observe.watching`, so
it sees every chat and embeddings call made in the ``track_usage`` block (LangChain and
LlamaIndex alike, sync and async, threads and tasks that inherit the context) and needs no
parameter of its own in any layer. Per call, :class:`_CallGuard`:

1. :meth:`~_CallGuard.prepare` — if the catalog's prices are not known yet, starts the
   fetch and waits for it at most ``price_wait`` seconds (only under a budget: without
   one nothing waits, as before);
2. :meth:`~_CallGuard.on_attempt` — before *every* HTTP attempt (retries, dropped-parameter
   resends and ``fallback_model`` hops included) holds the attempt's worst case on each
   ledger (the run's, the app's) or refuses with :class:`~..errors.BudgetExceededError`,
   before a byte is sent. A failed attempt's hold passes to the next one (an error reply
   is not billed), re-checked at the new model's price;
3. :meth:`~_CallGuard.on_delta` — for streams, counts the output as it arrives; a stream
   whose cost so far passes its hold grows it, and when the budget has no room left the
   stream is cut (the connection is closed) with the partial text in the error;
4. :meth:`~_CallGuard.on_result` / :meth:`~_CallGuard.on_end` — replaces the hold by the
   real cost: the server's ``usage.cost``, else the catalog price of the reported usage,
   else (no usage reported at all) the hold itself. A call that failed releases its hold;
   a stream that ended early (cut, closed by the caller, truncated) is charged its cost
   so far, since the tokens it produced are billed.

Worst case of an attempt = estimated input tokens (:mod:`.tokens`) x the input price
(the highest of the input and cache prices) + the output cap x the output price, with the
catalog's prices after ``discountPercentage``. The output cap is the request's
``max_tokens``, else the catalog's ``max_output_tokens`` for the model. A non-streamed
chat with neither is refused (nothing could stop it); a stream with neither holds only its
input and is cut at the limit.

A budget is per process: it lives in this object, in the memory of the process that
entered ``track_usage``. A forked child starts with a copy and spends against that copy;
a worker process enters its own ``track_usage`` (models carry no budget when pickled).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .._forksafe import ForkSafeLock
from ..catalog import catalog_of
from ..errors import BudgetExceededError, LunosInputError
from ..observe import CallInfo, CallObserver
from ..pricing import cache_prices
from ..wire.models import ModelInfo
from ..wire.types import ChatDelta, ChatRequest, EmbeddingRequest, Usage
from .balance import DEFAULT_BALANCE_REFRESH, BalanceFloor
from .ledger import Ledger, check_usd
from .tokens import OutputCount, TextCounts, estimate_embedding_tokens, estimate_request_tokens

if TYPE_CHECKING:
    from ..catalog.shared import ModelCatalog

__all__ = ["DEFAULT_PRICE_WAIT", "LunosBudgetWarning", "SpendGuard", "UnknownPrice"]

#: ``"refuse"`` (default: a budget that cannot price a call cannot hold) or ``"allow"``.
UnknownPrice = Literal["refuse", "allow"]
#: Seconds a call under a budget may wait for the catalog fetch that gives its price.
DEFAULT_PRICE_WAIT = 5.0
_PER = 1_000_000.0


class LunosBudgetWarning(UserWarning):
    """A call ran under a budget without a known price (``unknown_price="allow"``)."""


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per token for one model, and its output cap (``None``: unknown)."""

    input: float
    output: float | None
    output_cap: int | None


def prices_of(info: ModelInfo | None) -> Prices | None:
    """The prices a worst case is computed from, or ``None`` when the input price is unknown.

    The input side uses the highest of the input, cache-read and cache-write prices: the
    request cannot say which of its tokens the server will find in its cache.
    """
    if info is None or info.input_price_per_million is None:
        return None
    read, write = cache_prices(info)
    highest = max(p for p in (info.input_price_per_million, read, write) if p is not None)
    out = info.output_price_per_million
    return Prices(highest / _PER, None if out is None else out / _PER, info.max_output_tokens)


@dataclass(frozen=True, slots=True)
class WorstCase:
    """One attempt's admission figures (``cap`` ``None``: output not bounded)."""

    model: str
    prices: Prices
    input_tokens: int
    input_cost: float
    cap: int | None

    @property
    def amount(self) -> float:
        """What is held: the whole worst case, or the input alone when the cap is unknown."""
        if self.cap is None or self.prices.output is None:
            return self.input_cost
        return self.input_cost + self.cap * self.prices.output

    def explain(self) -> str:
        per_in = self.prices.input * _PER
        text = f"{self.input_tokens} input tokens (estimated offline) x ${per_in:g}/M"
        if self.cap and self.prices.output is not None:  # (embeddings: no output)
            text += f" + {self.cap} output tokens x ${self.prices.output * _PER:g}/M"
        elif self.cap is None:
            text += " (output not bounded: it is counted as it streams)"
        return text


class SpendGuard:
    """The limits of one ``track_usage`` block, and the factory of its call observers.

    ``budget_usd`` caps every call in the block; ``budgets`` caps the calls of each
    ``X-App-ID`` (the client's ``app_id``) separately, both at once when both are given.
    All of this object's ledgers share one lock, so a call is held on all or none of them.
    """

    def __init__(
        self,
        budget_usd: float | None = None,
        budgets: Mapping[str, float] | None = None,
        *,
        unknown_price: UnknownPrice = "refuse",
        price_wait: float = DEFAULT_PRICE_WAIT,
        min_balance: float | None = None,
        balance_refresh: float = DEFAULT_BALANCE_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if unknown_price not in ("refuse", "allow"):
            raise LunosInputError(
                f"unknown_price must be 'refuse' or 'allow', got {unknown_price!r}.",
                param="unknown_price",
            )
        self.unknown_price: UnknownPrice = unknown_price
        if (
            isinstance(price_wait, bool)
            or not isinstance(price_wait, (int, float))
            or not price_wait >= 0
        ):
            raise LunosInputError(
                f"price_wait must be a number of seconds >= 0, got {price_wait!r}.",
                param="price_wait",
            )
        self.price_wait = float(price_wait)
        self.total = None
        if budget_usd is not None:
            self.total = Ledger("budget_usd", check_usd(budget_usd, "budget_usd"))
        if budgets is not None and not isinstance(budgets, Mapping):
            raise LunosInputError(
                "budgets must map X-App-ID values to US dollars, e.g. {'support': 2.0}.",
                param="budgets",
            )
        self.apps: dict[str, Ledger] = {}
        for app, usd in (budgets or {}).items():
            if not isinstance(app, str) or not app:
                raise LunosInputError(
                    f"budgets keys must be X-App-ID strings, got {app!r}.", param="budgets"
                )
            name = f"budgets[{app!r}]"
            self.apps[app] = Ledger(name, check_usd(usd, name))
        self.floor = (
            None
            if min_balance is None
            else BalanceFloor(
                check_usd(min_balance, "min_balance"), refresh=balance_refresh, clock=clock
            )
        )
        #: Calls admitted without a known price (``unknown_price="allow"``).
        self.unpriced_calls = 0
        #: Attempts held (every HTTP attempt of every admitted call).
        self.attempts = 0
        self._lock = ForkSafeLock()
        self._warned: set[str] = set()
        self._prices: dict[str, tuple[ModelInfo, Prices | None]] = {}
        #: Token estimates of the message texts seen (agents resend their history).
        self.text_counts = TextCounts()

    def __repr__(self) -> str:
        limits = [f"{ledger.name}=${ledger.limit:g}" for ledger in self.ledgers()]
        return f"SpendGuard({', '.join(limits) or 'no limits'})"

    def ledgers(self) -> list[Ledger]:
        """Every ledger of this guard: the run's first, then the apps'."""
        return ([self.total] if self.total is not None else []) + list(self.apps.values())

    @property
    def spent(self) -> float:
        """Real spend settled under this guard (all apps)."""
        with self._lock:
            if self.total is not None:
                return self.total.spent
            return sum(ledger.spent for ledger in self.apps.values())

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy of every ledger (limit, spent, held, admitted, refused)."""
        with self._lock:
            return {
                "ledgers": {
                    ledger.name: {
                        "limit": ledger.limit,
                        "spent": ledger.spent,
                        "held": ledger.held,
                        "admitted": ledger.admitted,
                        "refused": ledger.refused,
                    }
                    for ledger in self.ledgers()
                },
                "attempts": self.attempts,
                "unpriced_calls": self.unpriced_calls,
            }

    # ------------------------------------------------------------------ factory

    def __call__(self, info: CallInfo) -> CallObserver | None:
        if info.operation not in ("chat", "embeddings"):
            return None
        ledgers = [self.total] if self.total is not None else []
        app = self.apps.get(info.app_id) if info.app_id is not None else None
        if app is not None:
            ledgers.append(app)
        if not ledgers and self.floor is None:
            return None
        return _CallGuard(self, info, tuple(ledgers))

    # ------------------------------------------------------------------ helpers

    def prices(self, info: ModelInfo | None) -> Prices | None:
        """:func:`prices_of`, remembered per catalog entry (a refetch makes new entries)."""
        if info is None:
            return None
        cached = self._prices.get(info.id)
        if cached is not None and cached[0] is info:
            return cached[1]
        prices = prices_of(info)
        self._prices[info.id] = (info, prices)
        return prices

    def warn_unpriced(self, model: str) -> None:
        with self._lock:
            first = model not in self._warned
            self._warned.add(model)
        if first:
            warnings.warn(
                f"Lunos model {model!r} has no known price (absent from the catalog, or the "
                "catalog is unreachable); with unknown_price='allow' its calls run under the "
                "budget unchecked and are counted in unpriced_calls. Use "
                "unknown_price='refuse' (the default) to refuse them instead.",
                LunosBudgetWarning,
                stacklevel=2,
            )


def _refusal(
    ledger: Ledger, worst: WorstCase | None, model: str, app_id: str | None, why: str
) -> BudgetExceededError:
    if ledger.name == "budget_usd":
        how = "track_usage(budget_usd=...)"
    else:
        how = f"track_usage(budgets={{{ledger.name[8:-1]}: ...}})"
    return BudgetExceededError(
        f"Lunos call to {model!r} refused by the spend limit {ledger.name} = "
        f"${ledger.limit:.6f}: ${ledger.spent:.6f} spent, ${ledger.held:.6f} held by calls "
        f"in flight, {why}. Nothing was sent. Raise the limit with {how}, lower max_tokens, "
        "or wait for the calls in flight to finish.",
        limit=ledger.name,
        budget=ledger.limit,
        spent=ledger.spent,
        reserved=ledger.held,
        worst_case=None if worst is None else worst.amount,
        model=model,
        app_id=app_id,
    )


class _CallGuard(CallObserver):
    """One call under one :class:`SpendGuard` (see the module docstring for the steps)."""

    def __init__(self, guard: SpendGuard, info: CallInfo, ledgers: tuple[Ledger, ...]) -> None:
        self.guard = guard
        self.info = info
        self.ledgers = ledgers
        self.request: Any = info.request
        #: What this call holds on each of its ledgers now.
        self.hold = 0.0
        self.worst: WorstCase | None = None
        self.unpriced = False
        self.done = False
        # streams: what was produced so far (text, reasoning and tool arguments apart, so
        # a word is never glued to another channel's)
        self.counts: tuple[OutputCount, ...] = ()  # made at the first delta
        self.shown: list[str] = []
        self.started = False
        self._catalog_cached: ModelCatalog | None = None
        self._catalog_known = False
        self._estimated: tuple[Any, int] | None = None  # (request, its input tokens)

    # ------------------------------------------------------------------ prices

    def _catalog(self) -> ModelCatalog | None:
        if self._catalog_known:
            return self._catalog_cached
        client = self.info.client
        catalog = None
        if client is not None:
            try:
                catalog = catalog_of(client)
            except Exception:  # a client without a usable configuration: no prices
                catalog = None
        self._catalog_cached, self._catalog_known = catalog, True
        return catalog

    def _model(self) -> str:
        return str(getattr(self.request, "model", None) or self.info.model or "")

    def _needs_fetch(self, catalog: ModelCatalog) -> bool:
        return bool(self.ledgers) and catalog.peek(self._model()) is None and not catalog.known()

    def prepare(self) -> None:
        catalog = self._catalog()
        if catalog is not None and self._needs_fetch(catalog):
            catalog.cache.start(self.info.client)
            catalog.cache.wait(catalog.key, self.guard.price_wait)

    async def aprepare(self) -> None:
        catalog = self._catalog()
        if catalog is not None and self._needs_fetch(catalog):
            catalog.cache.astart(self.info.client)
            await catalog.cache.await_fetch(catalog.key, self.guard.price_wait)

    def _worst_case(self) -> WorstCase | None:
        model = self._model()
        catalog = self._catalog()
        prices = self.guard.prices(catalog.peek(model)) if catalog is not None else None
        if prices is None:
            return None
        request = self.request
        if isinstance(request, EmbeddingRequest):
            tokens = estimate_embedding_tokens(request)
            return WorstCase(model, prices, tokens, tokens * prices.input, 0)
        if not isinstance(request, ChatRequest):
            return None
        if self._estimated is None or self._estimated[0] is not request:
            tokens = estimate_request_tokens(request, self.guard.text_counts)
            self._estimated = (request, tokens)  # once per request
        tokens = self._estimated[1]
        cap = request.max_tokens if request.max_tokens is not None else prices.output_cap
        if cap and prices.output is None:
            return None  # output would be billed at an unknown price
        return WorstCase(model, prices, tokens, tokens * prices.input, cap)

    # ------------------------------------------------------------------ admission

    def on_retarget(self, request: Any, reason: str) -> None:
        self.request = request  # the next attempt is held at this request's price

    def on_attempt(self, attempt: int, headers: MutableMapping[str, str]) -> None:
        guard = self.guard
        if guard.floor is not None and attempt == 0 and self.hold == 0.0:
            guard.floor.check(self.info.client, self._model())
        if not self.ledgers:
            return
        worst = self._worst_case()
        model = self._model()
        app_id = self.info.app_id
        if worst is None:
            if guard.unknown_price == "allow":
                self._release()
                if not self.unpriced:
                    self.unpriced = True
                    with guard._lock:
                        guard.unpriced_calls += 1
                guard.warn_unpriced(model)
                return
            with guard._lock:
                ledger = self.ledgers[0]
                ledger.refused += 1
                error = _refusal(
                    ledger,
                    None,
                    model,
                    app_id,
                    "and the price of this call is unknown (the model is not in the catalog, "
                    "or the catalog could not be fetched; unknown_price='refuse')",
                )
            self._release()
            raise error
        if worst.cap is None and not self.info.stream:
            with guard._lock:
                self.ledgers[0].refused += 1
                error = _refusal(
                    self.ledgers[0],
                    worst,
                    model,
                    app_id,
                    "and this call's output is not bounded (no max_tokens, and the catalog "
                    "gives no max_output_tokens for the model): set max_tokens",
                )
            self._release()
            raise error
        amount = worst.amount
        with guard._lock:
            for ledger in self.ledgers:  # this call's own hold is given back first
                ledger.give_back(self.hold)
            full = next((ledger for ledger in self.ledgers if not ledger.fits(amount)), None)
            if full is None:
                for ledger in self.ledgers:
                    ledger.held += amount
                self.hold = amount
                self.worst = worst
                guard.attempts += 1
                return
            full.refused += 1
            self.hold = 0.0
            error = _refusal(
                full,
                worst,
                model,
                app_id,
                f"and this call could cost up to ${amount:.6f} ({worst.explain()})",
            )
        raise error

    # ------------------------------------------------------------------ streams

    def on_delta(self, delta: ChatDelta) -> None:
        worst = self.worst
        if worst is None or self.done:
            return
        self.started = True
        if not self.counts:
            self.counts = (OutputCount(), OutputCount(), OutputCount())
        text, reasoning, tools = self.counts
        text.add(delta.text)
        reasoning.add(delta.reasoning_text)
        for call in delta.tool_calls:
            tools.add(f"{call.name or ''} {call.arguments}")
        cost = self._cost(fewest=True)
        if cost > self.hold:
            self._grow(cost)
        self.shown.append(delta.text)

    def _out_tokens(self, *, fewest: bool) -> int:
        if fewest:
            return sum(count.fewest for count in self.counts)
        return sum(count.estimate for count in self.counts)

    def _cost(self, *, fewest: bool) -> float:
        """Cost so far of a stream: its input plus the output counted until now."""
        worst = self.worst
        if worst is None:
            return 0.0
        return worst.input_cost + self._out_tokens(fewest=fewest) * (worst.prices.output or 0.0)

    def _charge_early_end(self) -> float:
        """What a stream that ended early is charged: its estimate, within its hold unless
        even the fewest-token count passed the hold (a server that ignored the cap)."""
        return min(self._cost(fewest=False), max(self.hold, self._cost(fewest=True)))

    def _grow(self, cost: float) -> None:
        """Hold more for a stream that outgrew its hold, or cut it at the limit."""
        guard = self.guard
        extra = cost - self.hold
        with guard._lock:
            full = next((ledger for ledger in self.ledgers if not ledger.fits(extra)), None)
            if full is None:
                for ledger in self.ledgers:
                    ledger.held += extra
                self.hold = cost
                return
            full.refused += 1
            spent, held = full.spent, full.held
        partial = "".join(self.shown)
        raise BudgetExceededError(
            f"Lunos stream from {self._model()!r} stopped at the spend limit {full.name} = "
            f"${full.limit:.6f}: ${spent:.6f} spent and ${held:.6f} held, and this stream "
            f"had reached ${cost:.6f} ({self._out_tokens(fewest=True)} output tokens counted so "
            "far). "
            f"The connection was closed; the {len(partial)} characters received are in "
            "exc.partial_text and are not a complete answer. Raise the limit or set "
            "max_tokens so the stream's worst case is held up front.",
            limit=full.name,
            budget=full.limit,
            spent=spent,
            reserved=held,
            worst_case=self.worst.amount if self.worst is not None else None,
            model=self._model(),
            app_id=self.info.app_id,
            partial_text=partial,
            cost_so_far=cost,
        )

    # ------------------------------------------------------------------ settling

    def on_result(self, model: str, usage: Usage | None, result: Any) -> None:
        cost: float | None = None
        if usage is not None:
            cost = usage.cost
            if cost is None and self.worst is not None:
                cost = compute_cost_at(self.worst.prices, usage)
        if cost is None and not self.unpriced:
            cost = max(self.hold, self._cost(fewest=True))  # no usage at all: charge the hold
        self._settle(cost or 0.0)

    def on_error(self, error: BaseException) -> None:
        if self.started and self.info.stream:
            self._settle(self._charge_early_end())  # the tokens streamed so far are billed
        else:
            self._release()

    def on_end(self) -> None:
        self._release()

    def _settle(self, cost: float) -> None:
        if self.done:
            return
        with self.guard._lock:
            for ledger in self.ledgers:
                ledger.give_back(self.hold)
                ledger.spent += cost
                ledger.admitted += 1
            self.hold = 0.0
            self.done = True

    def _release(self) -> None:
        if self.hold == 0.0:
            return
        with self.guard._lock:
            for ledger in self.ledgers:
                ledger.give_back(self.hold)
            self.hold = 0.0


def compute_cost_at(prices: Prices, usage: Usage) -> float | None:
    """The cost of ``usage`` at the prices it was held at (neither server nor catalog priced
    it): every input token at the highest input price, so never below the real figure."""
    if prices.output is None and usage.output_tokens:
        return None
    out = (prices.output or 0.0) * max(usage.output_tokens, 0)
    return max(usage.input_tokens, 0) * prices.input + out
