"""Issue 23: the record/replay recipe works for users' chains, and no cassette holds a key.

A chain's calls are recorded with vcrpy and ``testing.recording.vcr_config`` against the
local server, the server is stopped, and the same calls replay from the cassette alone
(another base_url, nothing listening): the replayed stream equals the recorded one, chunk
for chunk, on both routes, sync and async.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

vcr = pytest.importorskip("vcr", reason="vcrpy is not installed (the test extra has it)")

from lunos_integrations.langchain import ChatLunos  # noqa: E402
from lunos_integrations.testing import JSONReply, LocalLunosServer  # noqa: E402
from lunos_integrations.testing.recording import REDACTED, vcr_config  # noqa: E402

ROOT = Path(__file__).resolve().parent
KEY = "sk-RECORDING-marker-5c2e"
APP = "app-RECORDING-marker"
ROUTES = [("chat_completions", "openai/gpt-4o"), ("messages", "anthropic/claude-sonnet-4")]


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def _chunks(model: ChatLunos) -> list[tuple[str, Any]]:
    return [(str(c.content), c.usage_metadata) for c in model.stream("tell me about cats")]


async def _achunks(model: ChatLunos) -> list[tuple[str, Any]]:
    return [(str(c.content), c.usage_metadata) async for c in model.astream("async cats")]


def _model(base_url: str, api: str, name: str) -> ChatLunos:
    return ChatLunos(model=name, api=api, api_key=KEY, base_url=base_url, app_id=APP)


@pytest.mark.parametrize(("api", "name"), ROUTES)
def test_replayed_streams_equal_the_recorded_ones(tmp_path: Path, api: str, name: str) -> None:
    cassette = tmp_path / "chain.yaml"
    recorder = vcr.VCR(**vcr_config(secrets=[KEY, APP]))
    with LocalLunosServer(api_key=KEY) as server:
        with recorder.use_cassette(str(cassette)):
            model = _model(server.base_url, api, name)
            recorded = _chunks(model)
            recorded_async = asyncio.run(_achunks(model))
            answer = model.invoke("one shot").content
        live_posts = len([r for r in server.requests if r.method == "POST"])
    assert live_posts == 3 and len(recorded) > 3 and cassette.is_file()

    replayer = vcr.VCR(**vcr_config(record_mode="none"))
    with replayer.use_cassette(str(cassette)) as tape:
        model = _model(f"http://127.0.0.1:{_closed_port()}/v1", api, name)
        assert _chunks(model) == recorded
        assert asyncio.run(_achunks(model)) == recorded_async
        assert model.invoke("one shot").content == answer
        assert tape.play_count >= 3

    text = cassette.read_text()
    assert KEY not in text and APP not in text and REDACTED in text


def test_echoed_credentials_are_scrubbed_from_recorded_bodies(tmp_path: Path) -> None:
    cassette = tmp_path / "echo.yaml"
    with LocalLunosServer(api_key=KEY) as server:
        echo = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "openai/gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"you sent Bearer {KEY}"},
                    "finish_reason": "stop",
                }
            ],
        }
        server.enqueue(JSONReply(echo, headers={"Set-Cookie": f"session={KEY}"}))
        with vcr.VCR(**vcr_config(secrets=[KEY])).use_cassette(str(cassette)):
            _model(server.base_url, *ROUTES[0]).invoke("echo")
    text = cassette.read_text()
    assert KEY not in text and "set-cookie" not in text.lower()


def test_no_committed_cassette_holds_a_key() -> None:
    cassettes = sorted(ROOT.rglob("cassettes/*.yaml"))
    assert len(cassettes) >= 2  # the langchain-tests VCR cassettes
    for path in cassettes:
        text = path.read_text()
        assert "sk-lunos-local-test" not in text, path
        assert "Bearer sk" not in text and "REDACTED" in text, path
