"""The narrow hooks through which budgets and telemetry watch a call, without steering it.

A *logical call* (one ``invoke``, one stream, one embeddings request) may make several HTTP
attempts (retries), resend after a rejected parameter, or hop to ``fallback_model``. Code
that needs to see all of that (a spend guard that reserves before each billable attempt,
an OpenTelemetry span that covers every attempt and the whole stream) gets it here, from
one object per call, instead of a new parameter threaded through every layer:

- :class:`CallObserver` is what such code implements (every method is a no-op by default,
  so an observer overrides only what it needs);
- an :data:`ObserverFactory` makes one observer per call from its :class:`CallInfo`, or
  ``None`` to ignore the call; factories come from the client that was handed them and
  from the caller's context (:func:`watching`, via ``contextvars``, so a ``with`` block
  or an asyncio task sees only its own);
- :class:`Observation` fans one call's events out to its observers. It is what the core
  client drives and what the transport is handed, so every attempt passes one place.

Why a raised error is split in two: an observer may *refuse* (a budget that would be
exceeded raises a :class:`~.errors.LunosError` before the attempt is sent, or while a
stream runs), and that must stop the call; any other exception is a bug in an observer
(telemetry must never break a call), so it is logged and the call goes on.

This module sits at the bottom of the layers: it imports only :mod:`.errors`, and the wire
types under ``TYPE_CHECKING``, so the transport can be handed an :class:`Observation`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

from .errors import LunosError

if TYPE_CHECKING:
    from .redact import Secrets
    from .wire.types import ChatDelta, Usage

__all__ = [
    "CallInfo",
    "CallObserver",
    "Observation",
    "ObserverFactory",
    "Operation",
    "context_factories",
    "watching",
]

logger = logging.getLogger("lunos_integrations")

Operation = Literal["chat", "embeddings", "models", "balance"]


@dataclasses.dataclass
class CallInfo:
    """What is known of a logical call before its first byte is sent.

    ``request`` is the neutral request (:class:`~.wire.types.ChatRequest` or
    :class:`~.wire.types.EmbeddingRequest`), ``None`` for ``models`` and ``balance``.
    ``base_url`` has its credentials removed. ``route`` is ``"chat_completions"``,
    ``"messages"``, ``"embeddings"``, ``"models"`` or ``"balance"``. ``secrets`` are the
    client's key and URL credentials, for observers that must scrub text they record.
    ``client`` is the :class:`~.client.LunosClient` making the call (a budget asks its
    catalog for prices). Neither is in ``repr``.
    """

    operation: Operation
    route: str
    model: str | None
    stream: bool
    base_url: str
    app_id: str | None
    request: Any = None
    secrets: Secrets | None = dataclasses.field(default=None, repr=False)
    client: Any = dataclasses.field(default=None, repr=False, compare=False)


class CallObserver:
    """Watches one logical call; override what you need (each default does nothing).

    Order: :meth:`prepare` (or :meth:`aprepare` on the async paths) once, then
    :meth:`on_attempt` / :meth:`on_response` per HTTP attempt (with
    :meth:`on_retarget` between them when the request changes), :meth:`on_delta` per
    streamed delta, then :meth:`on_result` on success or :meth:`on_error` on failure, and
    always :meth:`on_end` last. Raising a :class:`~.errors.LunosError` from
    :meth:`on_attempt` refuses that attempt before it is sent; from :meth:`on_delta` it
    ends the stream (the connection is closed, which stops generation upstream).
    """

    def prepare(self) -> None:
        """Once, before the first attempt: may wait (bounded) for what the observer needs.

        Why a separate step: a budget may have to wait for the catalog's prices before it
        can judge the call, and on the async paths that wait must be awaited
        (:meth:`aprepare`), which :meth:`on_attempt`, called inside the transport, cannot.
        A :class:`~.errors.LunosError` raised here refuses the call.
        """

    async def aprepare(self) -> None:
        """Async :meth:`prepare` (the default runs :meth:`prepare`)."""
        self.prepare()

    def on_attempt(self, attempt: int, headers: MutableMapping[str, str]) -> None:
        """Before HTTP attempt ``attempt`` (0 = first) is sent; may add ``headers``."""

    def on_response(self, attempt: int, status: int, headers: Mapping[str, str]) -> None:
        """An attempt's status line and headers arrived (errors and retried ones too)."""

    def on_rate_limit_wait(self, seconds: float) -> None:
        """The key's rate governor held one send's attempts ``seconds`` in all (> 0).

        Told once per send that got an answer; a call that resends (a dropped parameter, a
        fallback hop) may be told again, so observers add the figures up.
        """

    def on_retarget(self, request: Any, reason: str) -> None:
        """The call goes on with ``request``: ``"fallback_model"`` or ``"dropped:<key>"``."""

    def on_delta(self, delta: ChatDelta) -> None:
        """A streamed delta, before the caller sees it."""

    def on_result(self, model: str, usage: Usage | None, result: Any) -> None:
        """The call succeeded; ``usage`` is priced when the price is known."""

    def on_error(self, error: BaseException) -> None:
        """The call failed (or its stream was closed early) with ``error``."""

    def on_end(self) -> None:
        """Always called last, exactly once."""


