"""The observer hooks (lunos_integrations.observe): what budgets and telemetry stand on.

Each test counts what the local server received beside what the observer saw, so a hook
that fires too often, too rarely or after the bytes are sent is caught.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import pytest

from lunos_integrations import errors as E
from lunos_integrations.client import LunosClient
from lunos_integrations.observe import CallInfo, CallObserver, Observation, watching
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.scripting import ErrorReply
from lunos_integrations.wire.types import ChatDelta, ChatRequest, EmbeddingRequest, Message


class Refused(E.LunosError):
    """What a budget raises: a LunosError, so it stops the call."""


class Recorder(CallObserver):
    def __init__(self, info: CallInfo, log: list[tuple[Any, ...]], **faults: Any) -> None:
        self.info, self.log, self.faults = info, log, faults

    def on_attempt(self, attempt: int, headers: MutableMapping[str, str]) -> None:
        self.log.append(("attempt", attempt))
        headers["x-observed"] = str(attempt)
        if self.faults.get("refuse_attempt") == attempt:
            raise Refused("refused before sending")
        if self.faults.get("bug"):
            raise RuntimeError("a bug in an observer")

    def on_response(self, attempt: int, status: int, headers: Any) -> None:
        self.log.append(("response", attempt, status))

    def on_retarget(self, request: Any, reason: str) -> None:
        self.log.append(("retarget", request.model, reason))

    def on_delta(self, delta: ChatDelta) -> None:
        self.log.append(("delta", delta.text))
        if (
            self.faults.get("stop_after_text")
            and sum(1 for item in self.log if item[0] == "delta" and item[1])
            >= self.faults["stop_after_text"]
        ):
            raise Refused("stop the stream")

    def on_result(self, model: str, usage: Any, result: Any) -> None:
        self.log.append(("result", model, usage.total_tokens if usage else None))

    def on_error(self, error: BaseException) -> None:
        self.log.append(("error", type(error).__name__))

    def on_end(self) -> None:
        self.log.append(("end",))


def _client(server: LocalLunosServer, log: list[tuple[Any, ...]], **faults: Any) -> LunosClient:
    return LunosClient(
        api_key=server.api_key,
        base_url=server.base_url,
        max_retries=2,
        observers=(lambda info: Recorder(info, log, **faults),),
    )


def _chat(text: str = "hello", **kw: Any) -> ChatRequest:
    return ChatRequest(model="openai/gpt-4o", messages=[Message("user", text)], **kw)


def _posts(server: LocalLunosServer) -> list[Any]:
    return [r for r in server.requests if r.method == "POST"]


def test_every_attempt_is_seen_and_may_add_headers(lunos_server: LocalLunosServer) -> None:
    log: list[tuple[Any, ...]] = []
    lunos_server.enqueue(ErrorReply(503))
    with _client(lunos_server, log) as client:
        result = client.chat(_chat())
    assert result.usage is not None
    posts = _posts(lunos_server)
    assert [r.headers["x-observed"] for r in posts] == ["0", "1"]
    assert log == [
        ("attempt", 0),
        ("response", 0, 503),
        ("attempt", 1),
        ("response", 1, 200),
        ("result", "openai/gpt-4o", result.usage.total_tokens),
        ("end",),
    ]


def test_a_lunos_error_from_on_attempt_refuses_before_any_byte(
    lunos_server: LocalLunosServer,
) -> None:
    log: list[tuple[Any, ...]] = []
    with _client(lunos_server, log, refuse_attempt=0) as client, pytest.raises(Refused):
        client.chat(_chat())
    assert _posts(lunos_server) == []
    assert log == [("attempt", 0), ("error", "Refused"), ("end",)]


def test_a_retry_can_be_refused_too(lunos_server: LocalLunosServer) -> None:
    log: list[tuple[Any, ...]] = []
    lunos_server.enqueue(ErrorReply(503))
    with _client(lunos_server, log, refuse_attempt=1) as client, pytest.raises(Refused):
        client.chat(_chat())
    assert len(_posts(lunos_server)) == 1


def test_an_observer_bug_never_breaks_the_call(lunos_server: LocalLunosServer) -> None:
    log: list[tuple[Any, ...]] = []
    with _client(lunos_server, log, bug=True) as client:
        assert client.chat(_chat()).usage is not None
    assert log[-1] == ("end",) and ("error", "RuntimeError") not in log


def test_fallback_hop_is_one_logical_call(lunos_server: LocalLunosServer) -> None:
    log: list[tuple[Any, ...]] = []
    with _client(lunos_server, log) as client:
        missing = ChatRequest(
            model="nobody/missing-model",
            messages=[Message("user", "hi")],
            fallback_model="openai/gpt-4o",
        )
        client.chat(missing)
    kinds = [item[0] for item in log]
    assert kinds.count("end") == 1
    assert ("retarget", "openai/gpt-4o", "fallback_model") in log
    assert next(item for item in log if item[0] == "result")[1] == "openai/gpt-4o"
    assert kinds.count("attempt") == len(_posts(lunos_server)) == 2


def test_stream_deltas_are_seen_before_the_caller(lunos_server: LocalLunosServer) -> None:
    log: list[tuple[Any, ...]] = []
    with _client(lunos_server, log) as client:
        texts = [d.text for d in client.stream_chat(_chat())]
    assert [item[1] for item in log if item[0] == "delta"] == texts
    assert log[-2][0] == "result" and log[-1] == ("end",)


async def test_an_observer_can_stop_a_stream_and_the_connection_closes(
    lunos_server: LocalLunosServer,
) -> None:
    log: list[tuple[Any, ...]] = []
    async with _client(lunos_server, log, stop_after_text=2) as client:
        seen: list[str] = []
        with pytest.raises(Refused):
            async for delta in client.astream_chat(_chat("please write a long answer")):
                seen.append(delta.text)
    assert sum(1 for t in seen if t) == 1  # the refused delta never reached the caller
    assert log[-2:] == [("error", "Refused"), ("end",)]
    assert "result" not in [item[0] for item in log]
    assert lunos_server.wait_for_open_connections(0)


def test_caller_closing_a_stream_ends_the_observation(lunos_server: LocalLunosServer) -> None:
    log: list[tuple[Any, ...]] = []
    with _client(lunos_server, log) as client:
        stream = client.stream_chat(_chat("please write a long answer"))
        next(stream)
        stream.close()
    assert log[-2:] == [("error", "GeneratorExit"), ("end",)]


async def test_context_factories_belong_to_their_task(lunos_server: LocalLunosServer) -> None:
    seen: dict[str, list[str]] = {"a": [], "b": []}

    async def run(name: str, text: str) -> None:
        def factory(info: CallInfo) -> CallObserver:
            text = info.request.messages[0].content if info.operation == "chat" else ""
            seen[name].append(f"{info.operation}:{text}")
            return CallObserver()

        with watching(factory):
            await client.achat(_chat(text))
            await client.aembed(
                EmbeddingRequest(model="openai/text-embedding-3-small", input=["x"])
            )

    async with LunosClient(api_key=lunos_server.api_key, base_url=lunos_server.base_url) as client:
        await asyncio.gather(run("a", "first"), run("b", "second"))
        await client.achat(_chat("outside"))  # no factory left installed here
    # each task's factory saw its own chat and embeddings call, and nothing else
    assert seen == {"a": ["chat:first", "embeddings:"], "b": ["chat:second", "embeddings:"]}


def test_nothing_watching_costs_nothing() -> None:
    client = LunosClient(api_key="k", base_url="http://127.0.0.1:9/v1")
    assert client.observation("chat", "chat_completions", _chat()) is client.observation(
        "embeddings", "embeddings"
    )
    assert not Observation(())
