"""Suite-wide isolation: process-wide caches must not leak from one test into another."""

from __future__ import annotations

import copyreg
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _patient_pricing() -> Iterator[None]:
    """Cost assertions must not depend on how loaded the machine is.

    In production, pricing waits at most 50 ms after a reply for a catalog fetch still in
    flight (then the cost is None). Against the local server the fetch takes a few ms,
    but on a busy 2-core CI machine a thread can be descheduled for longer; the suite
    waits up to 10 s instead (the wait ends as soon as the catalog lands). Tests of the
    bound itself set it back on their catalog.
    """
    from lunos_integrations.catalog import CACHE, configure_catalog_cache

    previous = CACHE.price_wait
    configure_catalog_cache(price_wait=10.0)
    yield
    configure_catalog_cache(price_wait=previous)


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
    """Each test starts with an empty model-catalog cache and fresh learned / warned state.

    The catalog cache is per base URL and lives for the process (as it should in
    production); tests use many short-lived servers, some on reused ports.
    """
    from lunos_integrations.catalog import clear_catalog_cache

    clear_catalog_cache()  # also forgets what the shared catalogs learned and warned
    yield
    clear_catalog_cache()


@pytest.fixture(autouse=True)
def _fresh_rate_governors() -> Iterator[None]:
    """Each test starts with no learned rate limits, pauses or outages.

    The rate governors are per base URL and key and live for the process (as they should in
    production); tests use many short-lived servers, some on reused ports, with the same
    key, so one test's scripted 429 or 503s must not hold the next test's calls.
    """
    from lunos_integrations.transport.governor import GOVERNORS

    GOVERNORS.clear()
    yield
    GOVERNORS.clear()


#: ``copyreg``'s table before any test module is imported. Importing ``distributed`` (in
#: tests/process, at collection) installs tblib's exception reducers process-wide, which
#: pickle whole tracebacks recursively; restore the table once collection is done so only
#: the tests that need those engines run with them (see tests/process/conftest.py).
_DISPATCH_BEFORE_COLLECTION = dict(copyreg.dispatch_table)


def pytest_collection_finish(session: pytest.Session) -> None:
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(_DISPATCH_BEFORE_COLLECTION)


_TESTS = Path(__file__).parent
#: What the edit-loop tier (``pytest -m "not slow"``, see the README) leaves out: suites that
#: start processes or real third-party servers, run load, fault and hostile matrices, run
#: the cookbook and benchmark harness, or run the linters. What stays: codecs, both
#: adapters and the transport against the local server, the catalog, the local server.
_SLOW_FOLDERS = frozenset({"process", "reliability", "interop", "live", "bench_smoke", "cookbook"})
_SLOW_FILES = frozenset(
    {
        "test_readme.py",  # each README block in a subprocess
        "test_package.py",  # fresh interpreters to time and list imports
        "test_quality.py",  # ruff and mypy over the package
        "test_architecture.py",  # lint-imports
        "test_self_contained.py",  # a copy of the repository, installed
        "test_decode_properties_adapters.py",  # hypothesis through both frameworks
        "test_profile_matrix.py",  # every catalog profile x adapter x route
        "test_http_stack_matrix.py",  # the pool suites again on the other HTTP library
        "test_governor_server.py",  # batches against a throttling server
        "test_default.py",  # telemetry defaults in fresh interpreters
        "test_decode_properties.py",  # hypothesis: codecs over generated replies
        "test_sse_properties.py",  # hypothesis: the SSE parser over generated splits
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the slow tier by where a test lives (a test may also say ``@pytest.mark.slow``)."""
    slow = pytest.mark.slow
    for item in items:
        path = Path(str(item.path))
        parts = path.relative_to(_TESTS).parts if _TESTS in path.parents else ()
        if parts and (parts[0] in _SLOW_FOLDERS or path.name in _SLOW_FILES):
            item.add_marker(slow)