#: Makes the observer of one call, or ``None`` when the call is not of interest.
ObserverFactory = Callable[[CallInfo], "CallObserver | None"]

_FACTORIES: contextvars.ContextVar[tuple[ObserverFactory, ...]] = contextvars.ContextVar(
    "lunos_observer_factories", default=()
)


def context_factories() -> tuple[ObserverFactory, ...]:
    """The factories installed by :func:`watching` in the current context."""
    return _FACTORIES.get()


@contextlib.contextmanager
def watching(factory: ObserverFactory) -> Iterator[None]:
    """Observe every call made in this context (and tasks/threads started from it)."""
    token = _FACTORIES.set((*_FACTORIES.get(), factory))
    try:
        yield
    finally:
        try:
            _FACTORIES.reset(token)
        except ValueError:  # left in another context than entered: filter it out instead
            _FACTORIES.set(tuple(f for f in _FACTORIES.get() if f is not factory))


class Observation:
    """The observers of one logical call, and the one place their errors are sorted."""

    __slots__ = ("_ended", "observers")

    def __init__(self, observers: tuple[CallObserver, ...]) -> None:
        self.observers = observers
        self._ended = False

    @classmethod
    def start(cls, info: CallInfo, factories: tuple[ObserverFactory, ...]) -> Observation:
        """Make each factory's observer for ``info`` (a failing factory is skipped)."""
        made: list[CallObserver] = []
        for factory in factories:
            try:
                observer = factory(info)
            except LunosError:
                raise
            except Exception:
                logger.debug("call observer factory %r failed", factory, exc_info=True)
                continue
            if observer is not None:
                made.append(observer)
        return cls(tuple(made)) if made else NO_OBSERVATION

    def __bool__(self) -> bool:
        return bool(self.observers)

    def __enter__(self) -> Observation:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        """Ends the observation with the error that left the block, if any."""
        self.end(exc)

    def _each(self, name: str, *args: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, name)(*args)
            except LunosError:
                raise
            except Exception:
                logger.debug("call observer %r failed in %s", observer, name, exc_info=True)

    def prepare(self) -> None:
        self._each("prepare")

    async def aprepare(self) -> None:
        for observer in self.observers:
            try:
                await observer.aprepare()
            except LunosError:
                raise
            except Exception:
                logger.debug("call observer %r failed in aprepare", observer, exc_info=True)

    def on_attempt(self, attempt: int, headers: MutableMapping[str, str]) -> None:
        self._each("on_attempt", attempt, headers)

    def on_response(self, attempt: int, status: int, headers: Mapping[str, str]) -> None:
        self._each("on_response", attempt, status, headers)

    def on_rate_limit_wait(self, seconds: float) -> None:
        self._each("on_rate_limit_wait", seconds)

    def on_retarget(self, request: Any, reason: str) -> None:
        self._each("on_retarget", request, reason)

    def on_delta(self, delta: ChatDelta) -> None:
        self._each("on_delta", delta)

    def on_result(self, model: str, usage: Usage | None, result: Any) -> None:
        self._each("on_result", model, usage, result)

    def on_error(self, error: BaseException) -> None:
        self._each("on_error", error)

    def end(self, error: BaseException | None = None) -> None:
        """Report ``error`` (if any) and then :meth:`CallObserver.on_end`, once only.

        Errors raised by observers here are logged, never raised: the call is over.
        """
        if self._ended or not self.observers:
            return
        self._ended = True
        for observer in self.observers:
            for name, args in (("on_error", (error,)), ("on_end", ())):
                if name == "on_error" and error is None:
                    continue
                try:
                    getattr(observer, name)(*args)
                except Exception:
                    logger.debug("call observer %r failed in %s", observer, name, exc_info=True)


#: Shared by every call that nothing observes, so an unobserved call allocates nothing.
NO_OBSERVATION = Observation(())
