"""The ``python -m lunos_integrations.testing`` command and the plugin's import cost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lunos_integrations.testing", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _cleanup(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@pytest.mark.timeout(30)
def test_cli_serves_until_sigterm() -> None:
    proc = _start("--port", "0", "--report-cost")
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"LUNOS_BASE_URL=(\S+) LUNOS_API_KEY=(\S+)\n", line)
        assert match, line
        base_url, key = match.groups()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        models = httpx.get(base_url + "/models", timeout=5).json()["data"]
        assert "openai/gpt-4o" in {m["id"] for m in models}
        chat = httpx.post(
            base_url + "/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "cli"}]},
            timeout=5,
        ).json()
        assert chat["usage"]["cost"] > 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        _cleanup(proc)


@pytest.mark.timeout(30)
def test_cli_no_auth_and_sigint() -> None:
    proc = _start("--no-auth")
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().split()[0].split("=", 1)[1]
        r = httpx.get(base_url + "/balance", timeout=5)
        assert r.status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        _cleanup(proc)


def test_cli_refuses_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lunos_integrations.testing", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "non-loopback" in result.stderr


def test_plugin_import_is_cheap() -> None:
    code = (
        "import sys, lunos_integrations.testing, lunos_integrations.testing.pytest_plugin\n"
        "heavy = {'lunos_integrations.testing.server', 'httpx', 'pydantic', 'asyncio'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_server_modules_use_only_the_stdlib() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import lunos_integrations.testing.server, lunos_integrations.testing.__main__\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "third = sorted(m for m in new if m not in sys.stdlib_module_names"
        " and m != 'lunos_integrations')\n"
        "print(third)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
