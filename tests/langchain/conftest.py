"""Fixtures for the ChatLunos tests."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lc_support import (
    assert_schema_valid,
    chat_bodies,
    offline_media_for,
    shared_server,
    stop_shared_server,
)

from lunos_integrations.testing import LocalLunosServer


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_server() -> Iterator[None]:
    yield
    stop_shared_server()


@pytest.fixture(autouse=True)
def _isolated_catalog_cache() -> Iterator[None]:
    """The catalogue cache is process-wide (one fetch / one warning per outage and base
    URL); clear it after each test so outcomes here never leak into other test folders."""
    yield
    from lunos_integrations.catalog import clear_catalog_cache

    clear_catalog_cache()


@pytest.fixture
def server() -> LocalLunosServer:
    """The shared server, reset for this test."""
    srv = shared_server()
    srv.reset()
    return srv


@pytest.fixture
def offline_media(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve the images / PDF / WAV that langchain-tests downloads from local bytes.

    The standard multimodal tests fetch sample files from GitHub and Wikimedia with
    ``httpx.get``; CI has no internet, so those URLs are answered from memory. Any other
    URL still fails loudly.
    """
    real_get = httpx.get

    def fake_get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        data = offline_media_for(str(url))
        if data is None:
            return real_get(url, *args, **kwargs)
        return httpx.Response(200, content=data, request=httpx.Request("GET", str(url)))

    monkeypatch.setattr(httpx, "get", fake_get)
    warnings.filterwarnings("ignore", message="LANGCHAIN_TESTS_USER_AGENT")


@pytest.fixture
def schema_checked(server: LocalLunosServer) -> Iterator[LocalLunosServer]:
    """After the test, every chat body the server received must fit the published schema."""
    yield server
    for route, body in chat_bodies(server):
        assert_schema_valid(route, body)


CASSETTES = Path(__file__).parent / "cassettes"


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """Cassettes for langchain-tests' VCR tests (``test_stream_time``), recorded once from
    the local server and committed: key, app id and cookies redacted, matched on method,
    path and body (the server's port differs on every run). Re-record with
    ``pytest tests/langchain/test_lc_standard.py -k stream_time --record-mode=rewrite``."""
    from lunos_integrations.testing.recording import vcr_config as lunos_vcr_config

    # test_stream_time replays its one stream many times (pytest-benchmark rounds).
    return lunos_vcr_config(secrets=[shared_server().api_key], allow_playback_repeats=True)


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTES)
