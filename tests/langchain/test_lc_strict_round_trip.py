"""ChatLunos's tool round trip against a server that refuses ``content: null`` (#13.4).

llama-cpp-python's server (and other servers with typed request models) refuse an
assistant turn whose ``content`` is ``null``; the local server's ``strict_openai_types``
mode refuses it the same way. The round trip — the model asks for a tool, the tool result
goes back, the model answers — must pass for invoke and stream, sync and async.
"""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from lunos_integrations.langchain import ChatLunos
from lunos_integrations.testing import LocalLunosServer

pytestmark = pytest.mark.timeout(60)


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}"


def _model(server: LocalLunosServer) -> ChatLunos:
    return ChatLunos(
        model="openai/gpt-4o-mini",
        base_url=server.base_url,
        api_key=server.api_key,
        max_retries=0,
    )


def _collect(chunks: list[BaseMessage]) -> BaseMessage:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk  # type: ignore[operator]
    return full


def _history(first: BaseMessage) -> list[BaseMessage]:
    assert isinstance(first, AIMessage)
    (call,) = first.tool_calls
    assert call["name"] == "get_weather"
    result = get_weather.invoke(call["args"])
    return [
        HumanMessage("get_weather for Rome"),
        first,
        ToolMessage(result, tool_call_id=call["id"]),
    ]


def _check_second_request(server: LocalLunosServer) -> None:
    posts = [r for r in server.requests if r.path == "/v1/chat/completions"]
    assert len(posts) == 2
    assistant = posts[1].json["messages"][1]
    assert assistant["role"] == "assistant" and assistant.get("content") == ""


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_tool_round_trip_sync(lunos_strict_server: LocalLunosServer, mode: str) -> None:
    llm = _model(lunos_strict_server).bind_tools([get_weather])
    question = [HumanMessage("get_weather for Rome")]
    if mode == "invoke":
        first = llm.invoke(question)
        history = _history(first)
        final = llm.invoke(history)
    else:
        first = _collect(list(llm.stream(question)))
        history = _history(first)
        final = _collect(list(llm.stream(history)))
    assert final.content == f"The tool returned: {history[2].content}"
    _check_second_request(lunos_strict_server)


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_tool_round_trip_async(lunos_strict_server: LocalLunosServer, mode: str) -> None:
    llm = _model(lunos_strict_server).bind_tools([get_weather])
    question = [HumanMessage("get_weather for Rome")]

    async def run() -> tuple[list[BaseMessage], BaseMessage]:
        if mode == "invoke":
            first = await llm.ainvoke(question)
            history = _history(first)
            return history, await llm.ainvoke(history)
        first = _collect([c async for c in llm.astream(question)])
        history = _history(first)
        return history, _collect([c async for c in llm.astream(history)])

    history, final = asyncio.run(run())
    assert final.content == f"The tool returned: {history[2].content}"
    _check_second_request(lunos_strict_server)
