"""The process-wide, per-base-URL cache behind :func:`lookup_model`.

Why a cache: profiles, metadata and cost need catalog facts, but the catalog changes
rarely, so it is fetched at most once per TTL per base URL. Why these rules:

* **Never on a request's critical path.** Calls only *start* a fetch (:meth:`start` runs
  it on a daemon thread, :meth:`astart` as a task of the running loop) and go on; pricing
  after the reply waits for it a short bounded time (:meth:`wait` / :meth:`await_fetch`).
* **One fetch for many callers.** Threads wait on a per-URL lock; asyncio callers in one
  event loop await one shared task. Fifty concurrent first calls cost one ``GET /models``.
* **Never raises.** The catalog is an optimisation: when it is down or malformed, chat must
  still work. Failures are remembered for a short *negative* TTL (so a dead endpoint is not
  hammered on every call). They are reported once per outage with a
  :class:`LunosCatalogWarning`, but only to a caller that *needed* the data (a profile, a
  lookup): a background fetch for pricing stays quiet, so a wrong key shows its
  ``AuthenticationError`` and nothing else. A previously good catalog keeps being served
  (stale) while the endpoint is failing.
* **Nothing at import time.** The first lookup triggers the first fetch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._forksafe import ForkSafeLock
from ..errors import APIResponseValidationError, WireFormatError, scrub_error
from ..redact import NO_SECRETS, Secrets, redact_url
from ..wire.models import PATH, ModelInfo, parse_model_list

if TYPE_CHECKING:
    from ..client import LunosClient
    from ..transport.http import JSONResponse

__all__ = [
    "DEFAULT_NEGATIVE_TTL",
    "DEFAULT_TTL",
    "CatalogCache",
    "LunosCatalogWarning",
    "decode_catalog",
]

#: How long a fetched catalog is trusted (the first-party playground also uses 10 minutes).
DEFAULT_TTL = 600.0
#: How long a failed fetch is remembered before the next attempt.
DEFAULT_NEGATIVE_TTL = 60.0
#: Seconds pricing may wait after a reply for a catalog fetch that is still in flight.
DEFAULT_PRICE_WAIT = 0.05

ModelIndex = Mapping[str, ModelInfo]


class LunosCatalogWarning(UserWarning):
    """The model catalog could not be used; calls continue without catalog data."""


def decode_catalog(response: JSONResponse, secrets: Secrets = NO_SECRETS) -> list[ModelInfo]:
    """Models from a ``GET /models`` response, or :class:`APIResponseValidationError`
    (its quote of the body scrubbed of ``secrets``)."""
    try:
        return parse_model_list(response.data)
    except WireFormatError as exc:
        scrub_error(exc, secrets)
        raise APIResponseValidationError(
            str(exc), status_code=response.status_code, request_id=response.request_id
        ) from exc


def index_models(models: list[ModelInfo]) -> dict[str, ModelInfo]:
    """Id → model. The documented canonical ``modelId`` is indexed too when it differs."""
    index: dict[str, ModelInfo] = {}
    for info in models:
        index.setdefault(info.id, info)
    for info in models:
        alias = info.raw.get("modelId")
        if isinstance(alias, str) and alias:
            index.setdefault(alias, info)
    return index


@dataclass(slots=True)
class _Entry:
    models: ModelIndex | None  # None: no good catalog known yet
    expires: float
    ok: bool
    error: BaseException | None = None


class CatalogCache:
    """Catalogs keyed by base URL, shared by every client of the process."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        clock: Callable[[], float] = time.monotonic,
        price_wait: float = DEFAULT_PRICE_WAIT,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        #: Default bound on pricing's wait for a fetch in flight (see ``ModelCatalog``).
        self.price_wait = price_wait
        self.clock = clock
        self._lock = ForkSafeLock()
        self._key_locks: dict[str, ForkSafeLock] = {}
        self._entries: dict[str, _Entry] = {}
        self._warned: set[str] = set()
        self._tasks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Task[ModelIndex | None]]
        ] = weakref.WeakKeyDictionary()
        #: Background (thread) fetches in flight, per key; set when they end.
        self._inflight: dict[str, threading.Event] = {}
        #: Bumped by :meth:`clear`, so a fetch started before it cannot store afterwards.
        self._generation = 0
        #: Number of ``GET /models`` attempts made, for observability and tests.
        self.fetches = 0

    # ------------------------------------------------------------------ state

    def clear(self) -> None:
        """Forget every catalog and failure (tests; or after changing deployments)."""
        with self._lock:
            self._entries.clear()
            self._warned.clear()
            self._generation += 1

    def _fresh(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self.clock():
            return entry
        return None

    def peek(self, key: str) -> ModelIndex | None:
        """The last good catalog for ``key`` (even if stale) without any I/O."""
        entry = self._entries.get(key)
        return entry.models if entry is not None else None

    def known(self, key: str) -> bool:
        """Whether a fetch for ``key`` has ended (well or not) and is still remembered."""
        return key in self._entries

    def store(self, key: str, models: list[ModelInfo], generation: int | None = None) -> ModelIndex:
        """Record a successfully fetched catalog (also used by ``list_models``)."""
        index = index_models(models)
        with self._lock:
            if generation is None or generation == self._generation:
                self._entries[key] = _Entry(index, self.clock() + self.ttl, True)
                self._warned.discard(key)
        return index

    def _fail(self, key: str, exc: BaseException, generation: int) -> ModelIndex | None:
        """Remember a failed fetch (negative TTL); the warning is left to :meth:`_report`."""
        with self._lock:
            previous = self._entries.get(key)
            stale = previous.models if previous is not None else None
            if generation == self._generation:
                self._entries[key] = _Entry(
                    stale, self.clock() + self.negative_ttl, False, exc.with_traceback(None)
                )
        return stale

    def _report(self, key: str) -> None:
        """Warn once per outage, for a caller that needed the catalog and lacks it."""
        entry = self._entries.get(key)
        if entry is None or entry.ok:
            return
        with self._lock:
            first = key not in self._warned
            self._warned.add(key)
        if first:
            exc = entry.error
            what = (
                "using the last good catalog"
                if entry.models is not None
                else "continuing without it"
            )
            warnings.warn(
                f"The Lunos model catalog at {redact_url(key)}{PATH} could not be used "
                f"({type(exc).__name__}: {exc}); {what} (no catalog facts or computed "
                f"cost for unknown models). Next attempt in {self.negative_ttl:g} s.",
                LunosCatalogWarning,
                stacklevel=4,
            )

    # ------------------------------------------------------------------ sync

    def _key_lock(self, key: str) -> ForkSafeLock:
        with self._lock:
            lock = self._key_locks.get(key)
            if lock is None:
                lock = self._key_locks[key] = ForkSafeLock()
            return lock

    def get(self, client: LunosClient, *, quiet: bool = False) -> ModelIndex | None:
        """The catalog for ``client``'s base URL, fetching it at most once per TTL.

        ``quiet`` callers (background fetches for pricing) never warn about a failure.
        """
        key = client.config.base_url
        entry = self._fresh(key)
        if entry is None:
            with self._key_lock(key):
                entry = self._fresh(key)  # another thread may have fetched it meanwhile
                if entry is None:
                    generation = self._generation
                    self.fetches += 1
                    try:
                        response = client.transport.request("GET", PATH)
                        return self.store(
                            key, decode_catalog(response, client.transport.secrets), generation
                        )
                    except Exception as exc:  # never raise: the catalog is optional
                        stale = self._fail(key, exc, generation)
                        if not quiet:
                            self._report(key)
                        return stale
        if not entry.ok and not quiet:
            self._report(key)
        return entry.models

    def start(
        self, client: LunosClient, go: threading.Event | None = None, head_start: float = 0.0
    ) -> None:
        """Fetch in a daemon thread unless the catalog is fresh or already being fetched.

        Returns at once: this is what a call does instead of waiting for the catalog. The
        thread first waits for ``go`` (set by the call once its reply has begun) for at
        most ``head_start`` seconds, so the call's own request is on the wire first.
        """
        key = client.config.base_url
        if self._fresh(key) is not None:
            return
        with self._lock:
            if key in self._inflight:
                return
            done = self._inflight[key] = threading.Event()

        def run() -> None:
            try:
                if go is not None and head_start > 0:
                    go.wait(head_start)
                self.get(client, quiet=True)
            finally:
                with self._lock:
                    if self._inflight.get(key) is done:
                        del self._inflight[key]
                done.set()

        threading.Thread(target=run, name="lunos-catalog-fetch", daemon=True).start()

    def wait(self, key: str, timeout: float) -> None:
        """Wait at most ``timeout`` s for a background fetch of ``key`` in flight."""
        done = self._inflight.get(key)
        if done is not None and timeout > 0:
            done.wait(timeout)

    # ------------------------------------------------------------------ async

    async def aget(self, client: LunosClient, *, quiet: bool = False) -> ModelIndex | None:
        """Async :meth:`get`: concurrent callers in one event loop share one fetch task."""
        key = client.config.base_url
        entry = self._fresh(key)
        if entry is None:
            task = self.astart(client)
            if task is not None:
                # shield: one caller being cancelled must not cancel the others' fetch
                await asyncio.shield(task)
            entry = self._entries.get(key)
            if entry is None:
                return None
        if not entry.ok and not quiet:
            self._report(key)
        return entry.models

    def astart(
        self, client: LunosClient, go: asyncio.Event | None = None, head_start: float = 0.0
    ) -> asyncio.Task[ModelIndex | None] | None:
        """Schedule (or join) the fetch task of the running loop; never awaits it.

        ``go`` / ``head_start``: as for :meth:`start`.
        """
        key = client.config.base_url
        if self._fresh(key) is not None:
            return None
        loop = asyncio.get_running_loop()
        with self._lock:
            tasks = self._tasks.get(loop)
            if tasks is None:
                tasks = self._tasks[loop] = {}
            task = tasks.get(key)
            if task is None:
                task = loop.create_task(self._afetch(client, key, go, head_start))
                tasks[key] = task
                task.add_done_callback(_forget(tasks, key))
        return task

    async def await_fetch(self, key: str, timeout: float) -> None:
        """Wait at most ``timeout`` s for this loop's fetch of ``key`` in flight."""
        tasks = self._tasks.get(asyncio.get_running_loop())
        task = tasks.get(key) if tasks is not None else None
        if task is not None and timeout > 0:
            await asyncio.wait({task}, timeout=timeout)

    async def _afetch(
        self,
        client: LunosClient,
        key: str,
        go: asyncio.Event | None = None,
        head_start: float = 0.0,
    ) -> ModelIndex | None:
        if go is not None and head_start > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(go.wait(), head_start)
        entry = self._fresh(key)
        if entry is not None:
            return entry.models
        generation = self._generation
        self.fetches += 1
        try:
            response = await client.transport.arequest("GET", PATH)
            return self.store(key, decode_catalog(response, client.transport.secrets), generation)
        except Exception as exc:  # never raise: the catalog is optional
            return self._fail(key, exc, generation)


def _forget(
    tasks: dict[str, asyncio.Task[ModelIndex | None]], key: str
) -> Callable[[asyncio.Task[ModelIndex | None]], None]:
    def done(task: asyncio.Task[ModelIndex | None]) -> None:
        if tasks.get(key) is task:
            del tasks[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: _afetch never raises, but be quiet if it did

    return done
