"""Suite-wide isolation: process-wide caches must not leak from one test into another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_catalog_state() -> Iterator[None]:
    """Each test starts with an empty model-catalog cache and fresh learned / warned state.

    The catalog cache is per base URL and lives for the process (as it should in
    production); tests use many short-lived servers, some on reused ports.
    """
    from lunos_integrations.catalog import clear_catalog_cache

    clear_catalog_cache()  # also forgets what the shared catalogs learned and warned
    yield
    clear_catalog_cache()
