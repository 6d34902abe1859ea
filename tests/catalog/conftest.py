"""Shared fixtures: every test starts with an empty catalog cache and fresh warning state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lunos_integrations import catalog
from lunos_integrations.catalog import shared_catalog
from lunos_integrations.client import LunosClient
from lunos_integrations.testing.server import LocalLunosServer


@pytest.fixture(autouse=True)
def _fresh_catalog() -> Iterator[None]:
    catalog.clear_catalog_cache()
    ttl, negative = catalog.CACHE.ttl, catalog.CACHE.negative_ttl
    yield
    catalog.CACHE.ttl, catalog.CACHE.negative_ttl = ttl, negative
    catalog.clear_catalog_cache()


def make_client(server: LocalLunosServer, **kwargs: object) -> LunosClient:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("catalog", shared_catalog)  # as the adapters wire it
    return LunosClient(api_key=server.api_key, base_url=server.base_url, **kwargs)  # type: ignore[arg-type]


def model_requests(server: LocalLunosServer) -> int:
    return sum(1 for r in server.requests if r.path.rstrip("/").endswith("/models"))


@pytest.fixture
def client(lunos_server: LocalLunosServer) -> Iterator[LunosClient]:
    c = make_client(lunos_server)
    yield c
    c.close()
