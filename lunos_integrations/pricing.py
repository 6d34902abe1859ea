"""Dollar cost of a call when the server did not report one.

The rule (documented in the README's cost section, tested against hand-computed figures):

* ``usage.cost`` reported by Lunos always wins; nothing here runs then.
* Otherwise cost = tokens * catalog price per million, where the catalog prices
  (``pricePerMillionTokens``) are taken **after** ``discountPercentage``.
* ``input_tokens`` includes cached tokens. Lunos documents no cached-token price, so cache
  reads and cache writes are billed at the input price, *unless* the catalog entry carries
  a cache price (``cacheRead`` / ``cacheWrite`` or snake_case forms next to ``input``),
  which is then used (with the same discount).
* Reasoning tokens are part of ``output_tokens`` (on both routes) and billed once, at the
  output price.
* A model absent from the catalog, or without an input price, costs ``None`` (unknown),
  never ``0``: a zero would silently under-report spending.

Pure arithmetic on a :class:`~.wire.models.ModelInfo`: which catalog to consult, and how
long to wait for it, is :class:`lunos_integrations.catalog.ModelCatalog`'s business.
"""

from __future__ import annotations

from typing import Any

from .wire._common import to_float
from .wire.models import ModelInfo
from .wire.types import Usage

__all__ = ["cache_prices", "compute_cost"]

_PER = 1_000_000.0
_CACHE_READ_KEYS = ("cacheRead", "cache_read", "inputCacheRead", "input_cache_read")
_CACHE_WRITE_KEYS = ("cacheWrite", "cache_write", "inputCacheWrite", "input_cache_write")
_LITELLM_CACHE: dict[tuple[str, ...], str] = {
    _CACHE_READ_KEYS: "cache_read_input_token_cost",
    _CACHE_WRITE_KEYS: "cache_creation_input_token_cost",
}


def _raw_price(info: ModelInfo, keys: tuple[str, ...]) -> float | None:
    prices: Any = info.raw.get("pricePerMillionTokens") or info.raw.get("pricing")
    if not isinstance(prices, dict):
        prices = {}
    # OpenRouter-style ``pricing`` ({prompt, completion, input_cache_read ...}) is per token.
    scale = _PER if "pricePerMillionTokens" not in info.raw and "prompt" in prices else 1.0
    for key in keys:
        value = to_float(prices.get(key))
        if value is not None:
            return value * scale * (100.0 - info.discount_percentage) / 100.0
    per_token = to_float(info.raw.get(_LITELLM_CACHE.get(keys, "")))
    if per_token is not None:  # LiteLLM: cache_read_input_token_cost, USD per token
        return per_token * _PER * (100.0 - info.discount_percentage) / 100.0
    return None


def cache_prices(info: ModelInfo) -> tuple[float | None, float | None]:
    """``(cache read, cache write)`` USD per million after discount; ``None`` → input price."""
    return _raw_price(info, _CACHE_READ_KEYS), _raw_price(info, _CACHE_WRITE_KEYS)


def compute_cost(info: ModelInfo | None, usage: Usage) -> float | None:
    """USD cost of ``usage`` at ``info``'s prices, or ``None`` when a needed price is unknown."""
    if info is None or info.input_price_per_million is None:
        return None
    price_in = info.input_price_per_million
    price_out = info.output_price_per_million
    if price_out is None:
        if usage.output_tokens:
            return None
        price_out = 0.0
    read_price, write_price = cache_prices(info)
    cache_read = max(usage.cache_read_tokens, 0)
    cache_write = max(usage.cache_creation_tokens, 0)
    uncached = max(usage.input_tokens - cache_read - cache_write, 0)
    total = (
        uncached * price_in
        + cache_read * (price_in if read_price is None else read_price)
        + cache_write * (price_in if write_price is None else write_price)
        + max(usage.output_tokens, 0) * price_out
    )
    return round(total / _PER, 12)
