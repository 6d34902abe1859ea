"""Process-wide httpx clients, shared by every model with the same socket settings.

Creating a thousand ``ChatLunos`` objects must not open a thousand connection pools (the
port-exhaustion bug other gateway integrations have). Clients live here, keyed by
:meth:`LunosConfig.pool_key`, and are reference-counted: a transport *leases* one, and the
pool is closed when the last lease is returned.

Async clients are bound to the event loop that created their connections; reusing one from
another loop fails with "Event loop is closed" (common with ``asyncio.run`` per call). So
each event loop gets its own async clients, closed when that loop shuts down (see
:func:`_close_with_loop`), so any number of ``asyncio.run`` calls keeps a bounded number of
sockets open.

Processes: after ``fork`` the child must never touch a socket, lock or client inherited from
its parent: two processes writing requests to one keep-alive socket read each other's
answers. The registry starts afresh in the child (``os.register_at_fork``, and a pid check
on every access for forks that bypass Python's hooks); inherited clients are left alone,
neither used nor closed, so the parent's connections are unaffected.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

import httpx

from ..config import LunosConfig, TLSSettings
from . import http_lib, tls


def _stack(config: LunosConfig) -> Any:
    """The library the pools of ``config`` run on (``http_stack``; httpx by default)."""
    return http_lib.stack_module(config.http_stack)


def _limits(config: LunosConfig, per_pool: int | None = None) -> Any:
    n = config.max_connections if per_pool is None else per_pool
    return _stack(config).Limits(
        max_connections=n, max_keepalive_connections=min(n, 100), keepalive_expiry=30.0
    )


class _NoCookies(CookieJar):
    """A cookie jar that never stores anything.

    Pools are shared by every model with the same socket settings, whatever their API key
    or app id, so a ``Set-Cookie`` answered to one model's request must not ride along on
    another's (the Lunos API authenticates with the bearer key and needs no cookies).
    Skipping the jar also saves httpx's cookie parsing on every response (~25 µs).
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Any) -> None:
        return None


def shared_ssl_context(settings: TLSSettings | None = None) -> ssl.SSLContext:
    """The one TLS context every client with these settings shares (see ``tls.py``).

    httpx builds a new context per client by default, loading the whole CA bundle each time
    (~25 ms). An event loop's async pool is eight clients, so that was ~0.2 s of blocking the
    event loop on a model's first async call (per loop and pool key). Without ``settings``:
    those the environment gives now.
    """
    return tls.CONTEXTS.get(settings if settings is not None else TLSSettings.resolve())


def _client_kwargs(config: LunosConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "verify": shared_ssl_context(config.tls),
        "cookies": _NoCookies(),
        "timeout": config.timeout
        if config.http_stack == "httpx"
        else _stack(config).Timeout(**config.timeout.as_dict()),
        "limits": _limits(config),
        # Redirects are followed by the transport itself, same-origin only (see
        # Transport._redirected), so neither key nor prompt can reach another host.
        "follow_redirects": False,
    }
    if config.proxy:
        kwargs["proxy"] = config.proxy
    return kwargs


#: Async pools are split into this many shards (fewer for small connection limits).
ASYNC_SHARDS = 8


