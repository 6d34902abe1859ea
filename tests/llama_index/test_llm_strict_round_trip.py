"""LunosLLM's tool round trip against a server that refuses ``content: null`` (#13.4).

The local server's ``strict_openai_types`` mode refuses an assistant turn with
``content: null`` the way llama-cpp-python's server does; chat and stream_chat, sync and
async, must complete the round trip (tool call, tool result sent back, final answer).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.tools import FunctionTool

from lunos_integrations.llama_index import LunosLLM
from lunos_integrations.testing import LocalLunosServer

pytestmark = pytest.mark.timeout(60)


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}"


WEATHER = FunctionTool.from_defaults(get_weather)
QUESTION = "get_weather for Rome"


@pytest.fixture
def llm(lunos_strict_server: LocalLunosServer) -> Iterator[LunosLLM]:
    model = LunosLLM(
        model="openai/gpt-4o-mini",
        api="chat_completions",
        base_url=lunos_strict_server.base_url,
        api_key=lunos_strict_server.api_key,
        max_retries=0,
    )
    yield model
    model.close()


def _history(llm: LunosLLM, first: ChatResponse) -> list[ChatMessage]:
    (selection,) = llm.get_tool_calls_from_response(first)
    assert selection.tool_name == "get_weather"
    return [
        ChatMessage(role="user", content=QUESTION),
        first.message,
        ChatMessage(
            role="tool",
            content=get_weather(**selection.tool_kwargs),
            additional_kwargs={"tool_call_id": selection.tool_id, "name": "get_weather"},
        ),
    ]


def _check(server: LocalLunosServer, history: list[ChatMessage], final: ChatResponse) -> None:
    assert final.message.content == f"The tool returned: {history[2].content}"
    posts = [r for r in server.requests if r.path == "/v1/chat/completions"]
    assert len(posts) == 2
    assistant = posts[1].json["messages"][1]
    assert assistant["role"] == "assistant" and assistant.get("content") == ""


@pytest.mark.parametrize("mode", ["chat", "stream_chat"])
def test_tool_round_trip_sync(
    llm: LunosLLM, lunos_strict_server: LocalLunosServer, mode: str
) -> None:
    if mode == "chat":
        first = llm.chat_with_tools([WEATHER], user_msg=QUESTION)
        history = _history(llm, first)
        final = llm.chat_with_tools([WEATHER], chat_history=history)
    else:
        *_, first = llm.stream_chat_with_tools([WEATHER], user_msg=QUESTION)
        history = _history(llm, first)
        *_, final = llm.stream_chat_with_tools([WEATHER], chat_history=history)
    _check(lunos_strict_server, history, final)


@pytest.mark.parametrize("mode", ["chat", "stream_chat"])
def test_tool_round_trip_async(
    llm: LunosLLM, lunos_strict_server: LocalLunosServer, mode: str
) -> None:
    async def run() -> tuple[list[ChatMessage], ChatResponse]:
        if mode == "chat":
            first = await llm.achat_with_tools([WEATHER], user_msg=QUESTION)
            history = _history(llm, first)
            return history, await llm.achat_with_tools([WEATHER], chat_history=history)
        first = [r async for r in await llm.astream_chat_with_tools([WEATHER], user_msg=QUESTION)][
            -1
        ]
        history = _history(llm, first)
        stream = await llm.astream_chat_with_tools([WEATHER], chat_history=history)
        return history, [r async for r in stream][-1]

    history, final = asyncio.run(run())
    _check(lunos_strict_server, history, final)
