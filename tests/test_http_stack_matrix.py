"""The transport's own suites once more with the pools on the other HTTP library.

Why: the package's pools run on httpx2 when it is installed (the default, ``"auto"``) and on
httpx otherwise (Python 3.10, or an environment without httpx2), and CI runs one command.
This module re-runs the suites that exercise the pools' HTTP behaviour (retries, error
mapping, deadlines, streams, connection faults, fork safety, injected clients) in a
subprocess with ``LUNOS_HTTP_STACK`` set to the stack the main run did not use, so both
stacks are tested on every run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lunos_integrations.config import resolve_config

ROOT = Path(__file__).resolve().parents[1]
SUITES = [
    "tests/transport",
    "tests/reliability/test_connection_faults.py",
    "tests/reliability/test_stream_faults.py",
    "tests/process/test_fork.py",
    "tests/test_httpx2_clients.py",
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("suite", SUITES)
def test_pool_suites_pass_on_the_other_stack(suite: str) -> None:
    """One suite per test, so pytest-xdist spreads them; each runs in one process (-n 0).

    The subprocess gets no PYTEST_XDIST_* variables: it is a plain pytest run, not a
    worker (the fork suite re-runs one test outside xdist workers, which would then
    happen twice).
    """
    main_stack = resolve_config(api_key="sk-test").http_stack
    other = "httpx" if main_stack == "httpx2" else "httpx2"
    if other == "httpx2":
        pytest.importorskip("httpx2", reason="httpx2 is not installed (it needs Python 3.11+)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUNOS_", "PYTEST_XDIST"))}
    env["LUNOS_HTTP_STACK"] = other
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", suite],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=550,
    )
    tail = proc.stdout[-3000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    match = re.search(r"\b(\d+) passed\b", proc.stdout)
    assert match and int(match.group(1)) >= 10, tail  # the suite really ran
