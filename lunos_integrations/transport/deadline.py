"""Deadlines that hold whatever the peer does: a whole-attempt bound and a progress clock.

httpx timeouts bound each socket operation, and every byte a server trickles starts a new
one: status line, headers or body sent a byte every half second never time out, and a
stream of keep-alive comments never looks idle. Like Go's ``http.Client.Timeout``, a
:class:`Budget` is an absolute point on the monotonic clock that the attempt must finish
by (or, for a stream, that the next *progress* event must arrive by).

It is enforced at two levels:

* **Socket reads and writes.** Every connection a request of ours opens gets its network
  stream's ``read`` / ``write`` wrapped (through httpcore's public ``trace`` extension,
  which hands over each new stream), so that each socket operation waits at most the time
  left. A read that is still blocked when the budget runs out fails then, not one socket
  timeout later, and this also covers the status line and headers, which httpx reads
  before our code sees the response. The budget in force comes from a context variable
  while ``send`` runs and from the connection itself afterwards (one request at a time
  uses an HTTP/1.1 connection, and our readers attach and detach it).
* **Our read loops** check the clock between chunks, which also bounds injected clients
  whose transports have no socket to wrap (e.g. ``httpx.MockTransport``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

_monotonic = time.monotonic

#: Trace events whose ``return_value`` is a freshly opened network stream.
_NEW_STREAM_EVENTS = (
    ".connect_tcp.complete",
    ".connect_unix_socket.complete",
    ".start_tls.complete",
)
#: An attempt that opens a connection starts with one of these (see :attr:`Budget.opened`).
_OPEN_EVENTS = (".connect_tcp.started", ".connect_unix_socket.started")
#: Sending the request line: the attempt reached a connection (new or pooled).
_SEND_EVENTS = (".send_request_headers.started",)
_ATTEMPT_EVENTS = _OPEN_EVENTS + _SEND_EVENTS


class Budget:
    """A deadline on the monotonic clock, restarted per attempt or per progress event.

    ``seconds is None`` means unbounded (an ``httpx.Timeout(None)`` asked for it). ``what``
    names the limit in errors, e.g. ``"timeout=2.0 s"``.
    """

    __slots__ = ("at", "opened", "seconds", "sent", "stale_retried", "what")

    def __init__(self, seconds: float | None, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.at: float | None = None
        #: Set by the trace hooks during one ``send``: whether the attempt opened a new
        #: connection, and whether it got as far as writing the request on one. Sent on a
        #: connection it did not open means a pooled one (see ``stale.py``).
        self.opened = False
        self.sent = False
        #: Whether this call already resent a request after a stale pooled connection.
        self.stale_retried = False

    def start(self, seconds: float | None = None, what: str | None = None) -> Budget:
        """Restart the clock now (with ``seconds`` / ``what`` when they change)."""
        if seconds is not None:
            self.seconds = seconds
        if what is not None:
            self.what = what
        self.at = None if self.seconds is None else _monotonic() + self.seconds
        return self

    def tick(self, away: float, moved: bool) -> bool:
        """End of one stream chunk; ``True`` when the progress deadline has passed.

        On progress the clock restarts (after the caller has handled the events). Otherwise
        ``away``, the time the caller spent on events we yielded, is added back: the idle
        clock measures the server, and no byte is read meanwhile. Our own parsing time is
        not added back, so a flood that keeps us busy without progress still ends. The
        socket-level bound covers the reads themselves; this check also covers clients
        whose transports have no socket to bound.
        """
        at = self.at
        if at is None:
            return False
        now = _monotonic()
        if moved:
            self.at = now + self.seconds if self.seconds is not None else None
            return False
        if away:
            self.at = at = at + away
        return now >= at

    def left(self) -> float | None:
        return None if self.at is None else self.at - _monotonic()

    def expired(self) -> bool:
        return self.at is not None and _monotonic() >= self.at

    def message(self) -> str:
        return f"deadline reached ({self.what})"


_CURRENT: ContextVar[Budget | None] = ContextVar("lunos_budget", default=None)


def whole_attempt_seconds(timeout: httpx.Timeout) -> float | None:
    """The whole-attempt bound of an ``httpx.Timeout``: its largest phase limit.

    Per-phase limits keep their meaning (a 5 s connect limit still fails a slow connect
    after 5 s); the largest of them also bounds the attempt as a whole. ``None`` when no
    phase is limited.
    """
    limits = [v for v in (timeout.connect, timeout.read, timeout.write, timeout.pool) if v]
    return max(limits) if limits else None


class _Slot:
    """The budget attached to one connection while a response of ours reads from it."""

    __slots__ = ("budget",)

    def __init__(self) -> None:
        self.budget: Budget | None = None


def _capped(slot: _Slot, timeout: float | None, kind: type[Exception]) -> float | None:
    budget = _CURRENT.get() or slot.budget
    if budget is None or budget.at is None:
        return timeout
    left = budget.at - _monotonic()
    if left <= 0:
        raise kind(budget.message())
    return left if timeout is None or left < timeout else timeout


def _expired_error(slot: _Slot, exc: Exception) -> Exception:
    """Re-word a socket timeout that the budget (not the per-phase limit) caused."""
    budget = _CURRENT.get() or slot.budget
    if budget is not None and budget.expired():
        return type(exc)(budget.message())
    return exc


def _install_sync(
    stream: Any,
    read_timeout: type[Exception] = httpcore.ReadTimeout,
    write_timeout: type[Exception] = httpcore.WriteTimeout,
) -> None:
    if stream is None or hasattr(stream, "_lunos_slot"):
        return
    slot = _Slot()
    read, write = stream.read, stream.write

    def bounded_read(max_bytes: int, timeout: float | None = None) -> bytes:
        # _capped() inlined: this runs once per socket read of every response.
        budget = _CURRENT.get() or slot.budget
        if budget is not None and budget.at is not None:
            left = budget.at - _monotonic()
            if left <= 0:
                raise read_timeout(budget.message())
            if timeout is None or left < timeout:
                timeout = left
        try:
            return read(max_bytes, timeout)  # type: ignore[no-any-return]
        except read_timeout as exc:
            raise _expired_error(slot, exc) from None

    def bounded_write(buffer: bytes, timeout: float | None = None) -> None:
        try:
            write(buffer, _capped(slot, timeout, write_timeout))
        except write_timeout as exc:
            raise _expired_error(slot, exc) from None

    stream.read, stream.write, stream._lunos_slot = bounded_read, bounded_write, slot


def _install_async(
    stream: Any,
    read_timeout: type[Exception] = httpcore.ReadTimeout,
    write_timeout: type[Exception] = httpcore.WriteTimeout,
) -> None:
    if stream is None or hasattr(stream, "_lunos_slot"):
        return
    slot = _Slot()
    read, write = stream.read, stream.write

    async def bounded_read(max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await read(max_bytes, _capped(slot, timeout, read_timeout))  # type: ignore[no-any-return]
        except read_timeout as exc:
            raise _expired_error(slot, exc) from None

    async def bounded_write(buffer: bytes, timeout: float | None = None) -> None:
        try:
            await write(buffer, _capped(slot, timeout, write_timeout))
        except write_timeout as exc:
            raise _expired_error(slot, exc) from None

    stream.read, stream.write, stream._lunos_slot = bounded_read, bounded_write, slot


def _note(name: str) -> None:
    """Record on the budget in force whether this attempt opened or reused a connection."""
    budget = _CURRENT.get()
    if budget is not None:
        if name.endswith(_OPEN_EVENTS):
            budget.opened = True
        elif name.endswith(_SEND_EVENTS):
            budget.sent = True


def sync_trace(name: str, info: dict[str, Any]) -> None:
    """httpcore ``trace`` callback for sync clients: bound every stream a request opens."""
    if name.endswith(_NEW_STREAM_EVENTS):
        _install_sync(info.get("return_value"))
    elif name.endswith(_ATTEMPT_EVENTS):
        _note(name)


async def async_trace(name: str, info: dict[str, Any]) -> None:
    """httpcore ``trace`` callback for async clients (httpcore awaits it)."""
    if name.endswith(_NEW_STREAM_EVENTS):
        _install_async(info.get("return_value"))
    elif name.endswith(_ATTEMPT_EVENTS):
        _note(name)


def make_traces(
    core: Any,
) -> tuple[Callable[[str, dict[str, Any]], None], Callable[[str, dict[str, Any]], Awaitable[None]]]:
    """The two trace hooks for another httpcore (httpcore2 under httpx2).

    The wrapped reads must raise *that* library's timeouts: its httpx maps only its own
    httpcore's exceptions to typed ones, anything else would escape as a foreign class.
    """
    read_timeout, write_timeout = core.ReadTimeout, core.WriteTimeout

    def sync_hook(name: str, info: dict[str, Any]) -> None:
        if name.endswith(_NEW_STREAM_EVENTS):
            _install_sync(info.get("return_value"), read_timeout, write_timeout)
        elif name.endswith(_ATTEMPT_EVENTS):
            _note(name)

    async def async_hook(name: str, info: dict[str, Any]) -> None:
        if name.endswith(_NEW_STREAM_EVENTS):
            _install_async(info.get("return_value"), read_timeout, write_timeout)
        elif name.endswith(_ATTEMPT_EVENTS):
            _note(name)

    return sync_hook, async_hook


TraceHook = Callable[[str, dict[str, Any]], None] | Callable[[str, dict[str, Any]], Awaitable[None]]


def enter(budget: Budget) -> Any:
    """Make ``budget`` the one in force for this thread / task; returns the reset token."""
    return _CURRENT.set(budget)


def leave(token: Any) -> None:
    _CURRENT.reset(token)


def attach(response: httpx.Response, budget: Budget | None) -> None:
    """Let the connection under ``response`` enforce ``budget`` (``None`` detaches)."""
    slot = getattr(response.extensions.get("network_stream"), "_lunos_slot", None)
    if slot is not None:
        slot.budget = budget


# ---------------------------------------------------------------------- progress


def chat_progress(obj: Any) -> bool:
    """Whether a chat-completions chunk moves the answer on.

    Progress is content, a tool-call part, reasoning, a refusal, usage or a finish reason.
    ``choices: []`` without usage, or a delta that only repeats the role, is a keep-alive
    in disguise and does not restart the stream's idle clock.
    """
    try:  # the usual chunk, decided with three lookups
        if obj["choices"][0]["delta"].get("content"):
            return True
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    if type(obj) is not dict:
        return False
    if obj.get("usage"):
        return True
    choices = obj.get("choices")
    if type(choices) is not list:
        return False
    for choice in choices:
        if type(choice) is not dict:
            continue
        if choice.get("finish_reason") is not None:
            return True
        if _has_value(choice.get("delta"), "role"):
            return True
    return False


#: Anthropic events that always move the answer on (``ping`` and unknown events do not).
_MESSAGES_PROGRESS = frozenset(
    {"message_start", "content_block_start", "content_block_stop", "message_delta", "message_stop"}
)


def messages_progress(name: str | None, obj: Any) -> bool:
    """Whether an Anthropic Messages event moves the answer on (an empty delta does not)."""
    if name in _MESSAGES_PROGRESS:
        return True
    return (
        name == "content_block_delta" and type(obj) is dict and _has_value(obj.get("delta"), "type")
    )


def _has_value(delta: Any, besides: str) -> bool:
    """Whether a delta object holds a non-empty value under any key but ``besides``."""
    return type(delta) is dict and any(value and key != besides for key, value in delta.items())
