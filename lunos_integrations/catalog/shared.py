"""``ModelCatalog``: the catalog as the core client's collaborator (:class:`~..facts.ModelFacts`).

One instance per base URL is shared by every client of the process
(:func:`shared_catalog`), because what it holds is a fact about the deployment, not about
one client: the model list (cached, see :mod:`.cache`), and the parameters the server
rejected per model (:class:`~lunos_integrations.parameters.ParameterMemory`). Adapters
hand it to their :class:`~lunos_integrations.client.LunosClient`; code that builds clients
itself may pass it, another instance, or nothing (then: no computed costs, and a memory of
rejected parameters private to that client).

Timing rules (why the first call is as fast as a plain OpenAI client):

* a non-streamed call *starts* the fetch (:meth:`ModelCatalog.warm`) and sends its
  request at once; the fetch itself begins once the call's reply is in, or after
  :attr:`~ModelCatalog.head_start` (250 ms) if the reply takes longer, so the prompt is the
  first request on the wire and a slow answer still overlaps the fetch;
* a stream calls :meth:`~ModelCatalog.warm` only after its terminator, so no fetch runs
  beside it: single-slot servers (llama-cpp-python's, by default) end a running stream
  when another request arrives (see :class:`~lunos_integrations.stream_session.StreamSession`);
* after the reply, pricing waits for a fetch still in flight at most :attr:`price_wait`
  seconds (default 50 ms): long enough for a fetch that started with the call to land on
  any reasonable network, short enough not to matter. A catalog that is slower, down or
  unauthorised just leaves that call's cost ``None`` (counted in ``unpriced_requests``),
  without a warning.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._forksafe import ForkSafeLock
from ..config import LunosConfig
from ..parameters import LunosUnsupportedParameterWarning, ParameterMemory
from ..pricing import compute_cost
from ..wire.models import ModelInfo
from ..wire.types import ChatRequest, Usage
from .cache import CatalogCache
from .gating import dropped_fields, wire_name
from .state import CACHE

if TYPE_CHECKING:
    from ..client import LunosClient

__all__ = ["DEFAULT_HEAD_START", "ModelCatalog", "shared_catalog"]

#: Longest a call's catalog fetch waits for the call's reply to begin before it starts
#: anyway: the prompt goes on the wire first, and a long answer still overlaps the fetch.
DEFAULT_HEAD_START = 0.25


class ModelCatalog:
    """Catalog services for one base URL: lookups, prices, learned parameters, pre-filter."""

    def __init__(
        self,
        key: str,
        *,
        cache: CatalogCache | None = None,
        parameters: ParameterMemory | None = None,
        price_wait: float | None = None,
        head_start: float = DEFAULT_HEAD_START,
    ) -> None:
        #: The base URL this catalog describes.
        self.key = key
        self.cache = cache if cache is not None else CACHE
        #: Parameters the server rejected, per model (see :mod:`lunos_integrations.parameters`).
        self.parameters = parameters if parameters is not None else ParameterMemory()
        #: Bound on the wait for an in-flight fetch when pricing a finished call
        #: (``None``: the cache's ``price_wait``, 50 ms unless configured).
        self.price_wait = price_wait
        #: Longest head start given to the call's own request before the fetch begins.
        self.head_start = head_start
        self._warned: set[tuple[str, str]] = set()
        self._warned_lock = ForkSafeLock()

    def __repr__(self) -> str:
        return f"ModelCatalog({self.key!r})"

    # ------------------------------------------------------------------ lookups

    def lookup(self, client: LunosClient, model: str) -> ModelInfo | None:
        """Facts for ``model`` (fetching once per TTL; may wait for it); never raises."""
        try:
            models = self.cache.get(client)
        except Exception:  # defensive: a lookup must never break the caller
            return None
        return models.get(model) if models is not None else None

    async def alookup(self, client: LunosClient, model: str) -> ModelInfo | None:
        try:
            models = await self.cache.aget(client)
        except Exception:
            return None
        return models.get(model) if models is not None else None

    def peek(self, model: str) -> ModelInfo | None:
        """Facts from an already-fetched catalog only (no I/O, no wait)."""
        models = self.cache.peek(self.key)
        return models.get(model) if models is not None else None

    def known(self) -> bool:
        """Whether a fetch has ended (so ``peek`` returning ``None`` is an answer)."""
        return self.cache.known(self.key)

    def available(self) -> bool:
        """Whether a catalog was fetched successfully (and is remembered)."""
        return self.cache.peek(self.key) is not None

    # ------------------------------------------------------------------ ModelFacts

    def warm(self, client: LunosClient) -> Callable[[], None]:
        go = threading.Event()
        self.cache.start(client, go, self.head_start)
        return go.set

    async def awarm(self, client: LunosClient) -> Callable[[], None]:
        go = asyncio.Event()
        self.cache.astart(client, go, self.head_start)
        return go.set

    def _price_wait(self) -> float:
        return self.cache.price_wait if self.price_wait is None else self.price_wait

    def price(self, client: LunosClient, model: str, usage: Usage) -> float | None:
        try:
            if self.peek(model) is None:
                self.cache.wait(self.key, self._price_wait())
            return compute_cost(self.peek(model), usage)
        except Exception:  # pricing is best effort
            return None

    async def aprice(self, client: LunosClient, model: str, usage: Usage) -> float | None:
        try:
            if self.peek(model) is None:
                await self.cache.await_fetch(self.key, self._price_wait())
            return compute_cost(self.peek(model), usage)
        except Exception:
            return None

    def prefilter(self, client: LunosClient, request: ChatRequest, api: str) -> ChatRequest:
        return self._filter(request, self.lookup(client, request.model), api)

    async def aprefilter(self, client: LunosClient, request: ChatRequest, api: str) -> ChatRequest:
        return self._filter(request, await self.alookup(client, request.model), api)

    def _filter(self, request: ChatRequest, info: ModelInfo | None, api: str) -> ChatRequest:
        """The ``"catalog"`` mode: drop what the model's entry does not list, warning once."""
        if info is None:
            return request
        drop = dropped_fields(request, info, api)
        if not drop:
            return request
        for field in drop:
            pair = (info.id, wire_name(field))
            with self._warned_lock:
                first = pair not in self._warned
                self._warned.add(pair)
            if first:
                warnings.warn(
                    f"Lunos model {info.id!r} does not list {pair[1]!r} in its "
                    "supportedParameters, so it was not sent (gate_parameters='catalog'). "
                    "Use gate_parameters='learn' to send it and let the server decide.",
                    LunosUnsupportedParameterWarning,
                    stacklevel=6,
                )
        return dataclasses.replace(request, **drop)

    def forget(self) -> None:
        """Forget learned parameters and warnings (the cached list is the cache's)."""
        self.parameters.forget()
        with self._warned_lock:
            self._warned.clear()


_SHARED: dict[str, ModelCatalog] = {}
_SHARED_LOCK = ForkSafeLock()


def shared_catalog(config: LunosConfig | str) -> ModelCatalog:
    """The process-wide :class:`ModelCatalog` of a base URL (or of ``config.base_url``).

    Pass it as ``LunosClient(catalog=shared_catalog)`` (the client calls it with its
    resolved configuration): this is what the adapters do.
    """
    key = config if isinstance(config, str) else config.base_url
    catalog = _SHARED.get(key)
    if catalog is None:
        with _SHARED_LOCK:
            catalog = _SHARED.setdefault(key, ModelCatalog(key))
    return catalog


def reset_shared_catalogs() -> None:
    """Forget what every shared catalog learned (tests; or after changing deployments)."""
    with _SHARED_LOCK:
        for catalog in _SHARED.values():
            catalog.forget()
