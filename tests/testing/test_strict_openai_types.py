"""``strict_openai_types``: the local server refuses messages the way llama-cpp-python does."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from typing import Any

import httpx
import pytest

from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.strict_types import (
    STRICT_REJECTION_STATUS,
    strict_message_errors,
)

MODEL = "openai/gpt-4o-mini"
CALL = {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def _round_trip(assistant: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "call f"},
        assistant,
        {"role": "tool", "tool_call_id": "call_0", "content": "done"},
    ]


def _post(server: LocalLunosServer, messages: Any) -> httpx.Response:
    return httpx.post(
        server.base_url + "/chat/completions",
        headers={"Authorization": f"Bearer {server.api_key}"},
        json={"model": MODEL, "messages": messages},
        timeout=10,
    )


def test_content_null_is_refused_like_llama_cpp(lunos_strict_server: LocalLunosServer) -> None:
    r = _post(
        lunos_strict_server,
        _round_trip({"role": "assistant", "content": None, "tool_calls": [CALL]}),
    )
    assert r.status_code == STRICT_REJECTION_STATUS == 500
    error = r.json()["error"]
    assert error["type"] == "internal_server_error"
    assert error["param"] is None and error["code"] is None
    assert error["message"].startswith("1 validation error:\n")
    assert "('body', 'messages', 1, 'content')" in error["message"]
    assert "'input': None" in error["message"]


def test_omitted_content_and_string_or_list_content_pass(
    lunos_strict_server: LocalLunosServer,
) -> None:
    r = _post(lunos_strict_server, _round_trip({"role": "assistant", "tool_calls": [CALL]}))
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "The tool returned: done"
    parts = [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert _post(lunos_strict_server, parts).status_code == 200


def test_default_server_still_accepts_null(lunos_server: LocalLunosServer) -> None:
    messages = _round_trip({"role": "assistant", "content": None, "tool_calls": [CALL]})
    assert _post(lunos_server, messages).status_code == 200


@pytest.mark.parametrize(
    ("messages", "loc", "kind"),
    [
        ([{"role": "user", "content": None}], ("messages", 0, "content"), "string_or_list_type"),
        ([{"role": "user", "content": 5}], ("messages", 0, "content"), "string_or_list_type"),
        ([{"role": "system", "content": {"text": "x"}}], ("messages", 0, "content"), None),
        ([{"role": "user", "content": True}], ("messages", 0, "content"), None),
        ([{"role": "user", "content": ["bare"]}], ("messages", 0, "content", 0), "dict_type"),
        ([{"role": "user"}], ("messages", 0, "content"), "missing"),
        ([{"role": "assistant"}], ("messages", 0, "content"), "missing"),
        ([{"role": "wizard", "content": "x"}], ("messages", 0, "role"), "literal_error"),
        ([{"role": "tool", "content": "x"}], ("messages", 0, "tool_call_id"), "missing"),
        ("not a list", ("messages",), "list_type"),
        (
            _round_trip({"role": "assistant", "tool_calls": [{**CALL, "id": 7}]}),
            ("messages", 1, "tool_calls", 0, "id"),
            "string_type",
        ),
        (
            _round_trip({"role": "assistant", "tool_calls": [{**CALL, "function": {"name": "f"}}]}),
            ("messages", 1, "tool_calls", 0, "function", "arguments"),
            "string_type",
        ),
    ],
)
def test_each_rule_names_the_location(
    lunos_strict_server: LocalLunosServer, messages: Any, loc: tuple[Any, ...], kind: str | None
) -> None:
    errors = strict_message_errors({"messages": messages})
    assert [e["loc"] for e in errors] == [("body", *loc)]
    if kind is not None:
        assert errors[0]["type"] == kind
    r = _post(lunos_strict_server, messages)
    assert r.status_code == 500
    assert repr(("body", *loc)) in r.json()["error"]["message"]


def test_several_errors_are_all_reported() -> None:
    errors = strict_message_errors(
        {"messages": [{"role": "user", "content": None}, {"role": "user", "content": 1.5}]}
    )
    assert [e["loc"][2] for e in errors] == [0, 1]


def test_auth_is_checked_before_validation(lunos_strict_server: LocalLunosServer) -> None:
    r = httpx.post(
        lunos_strict_server.base_url + "/chat/completions",
        headers={"Authorization": "Bearer wrong"},
        json={"model": MODEL, "messages": [{"role": "user", "content": None}]},
        timeout=10,
    )
    assert r.status_code == 401


@pytest.mark.timeout(30)
def test_cli_flag_turns_strict_mode_on() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lunos_integrations.testing", "--strict-openai-types"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"LUNOS_BASE_URL=(\S+) LUNOS_API_KEY=(\S+)\n", line)
        assert match, line
        base_url, key = match.groups()
        r = httpx.post(
            base_url + "/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": MODEL, "messages": [{"role": "user", "content": None}]},
            timeout=5,
        )
        assert r.status_code == 500
        assert "validation error" in r.json()["error"]["message"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
