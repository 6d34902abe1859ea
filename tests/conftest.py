"""Suite-wide isolation: process-wide caches must not leak from one test into another."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_lunos_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no LUNOS_* settings from the shell that runs them.

    Models resolve ``LUNOS_BASE_URL`` / ``LUNOS_APP_ID`` (and the key) at construction, so a
    developer's own settings would otherwise change what the tests build, or send a request
    to the real API. Tests that need them set them with ``monkeypatch``.
    """
    for name in ("LUNOS_API_KEY", "LUNOS_BASE_URL", "LUNOS_APP_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_catalog_state() -> Iterator[None]:
    """Each test starts with an empty model-catalog cache and fresh warn-once state.

    The catalog cache is per base URL and lives for the process (as it should in
    production); tests use many short-lived servers, some on reused ports.
    """
    from lunos_integrations.catalog import clear_catalog_cache
    from lunos_integrations.catalog.gating import reset_warnings

    clear_catalog_cache()
    reset_warnings()
    yield
    clear_catalog_cache()
    reset_warnings()
