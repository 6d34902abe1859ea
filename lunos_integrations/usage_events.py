"""Where a finished call's usage is announced: listeners carried by the context.

Why contextvars and not a module-level list: a listener belongs to the code that asked for
it. ``track_usage()`` pushes its tracker's listener onto the *current context*, so an
asyncio task (or a thread started with a copied context) reports to the trackers that were
active where it started, while another task running at the same time does not. Nothing is
registered globally, so nothing outlives the ``with`` block that installed it.

This sits below :mod:`lunos_integrations.client` (which only reads the listeners) and
above nothing but the wire types.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from .wire.types import Usage

__all__ = ["UsageListener", "add_listener", "current_listeners", "remove_listener"]

#: Called with every finished call's usage: (model, app_id, usage).
UsageListener = Callable[[str, "str | None", Usage], None]

_LISTENERS: contextvars.ContextVar[tuple[UsageListener, ...]] = contextvars.ContextVar(
    "lunos_usage_listeners", default=()
)


def current_listeners() -> tuple[UsageListener, ...]:
    """The listeners active in this context (innermost last)."""
    return _LISTENERS.get()


def add_listener(listener: UsageListener) -> contextvars.Token[tuple[UsageListener, ...]]:
    """Activate ``listener`` in this context; pass the token to :func:`remove_listener`."""
    return _LISTENERS.set((*_LISTENERS.get(), listener))


def remove_listener(
    listener: UsageListener, token: contextvars.Token[tuple[UsageListener, ...]] | None
) -> None:
    """Deactivate ``listener``: reset the token, or (other context) filter it out."""
    if token is not None:
        try:
            _LISTENERS.reset(token)
            return
        except ValueError:  # exited in another context than it was entered in
            pass
    _LISTENERS.set(tuple(item for item in _LISTENERS.get() if item != listener))
