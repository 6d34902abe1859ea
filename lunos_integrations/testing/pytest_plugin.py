"""Pytest fixtures for :class:`~lunos_integrations.testing.server.LocalLunosServer`.

Registered through the ``pytest11`` entry point, so it loads in *every* pytest run of anyone
who installs the package: that is why nothing heavy is imported at module level (the server
module is imported inside the fixtures).

Fixtures:

* ``lunos_server`` — function-scoped; a fresh server started before and stopped after each test.
* ``lunos_server_session`` — session-scoped and shared; call ``.reset()`` where state matters.
* ``lunos_strict_server`` — function-scoped, with ``strict_openai_types=True``: chat messages
  strict OpenAI-compatible servers refuse (``content: null`` …) get their validation error.
* ``lunos_base_url`` / ``lunos_api_key`` — ``lunos_server.base_url`` / ``.api_key``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import LocalLunosServer


@pytest.fixture
def lunos_server() -> Iterator[LocalLunosServer]:
    """A fresh local Lunos server for one test."""
    from .server import LocalLunosServer

    with LocalLunosServer() as server:
        yield server


@pytest.fixture
def lunos_strict_server() -> Iterator[LocalLunosServer]:
    """A fresh local Lunos server that validates chat messages like llama-cpp-python's."""
    from .server import LocalLunosServer

    with LocalLunosServer(strict_openai_types=True) as server:
        yield server


@pytest.fixture(scope="session")
def lunos_server_session() -> Iterator[LocalLunosServer]:
    """One local Lunos server shared by the whole session (reset it yourself)."""
    from .server import LocalLunosServer

    with LocalLunosServer() as server:
        yield server


@pytest.fixture
def lunos_base_url(lunos_server: LocalLunosServer) -> str:
    """``http://127.0.0.1:PORT/v1`` of the per-test server."""
    return lunos_server.base_url


@pytest.fixture
def lunos_api_key(lunos_server: LocalLunosServer) -> str:
    """The key the per-test server accepts."""
    return lunos_server.api_key
