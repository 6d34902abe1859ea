"""Fixtures for the reliability suite: adapters pointed at a fresh local server per test.

Load figures measured by the load tests are collected in :data:`FIGURES` and printed in the
terminal summary (tests never write files into the repository), with the secret sweep's
totals (:mod:`secret_sweep`): every test's log records are captured at DEBUG and searched
for the suite's key.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_harness import FIGURES, Driver
from secret_sweep import SWEEP, SWEEP_KEY

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


#: Loggers whose DEBUG output the sweep reads (the root logger catches the rest).
_SWEPT_LOGGERS = ("httpx", "httpcore", "lunos_integrations", "langchain_core", "llama_index")


@pytest.fixture(autouse=True)
def secret_sweep_logs(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Every log record a reliability test produces must be free of the key.

    DEBUG for every logger, so the chattiest paths (httpcore's per-request lines, retry
    logs) are searched too; the load tests keep the default level, since a thousand calls'
    debug lines would distort the figures they measure (their exceptions are still swept).
    """
    if "test_load" not in request.node.nodeid:
        caplog.set_level(logging.DEBUG)
        for name in _SWEPT_LOGGERS:
            caplog.set_level(logging.DEBUG, logger=name)
    hits_before = len(SWEEP.hits)
    yield
    SWEEP.check_records(
        [*caplog.get_records("setup"), *caplog.get_records("call")], request.node.nodeid
    )
    # A hit raised inside a gathered call may have been swallowed as a result: count it.
    assert len(SWEEP.hits) == hits_before, f"secret sweep hits: {SWEEP.hits[hits_before:]}"


@pytest.fixture(scope="session")
def sweep_server() -> Iterator[LocalLunosServer]:
    """The suite's shared server; it accepts only the sweep's key."""
    with LocalLunosServer(api_key=SWEEP_KEY) as server:
        yield server


@pytest.fixture
def srv(sweep_server: LocalLunosServer) -> LocalLunosServer:
    """The session's shared server, reset for this test.

    Shared because a fresh server per test costs a thread and a catalog fetch each time,
    and this suite runs hundreds of cases within a CI time budget. Tests that count
    connections or disconnects start their own server instead.
    """
    sweep_server.reset()
    return sweep_server


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
    if SWEEP.error_paths or SWEEP.log_records:
        terminalreporter.section("Lunos reliability: secret sweep")
        for name, value in SWEEP.figures().items():
            terminalreporter.write_line(f"    {name:<34} {value}")
        for hit in SWEEP.hits[:20]:
            terminalreporter.write_line(f"    HIT {hit}")
    if not FIGURES:
        return
    terminalreporter.section("Lunos reliability: load figures")
    for title, figures in FIGURES:
        terminalreporter.write_line(title)
        for name, value in figures.items():
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            terminalreporter.write_line(f"    {name:<34} {text}")
