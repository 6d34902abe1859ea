"""The single process-wide catalog cache (its own module so every part shares one)."""

from __future__ import annotations

from .cache import CatalogCache

CACHE = CatalogCache()