class _Shards:
    """Several async clients for one loop, used round-robin.

    httpcore's pool re-examines every pooled connection (a poll() syscall each) whenever a
    request is queued or a connection is released, so its per-request cost grows with the
    number of connections. Splitting one large pool into a few small ones keeps that cost
    flat under high concurrency; the total connection limit is unchanged.
    """

    __slots__ = ("clients", "closer", "inflight")

    def __init__(self, config: LunosConfig) -> None:
        count = max(1, min(ASYNC_SHARDS, config.max_connections // 16))
        per_shard = -(-config.max_connections // count)
        kwargs = _client_kwargs(config)
        kwargs["limits"] = _limits(config, per_shard)
        stack = _stack(config)
        self.clients = [stack.AsyncClient(**kwargs) for _ in range(count)]
        self.inflight = [0] * count
        #: The loop-shutdown hook (see :func:`_close_with_loop`); kept alive with the shards.
        self.closer: AsyncGenerator[None, None] | None = None

    def acquire(self) -> tuple[httpx.AsyncClient, Callable[[], None]]:
        """The least busy shard for one request, and the callback that marks it finished.

        Ties go to the first shard, so sequential traffic keeps reusing one shard's
        connections; concurrency spreads evenly, each shard keeping its own keep-alive
        connections to the (usually single) Lunos host.
        """
        inflight = self.inflight
        i = inflight.index(min(inflight))
        inflight[i] += 1
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                inflight[i] -= 1

        return self.clients[i], release

    @property
    def is_closed(self) -> bool:
        return any(c.is_closed for c in self.clients)

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


async def _close_with_loop(
    shards: _Shards, forget: Callable[[], None]
) -> AsyncGenerator[None, None]:
    """An async generator that closes ``shards`` when their event loop shuts down.

    Why a generator: started inside the loop, it is registered through the loop's async
    generator hooks, and ``asyncio.run`` (like every asyncio runner, pytest-asyncio and
    uvloop included) calls ``loop.shutdown_asyncgens()`` before closing the loop, which
    resumes it *while the loop still runs*: the clients close properly there, with no
    ``ResourceWarning`` and no socket left open. A loop offers no other close callback.
    If the shards are dropped first (the last model released its lease), the loop's
    finalizer hook still runs this ``finally`` inside that loop.
    """
    try:
        yield
    finally:
        forget()
        await shards.aclose()


def _start(agen: AsyncGenerator[None, None]) -> None:
    """Run ``agen`` to its first ``yield`` from synchronous code inside the running loop.

    The first step is what hands the generator to the running loop's ``firstiter`` hook.
    """
    step: Any = agen.asend(None)
    try:
        step.send(None)
    except StopIteration:
        return
    raise RuntimeError("the loop-shutdown hook awaited before its first yield")  # unreachable


@dataclass
class _Entry:
    leases: int = 0
    sync: httpx.Client | None = None
    by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Shards] = field(
        default_factory=weakref.WeakKeyDictionary
    )


class PoolRegistry:
    """Leases shared clients. One module-level instance serves the whole process.

    Every public method first checks that the process is still the one that created the
    current clients (:meth:`_check_fork`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        self._atexit_registered = False
        self._pid = os.getpid()
        #: What a forked child inherited: kept referenced (so never garbage-collected, which
        #: would close sockets and warn) and never used.
        self._inherited: list[dict[tuple[Any, ...], _Entry]] = []
        _REGISTRIES.add(self)

    def _check_fork(self) -> None:
        """Second guard behind the at-fork hook, for forks made without Python's hooks
        (``os.fork`` from C code, ``ctypes``): a changed pid means we are the child."""
        if self._pid != os.getpid():
            self._after_fork_in_child()

    def _after_fork_in_child(self) -> None:
        """Forget the parent's clients and lock; keep the lease counts models hold.

        The parent's lock may have been held by a thread that does not exist here, and its
        clients hold the parent's sockets and httpcore locks. Nothing inherited is closed:
        closing takes those locks, and the sockets are the parent's to close.
        """
        self._lock = threading.Lock()
        inherited = self._entries
        self._entries = {key: _Entry(leases=entry.leases) for key, entry in inherited.items()}
        self._inherited.append(inherited)
        self._pid = os.getpid()

    def lease(self, config: LunosConfig) -> tuple[Any, ...]:
        key = config.pool_key()
        self._check_fork()
        with self._lock:
            self._entries.setdefault(key, _Entry()).leases += 1
        return key

    def sync_client(self, config: LunosConfig) -> httpx.Client:
        key = config.pool_key()
        self._check_fork()
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            if entry.sync is None or entry.sync.is_closed:
                entry.sync = _stack(config).Client(**_client_kwargs(config))
                if not self._atexit_registered:
                    # Models are rarely closed explicitly; close idle sockets at exit instead
                    # of leaving them to the garbage collector (ResourceWarning noise).
                    atexit.register(self.close_sync_clients)
                    self._atexit_registered = True
            return entry.sync

    def async_client(self, config: LunosConfig) -> httpx.AsyncClient:
        """A client of this loop's pool (for callers that do not track requests)."""
        client, release = self.acquire_async(config)
        release()
        return client

    def acquire_async(self, config: LunosConfig) -> tuple[httpx.AsyncClient, Callable[[], None]]:
        """Lease a shard of this event loop's pool for one request; call the callback after."""
        loop = asyncio.get_running_loop()
        key = config.pool_key()
        self._check_fork()
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            shards = entry.by_loop.get(loop)
            if shards is None or shards.is_closed:
                shards = self._new_shards(config, key, entry, loop)
            return shards.acquire()

    def _new_shards(
        self,
        config: LunosConfig,
        key: tuple[Any, ...],
        entry: _Entry,
        loop: asyncio.AbstractEventLoop,
    ) -> _Shards:
        """A new pool for ``loop`` that closes itself when the loop shuts down (lock held).

        Also forgets pools of loops that were closed without ``shutdown_asyncgens()``
        (hand-made loops): they can no longer be closed properly, but they are no longer
        kept either, so a process cycling through loops keeps a bounded number of pools.
        """
        for old in [lp for lp in entry.by_loop if lp.is_closed()]:
            del entry.by_loop[old]
        shards = _Shards(config)
        entry.by_loop[loop] = shards

        def forget() -> None:
            with self._lock:
                current = self._entries.get(key)
                if current is not None and current.by_loop.get(loop) is shards:
                    del current.by_loop[loop]

        shards.closer = _close_with_loop(shards, forget)
        _start(shards.closer)
        return shards

    def release(self, key: tuple[Any, ...]) -> list[httpx.AsyncClient]:
        """Return a lease; when it was the last, close the sync client.

        Returns the async clients that must be closed by the caller (from inside their loop);
        other loops' clients are closed in their own loop by their shutdown hook.
        """
        self._check_fork()
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
        return [c for lp, shards in clients if lp is loop for c in shards.clients]

    def close_sync_clients(self) -> None:
        """Close every shared sync client (they reopen on next use). Safe to call twice."""
        self._check_fork()
        with self._lock:
            clients = [e.sync for e in self._entries.values() if e.sync is not None]
        for client in clients:
            client.close()

    def stats(self) -> dict[str, int]:
        """Counts for tests and diagnostics: pools, leases, live async clients."""
        self._check_fork()
        with self._lock:
            return {
                "pools": len(self._entries),
                "leases": sum(e.leases for e in self._entries.values()),
                "sync_clients": sum(1 for e in self._entries.values() if e.sync is not None),
                "async_clients": sum(
                    len(s.clients) for e in self._entries.values() for s in e.by_loop.values()
                ),
            }


_REGISTRIES: weakref.WeakSet[PoolRegistry] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """Reset every registry, and the TLS context (OpenSSL locks may be held mid-handshake)."""
    tls.CONTEXTS.reset()
    for registry in list(_REGISTRIES):
        registry._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)

POOLS = PoolRegistry()
