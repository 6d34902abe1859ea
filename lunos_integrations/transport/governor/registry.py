"""The process-wide governors, one per (base URL, key), and their reset after ``fork``.

Keyed by the base URL and a SHA-256 digest of the key (never the key itself, so no repr,
log or dump of the registry can show it). Every transport looks its governor up per
attempt, so a forked child, whose registry starts empty, gets fresh governors: the
parent's in-flight counts and held callers (threads that do not exist in the child) must
not hold the child's first calls.
"""

from __future__ import annotations

import hashlib
import os
import weakref

from ..._forksafe import ForkSafeLock
from ...config import LunosConfig
from .core import Governor

#: Registries keep at most this many keys; idle ones beyond it are forgotten.
MAX_KEYS = 1024

GovernorKey = tuple[str, str]


def governor_key(config: LunosConfig) -> GovernorKey | None:
    """What a config's governor is found by, or None when ``rate_governor`` is off."""
    if not config.rate_governor:
        return None
    digest = hashlib.sha256(config.api_key.get_secret_value().encode()).hexdigest()[:24]
    return (config.base_url, digest)


class GovernorRegistry:
    """Governors by key. One module-level instance serves the process."""

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self._by_key: dict[GovernorKey, Governor] = {}
        self._pid = os.getpid()
        _REGISTRIES.add(self)

    def __repr__(self) -> str:
        return f"GovernorRegistry(keys={len(self._by_key)})"

    def get(self, key: GovernorKey, config: LunosConfig | None = None) -> Governor:
        """The governor of ``key``, created on first use (with ``config``'s declared limits)."""
        if self._pid != os.getpid():  # a fork made without Python's hooks
            self._after_fork_in_child()
        governor = self._by_key.get(key)
        if governor is not None:
            return governor
        with self._lock:
            governor = self._by_key.get(key)
            if governor is None:
                if len(self._by_key) >= MAX_KEYS:
                    self._forget_idle()
                governor = Governor()
                self._by_key[key] = governor
        if config is not None:
            governor.declare(config.requests_per_minute, config.tokens_per_minute)
        return governor

    def for_config(self, config: LunosConfig) -> Governor | None:
        key = governor_key(config)
        return None if key is None else self.get(key, config)

    def _forget_idle(self) -> None:
        for key, governor in list(self._by_key.items()):
            if governor.inflight == 0:
                del self._by_key[key]
                if len(self._by_key) < MAX_KEYS // 2:
                    return

    def clear(self) -> None:
        """Forget every governor (tests; a process that wants learned limits reset)."""
        with self._lock:
            self._by_key = {}

    def _after_fork_in_child(self) -> None:
        self._lock = ForkSafeLock()
        self._by_key = {}
        self._pid = os.getpid()


_REGISTRIES: weakref.WeakSet[GovernorRegistry] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for registry in list(_REGISTRIES):
        registry._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)

GOVERNORS = GovernorRegistry()
