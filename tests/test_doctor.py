"""Issue 23: ``python -m lunos_integrations.doctor`` run offline against the local server.

Without a key it says so and runs (embedded server, or ``--base-url``) against every catalog
profile; with a key it states the cost and sends nothing without ``--yes``; with ``--yes``
it sends one request per question and never prints the key.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lunos_integrations import doctor
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.catalog import CATALOG_PROFILES

ROOT = Path(__file__).resolve().parents[1]
MARKER = "sk-DOCTOR-marker-91f3"


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = doctor.main(argv, out=out)
    return code, out.getvalue()


def _posts(server: LocalLunosServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


def test_without_a_key_it_says_so_and_runs_an_embedded_server() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNOS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "lunos_integrations.doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "LUNOS_API_KEY is not set: running offline against http://127.0.0.1:" in proc.stdout
    assert "13 of 13 checks answered." in proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("profile", CATALOG_PROFILES)
def test_every_local_profile_gets_a_full_table(profile: str) -> None:
    with LocalLunosServer(catalog_profile=profile, catalog_delay=0.05) as server:
        code, out = _run(["--base-url", server.base_url])
        posts = _posts(server)
    assert f"LUNOS_API_KEY is not set: running offline against {server.base_url}" in out
    lines = [line for line in out.splitlines() if " | " in line]
    # chat, 2 streams, 2 messages, unknown model, stop, seed, tool_choice; without a
    # catalog there is no Claude model to name, and one row says the messages probes
    # could not be asked (header + 13 rows, or + 12 rows).
    rows = 12 if profile in ("none", "unauthorized") else 13
    assert lines[0].startswith("question") and len(lines) == 1 + rows
    if profile in ("none", "unauthorized"):
        assert posts == 7 and "not probed" in out
    else:
        assert posts == 9
    if profile == "full":
        assert code == 0, out
        assert "404 (model_not_found)" in out and "a usage chunk" in out
    else:
        assert code in (0, 1), out


def test_with_a_key_it_states_the_cost_and_sends_nothing_without_yes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LocalLunosServer(api_key=MARKER) as server:
        monkeypatch.setenv("LUNOS_API_KEY", MARKER)
        code, out = _run(["--base-url", server.base_url])
        assert _posts(server) == 0
    assert code == 2
    assert f"LUNOS_API_KEY is set: probing {server.base_url}" in out
    assert "estimated cost about $" in out and "Run again with --yes" in out
    assert MARKER not in out


def test_with_a_key_and_yes_it_probes_and_never_prints_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LocalLunosServer(api_key=MARKER) as server:
        monkeypatch.setenv("LUNOS_API_KEY", MARKER)
        code, out = _run(["--base-url", server.base_url, "--yes"])
        assert _posts(server) == 9
        assert all(
            r.headers.get("authorization") == f"Bearer {MARKER}"
            for r in server.requests
            if r.method == "POST"
        )
    assert code == 0, out
    assert MARKER not in out and "13 of 13 checks answered." in out


def test_a_wrong_key_is_reported_in_the_table_not_as_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with LocalLunosServer(api_key=MARKER) as server:
        monkeypatch.setenv("LUNOS_API_KEY", "sk-wrong-key-0000")
        code, out = _run(["--base-url", server.base_url, "--yes", "--model", "openai/gpt-4o"])
    assert code == 1
    assert "failed: 401" in out and "sk-wrong-key-0000" not in out
