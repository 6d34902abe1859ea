"""Process-wide httpx clients, shared by every model with the same socket settings.

Creating a thousand ``ChatLunos`` objects must not open a thousand connection pools (the
port-exhaustion bug other gateway integrations have). Clients live here, keyed by
:meth:`LunosConfig.pool_key`, and are reference-counted: a transport *leases* one, and the
pool is closed when the last lease is returned.

Async clients are bound to the event loop that created their connections; reusing one from
another loop fails with "Event loop is closed" (common with ``asyncio.run`` per call). So
each event loop gets its own async client, dropped together with its loop.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..config import LunosConfig


def _limits(config: LunosConfig) -> httpx.Limits:
    return httpx.Limits(
        max_connections=config.max_connections,
        max_keepalive_connections=min(config.max_connections, 100),
        keepalive_expiry=30.0,
    )


def _client_kwargs(config: LunosConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "timeout": config.timeout,
        "limits": _limits(config),
        # Redirects are followed by the transport itself, same-origin only (see
        # Transport._redirected), so neither key nor prompt can reach another host.
        "follow_redirects": False,
    }
    if config.proxy:
        kwargs["proxy"] = config.proxy
    return kwargs


@dataclass
class _Entry:
    leases: int = 0
    sync: httpx.Client | None = None
    by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = field(
        default_factory=weakref.WeakKeyDictionary
    )


class PoolRegistry:
    """Leases shared clients. One module-level instance serves the whole process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        self._atexit_registered = False

    def lease(self, config: LunosConfig) -> tuple[Any, ...]:
        key = config.pool_key()
        with self._lock:
            self._entries.setdefault(key, _Entry()).leases += 1
        return key

    def sync_client(self, config: LunosConfig) -> httpx.Client:
        key = config.pool_key()
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            if entry.sync is None or entry.sync.is_closed:
                entry.sync = httpx.Client(**_client_kwargs(config))
                if not self._atexit_registered:
                    # Models are rarely closed explicitly; close idle sockets at exit instead
                    # of leaving them to the garbage collector (ResourceWarning noise).
                    atexit.register(self.close_sync_clients)
                    self._atexit_registered = True
            return entry.sync

    def async_client(self, config: LunosConfig) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        key = config.pool_key()
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            client = entry.by_loop.get(loop)
            if client is None or client.is_closed:
                client = httpx.AsyncClient(**_client_kwargs(config))
                entry.by_loop[loop] = client
            return client

    def release(self, key: tuple[Any, ...]) -> list[httpx.AsyncClient]:
        """Return a lease; when it was the last, close the sync client.

        Returns the async clients that must be closed by the caller (from inside their loop).
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return []
            entry.leases -= 1
            if entry.leases > 0:
                return []
            del self._entries[key]
            sync, clients = entry.sync, list(entry.by_loop.items())
        if sync is not None:
            sync.close()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        return [c for lp, c in clients if lp is loop]

    def close_sync_clients(self) -> None:
        """Close every shared sync client (they reopen on next use). Safe to call twice."""
        with self._lock:
            clients = [e.sync for e in self._entries.values() if e.sync is not None]
        for client in clients:
            client.close()

    def stats(self) -> dict[str, int]:
        """Counts for tests and diagnostics: pools, leases, live async clients."""
        with self._lock:
            return {
                "pools": len(self._entries),
                "leases": sum(e.leases for e in self._entries.values()),
                "sync_clients": sum(1 for e in self._entries.values() if e.sync is not None),
                "async_clients": sum(len(e.by_loop) for e in self._entries.values()),
            }


POOLS = PoolRegistry()
