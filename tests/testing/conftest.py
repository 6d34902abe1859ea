"""Shared helpers for the LocalLunosServer tests (the server fixtures come from the plugin)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from lunos_integrations.testing import LocalLunosServer


@pytest.fixture
def http(lunos_server: LocalLunosServer) -> Iterator[httpx.Client]:
    """An authenticated httpx client pointed at the per-test server's ``/v1``."""
    with httpx.Client(
        base_url=lunos_server.base_url,
        headers={"Authorization": f"Bearer {lunos_server.api_key}"},
        timeout=10.0,
    ) as client:
        yield client
