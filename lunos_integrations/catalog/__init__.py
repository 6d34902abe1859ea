"""The Lunos model catalog: model facts, prices and the account balance.

Two kinds of API live here:

* **The collaborator of the core client** — :func:`shared_catalog` gives the
  :class:`ModelCatalog` of a base URL, which clients are handed at construction (the
  adapters do it): it starts fetches alongside calls, prices finished calls, keeps the
  parameters the server rejected, and runs the opt-in ``gate_parameters="catalog"``
  pre-filter. No request ever waits for it.
* **Lookups** — :func:`lookup_model` / :func:`alookup_model`, for profiles and metadata.
  They are cached per base URL (TTL 10 minutes by default), share one fetch between
  concurrent callers and **never raise**: when the catalog is unreachable or malformed
  they return ``None`` after one :class:`LunosCatalogWarning`.
* **Explicit calls** — :func:`list_models`, :func:`get_balance` and their async twins,
  which raise typed errors like any other request.

Importing this module performs no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..parameters import LunosUnsupportedParameterWarning
from ..wire.models import ModelInfo
from .cache import DEFAULT_NEGATIVE_TTL, DEFAULT_TTL, CatalogCache, LunosCatalogWarning
from .listing import Balance, aget_balance, alist_models, get_balance, list_models
from .shared import ModelCatalog, reset_shared_catalogs, shared_catalog
from .state import CACHE

if TYPE_CHECKING:
    from ..client import LunosClient

__all__ = [
    "CACHE",
    "DEFAULT_NEGATIVE_TTL",
    "DEFAULT_TTL",
    "Balance",
    "CatalogCache",
    "LunosCatalogWarning",
    "LunosUnsupportedParameterWarning",
    "ModelCatalog",
    "ModelInfo",
    "aget_balance",
    "alist_models",
    "alookup_model",
    "catalog_of",
    "clear_catalog_cache",
    "configure_catalog_cache",
    "get_balance",
    "list_models",
    "lookup_model",
    "peek_model",
    "shared_catalog",
]


def catalog_of(client: LunosClient) -> ModelCatalog:
    """The catalog ``client`` was handed, or the shared one of its base URL."""
    own = client.catalog
    return own if isinstance(own, ModelCatalog) else shared_catalog(client.config)


def lookup_model(client: LunosClient, model: str) -> ModelInfo | None:
    """Catalog facts for ``model`` at ``client``'s base URL, or ``None``; never raises.

    ``None`` means "unknown": the model is not in the catalog, or the catalog is unavailable
    (then a :class:`LunosCatalogWarning` is issued once per outage). The first call per base
    URL fetches ``GET /models``; later calls within the TTL are dictionary lookups.
    """
    return catalog_of(client).lookup(client, model)


async def alookup_model(client: LunosClient, model: str) -> ModelInfo | None:
    """Async :func:`lookup_model`: callers in one event loop share a single fetch."""
    return await catalog_of(client).alookup(client, model)


def peek_model(client: LunosClient, model: str) -> ModelInfo | None:
    """Like :func:`lookup_model` but without I/O: only an already-fetched (maybe stale) catalog.

    For code that must not block, e.g. pricing a call from inside a running event loop.
    """
    return catalog_of(client).peek(model)


def configure_catalog_cache(
    *,
    ttl: float | None = None,
    negative_ttl: float | None = None,
    price_wait: float | None = None,
) -> None:
    """Change how long catalogs (``ttl``) and failures (``negative_ttl``) are remembered,
    and how long pricing may wait after a reply for a fetch in flight (``price_wait``)."""
    for name, value in (("ttl", ttl), ("negative_ttl", negative_ttl), ("price_wait", price_wait)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0
        ):
            from ..errors import LunosInputError

            raise LunosInputError(f"{name} must be a number of seconds >= 0", param=name)
    if ttl is not None:
        CACHE.ttl = float(ttl)
    if negative_ttl is not None:
        CACHE.negative_ttl = float(negative_ttl)
    if price_wait is not None:
        CACHE.price_wait = float(price_wait)


def clear_catalog_cache() -> None:
    """Forget every cached catalog and failure, and what the shared catalogs learned."""
    CACHE.clear()
    reset_shared_catalogs()
