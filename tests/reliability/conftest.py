"""Fixtures for the reliability suite: adapters pointed at a fresh local server per test.

Load figures measured by the load tests are collected in :data:`FIGURES` and printed in the
terminal summary (tests never write files into the repository).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from reliability_harness import FIGURES, Driver

from lunos_integrations.testing import LocalLunosServer

MakeModel = Callable[..., Any]


_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Silence the catalog warning for this suite only: refused ports and scripted faults
    make the catalog fetch fail on purpose, and the warning is then just noise."""
    quiet = pytest.mark.filterwarnings(
        "ignore::lunos_integrations.catalog.cache.LunosCatalogWarning"
    )
    for item in items:
        if _HERE in Path(str(item.fspath)).parents:
            item.add_marker(quiet)


@pytest.fixture
def srv(lunos_server_session: LocalLunosServer) -> LocalLunosServer:
    """The session's shared server, reset for this test.

    Shared because a fresh server per test costs a thread and a catalog fetch each time,
    and this suite runs hundreds of cases within a CI time budget. Tests that count
    connections or disconnects start their own server instead.
    """
    lunos_server_session.reset()
    return lunos_server_session


@pytest.fixture
async def make(srv: LocalLunosServer) -> AsyncIterator[Callable[..., Any]]:
    """``make(driver, **kw)``: the driver's adapter on the shared server; closed afterwards."""
    made: list[Any] = []

    def build(driver: Driver, **kwargs: Any) -> Any:
        base_url = kwargs.pop("base_url", srv.base_url)
        api_key = kwargs.pop("api_key", srv.api_key)
        model = driver.build(base_url, api_key, **kwargs)
        made.append(model)
        return model

    yield build
    for model in made:
        await model.aclose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("Lunos reliability: load figures")
    for title, figures in FIGURES:
        terminalreporter.write_line(title)
        for name, value in figures.items():
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            terminalreporter.write_line(f"    {name:<34} {text}")
