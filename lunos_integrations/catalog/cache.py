"""The process-wide, per-base-URL cache behind :func:`lookup_model`.

Why a cache: the chat hot path needs catalog facts (supported parameters for gating, prices
for cost) on every call, but the catalog changes rarely, so it is fetched at most once per
TTL per base URL. Why these rules:

* **One fetch for many callers.** Threads wait on a per-URL lock; asyncio callers in one
  event loop await one shared task. Fifty concurrent first calls cost one ``GET /models``.
* **Never raises.** The catalog is an optimisation: when it is down or malformed, chat must
  still work. Failures are remembered for a short *negative* TTL (so a dead endpoint is not
  hammered on every call) and reported once per outage with a :class:`LunosCatalogWarning`.
  A previously good catalog keeps being served (stale) while the endpoint is failing.
* **Nothing at import time.** The first lookup triggers the first fetch.
"""

from __future__ import annotations

import asyncio
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


class CatalogCache:
    """Catalogs keyed by base URL, shared by every client of the process."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        negative_ttl: float = DEFAULT_NEGATIVE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.clock = clock
        self._lock = ForkSafeLock()
        self._key_locks: dict[str, ForkSafeLock] = {}
        self._entries: dict[str, _Entry] = {}
        self._warned: set[str] = set()
        self._tasks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, asyncio.Task[ModelIndex | None]]
        ] = weakref.WeakKeyDictionary()
        #: Number of ``GET /models`` attempts made, for observability and tests.
        self.fetches = 0

    # ------------------------------------------------------------------ state

    def clear(self) -> None:
        """Forget every catalog and failure (tests; or after changing deployments)."""
        with self._lock:
            self._entries.clear()
            self._warned.clear()

    def _fresh(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self.clock():
            return entry
        return None

    def peek(self, key: str) -> ModelIndex | None:
        """The last good catalog for ``key`` (even if stale) without any I/O."""
        entry = self._entries.get(key)
        return entry.models if entry is not None else None

    def store(self, key: str, models: list[ModelInfo]) -> ModelIndex:
        """Record a successfully fetched catalog (also used by ``list_models``)."""
        index = index_models(models)
        with self._lock:
            self._entries[key] = _Entry(index, self.clock() + self.ttl, True)
            self._warned.discard(key)
        return index

    def _fail(self, key: str, exc: BaseException) -> ModelIndex | None:
        with self._lock:
            previous = self._entries.get(key)
            stale = previous.models if previous is not None else None
            self._entries[key] = _Entry(stale, self.clock() + self.negative_ttl, False)
            first = key not in self._warned
            self._warned.add(key)
        if first:
            what = "using the last good catalog" if stale is not None else "continuing without it"
            warnings.warn(
                f"The Lunos model catalog at {redact_url(key)}{PATH} could not be used "
                f"({type(exc).__name__}: {exc}); {what} (no parameter gating or computed "
                f"cost for unknown models). Next attempt in {self.negative_ttl:g} s.",
                LunosCatalogWarning,
                stacklevel=4,
            )
        return stale

    # ------------------------------------------------------------------ sync

    def _key_lock(self, key: str) -> ForkSafeLock:
        with self._lock:
            lock = self._key_locks.get(key)
            if lock is None:
                lock = self._key_locks[key] = ForkSafeLock()
            return lock

    def get(self, client: LunosClient) -> ModelIndex | None:
        """The catalog for ``client``'s base URL, fetching it at most once per TTL."""
        key = client.config.base_url
        entry = self._fresh(key)
        if entry is not None:
            return entry.models
        with self._key_lock(key):
            entry = self._fresh(key)  # another thread may have fetched it meanwhile
            if entry is not None:
                return entry.models
            self.fetches += 1
            try:
                response = client.transport.request("GET", PATH)
                return self.store(key, decode_catalog(response, client.transport.secrets))
            except Exception as exc:  # never raise: the catalog is optional
                return self._fail(key, exc)

    # ------------------------------------------------------------------ async

    async def aget(self, client: LunosClient) -> ModelIndex | None:
        """Async :meth:`get`: concurrent callers in one event loop share one fetch task."""
        key = client.config.base_url
        entry = self._fresh(key)
        if entry is not None:
            return entry.models
        loop = asyncio.get_running_loop()
        with self._lock:
            tasks = self._tasks.get(loop)
            if tasks is None:
                tasks = self._tasks[loop] = {}
            task = tasks.get(key)
            if task is None:
                task = loop.create_task(self._afetch(client, key))
                tasks[key] = task
                task.add_done_callback(_forget(tasks, key))
        # shield: one caller being cancelled must not cancel the fetch the others await
        return await asyncio.shield(task)

    async def _afetch(self, client: LunosClient, key: str) -> ModelIndex | None:
        entry = self._fresh(key)
        if entry is not None:
            return entry.models
        self.fetches += 1
        try:
            response = await client.transport.arequest("GET", PATH)
            return self.store(key, decode_catalog(response, client.transport.secrets))
        except Exception as exc:  # never raise: the catalog is optional
            return self._fail(key, exc)


def _forget(
    tasks: dict[str, asyncio.Task[ModelIndex | None]], key: str
) -> Callable[[asyncio.Task[ModelIndex | None]], None]:
    def done(task: asyncio.Task[ModelIndex | None]) -> None:
        if tasks.get(key) is task:
            del tasks[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: _afetch never raises, but be quiet if it did

    return done
