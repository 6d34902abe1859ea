"""Locks that a forked child gets back unlocked.

Why: ``fork`` copies memory but only the thread that called it. A lock that another thread
held at that instant (a catalog fetch, a usage update, a pool lookup) stays locked forever
in the child, and the child's first call deadlocks. gunicorn ``--preload``, Celery prefork
and ``multiprocessing``'s ``fork`` start method all fork processes that may have threads.

:class:`ForkSafeLock` behaves like :class:`threading.Lock`; every live instance is replaced
by a fresh lock in the child (``os.register_at_fork``). The state the lock protected was
consistent whenever the lock was free, and the thread that was changing it does not exist
in the child, so a fresh lock is the only thing that can be taken there. Modules whose locks
guard connections (:mod:`.transport.pools`) reset that state too, not just the lock.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

__all__ = ["ForkSafeLock"]


class ForkSafeLock:
    """A ``threading.Lock`` that is re-created (unlocked) in a child after ``fork``.

    It also pickles (as a new unlocked lock), so objects guarded by one can be shipped to
    worker processes.
    """

    __slots__ = ("__weakref__", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        _LIVE.add(self)

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def __reduce__(self) -> tuple[Any, ...]:
        return (ForkSafeLock, ())

    def __repr__(self) -> str:
        return f"<ForkSafeLock {'locked' if self.locked() else 'unlocked'}>"

    def _reinit(self) -> None:
        self._lock = threading.Lock()


_LIVE: weakref.WeakSet[ForkSafeLock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The child has a single thread here, so the set cannot change while we walk it.
    for lock in list(_LIVE):
        lock._reinit()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)
