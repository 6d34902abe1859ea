"""LunosLLM function calling: tool specs, choice, selections, round trips, streamed calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.tools import FunctionTool

from lunos_integrations.errors import LunosInputError
from lunos_integrations.llama_index import InvalidToolCallError, LunosLLM
from lunos_integrations.parameters import LunosUnsupportedParameterWarning
from lunos_integrations.testing import JSONReply, LocalLunosServer

Bodies = Callable[[], list[dict[str, Any]]]


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny in {city}"


def get_time(timezone: str) -> str:
    """Get the current time in a timezone."""
    return f"12:00 in {timezone}"


WEATHER = FunctionTool.from_defaults(get_weather)
TIME = FunctionTool.from_defaults(get_time)


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] if "function" in t else t["name"] for t in body["tools"]]


def test_chat_with_tools_selects_tool(route_llm: LunosLLM, bodies: Bodies) -> None:
    response = route_llm.chat_with_tools([WEATHER, TIME], user_msg="get_weather for Paris")
    selections = route_llm.get_tool_calls_from_response(response)
    assert len(selections) == 1
    assert selections[0].tool_name == "get_weather"
    assert selections[0].tool_kwargs == {"city": "Paris"}
    assert selections[0].tool_id
    assert response.additional_kwargs["finish_reason"] == "tool_calls"
    assert _tool_names(bodies()[-1]) == ["get_weather", "get_time"]
    assert "strict" not in json.dumps(bodies()[-1]["tools"])  # only sent when asked


async def test_achat_with_tools(route_llm: LunosLLM) -> None:
    response = await route_llm.achat_with_tools([TIME], user_msg="get_time in UTC")
    (selection,) = route_llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "get_time" and selection.tool_kwargs == {"timezone": "UTC"}


def test_no_tool_call(route_llm: LunosLLM) -> None:
    response = route_llm.chat_with_tools([WEATHER], user_msg="hi", tool_choice="none")
    assert response.message.content == "Hello! You said: hi"
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        route_llm.get_tool_calls_from_response(response)
    assert route_llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


@pytest.mark.parametrize(
    ("kwargs", "chat_choice", "messages_choice"),
    [
        ({"tool_required": True}, "required", {"type": "any"}),
        (
            {"tool_choice": "get_time"},
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "tool", "name": "get_time"},
        ),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_time"}}},
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "tool", "name": "get_time"},
        ),
        ({"tool_choice": "any"}, "required", {"type": "any"}),
        ({"tool_choice": "auto"}, "auto", {"type": "auto"}),
    ],
)
def test_tool_choice_spellings(
    route_llm: LunosLLM,
    bodies: Bodies,
    kwargs: dict[str, Any],
    chat_choice: Any,
    messages_choice: Any,
) -> None:
    response = route_llm.chat_with_tools(
        [WEATHER, TIME], user_msg="something", allow_parallel_tool_calls=True, **kwargs
    )
    expected = chat_choice if route_llm.api == "chat_completions" else messages_choice
    assert bodies()[-1]["tool_choice"] == expected
    names = [s.tool_name for s in route_llm.get_tool_calls_from_response(response)]
    assert names == (
        ["get_time"]
        if "tool_choice" in kwargs and kwargs["tool_choice"] not in ("any", "auto")
        else ["get_weather"]
    )


def test_bad_tool_choice_is_typed_error(route_llm: LunosLLM) -> None:
    with pytest.raises(LunosInputError) as info:
        route_llm.chat_with_tools([WEATHER], user_msg="x", tool_choice=42)
    assert info.value.param == "tool_choice"


def test_parallel_tool_calls(route_llm: LunosLLM, bodies: Bodies) -> None:
    prompt = "get_weather in Paris and get_time in UTC"
    single = route_llm.chat_with_tools([WEATHER, TIME], user_msg=prompt)
    assert [s.tool_name for s in route_llm.get_tool_calls_from_response(single)] == ["get_weather"]
    body = bodies()[-1]
    if route_llm.api == "chat_completions":
        assert body["parallel_tool_calls"] is False  # the catalog says the model accepts it
    else:
        assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}

    both = route_llm.chat_with_tools(
        [WEATHER, TIME], user_msg=prompt, allow_parallel_tool_calls=True
    )
    names = [s.tool_name for s in route_llm.get_tool_calls_from_response(both)]
    assert names == ["get_weather", "get_time"]
    assert "parallel_tool_calls" not in bodies()[-1]  # not forced either way


def test_parallel_false_learned_when_a_model_rejects_it(bodies: Bodies) -> None:
    """Sent as asked; a server that refuses it costs one extra request, then never again."""
    with LocalLunosServer(catalog_profile="strict") as srv:
        llm = LunosLLM(model="google/gemini-2.5-flash", base_url=srv.base_url, api_key=srv.api_key)
        with pytest.warns(LunosUnsupportedParameterWarning, match="parallel_tool_calls"):
            first = llm.chat_with_tools([WEATHER, TIME], user_msg="get_weather and get_time")
        second = llm.chat_with_tools([WEATHER, TIME], user_msg="get_weather and get_time")
        sent = [r.json for r in srv.requests if r.path == "/v1/chat/completions"]
    assert [("parallel_tool_calls" in b) for b in sent] == [True, False, False]
    # LlamaIndex's allow_parallel_tool_calls=False contract is still honoured locally.
    for response in (first, second):
        assert [s.tool_name for s in llm.get_tool_calls_from_response(response)] == ["get_weather"]


def test_tool_result_round_trip(route_llm: LunosLLM, bodies: Bodies) -> None:
    first = route_llm.chat_with_tools([WEATHER], user_msg="get_weather for Rome")
    (selection,) = route_llm.get_tool_calls_from_response(first)
    history = [
        ChatMessage(role="user", content="get_weather for Rome"),
        first.message,
        ChatMessage(
            role="tool",
            content=get_weather(**selection.tool_kwargs),
            additional_kwargs={"tool_call_id": selection.tool_id, "name": "get_weather"},
        ),
    ]
    final = route_llm.chat_with_tools([WEATHER], chat_history=history)
    assert final.message.content == "The tool returned: Sunny in Rome"
    sent = bodies()[-1]["messages"]
    if route_llm.api == "chat_completions":
        assert sent[1]["tool_calls"][0]["id"] == selection.tool_id
        # A tool-only assistant turn sends content "" (never null, never absent).
        assert sent[1]["content"] == ""
        assert sent[2] == {
            "role": "tool",
            "tool_call_id": selection.tool_id,
            "content": "Sunny in Rome",
        }
    else:
        assert sent[1]["content"][0]["type"] == "tool_use"
        assert sent[2]["content"][0]["tool_use_id"] == selection.tool_id


def test_tool_message_without_call_id_is_typed_error(route_llm: LunosLLM) -> None:
    with pytest.raises(LunosInputError) as info:
        route_llm.chat(
            [ChatMessage(role="user", content="x"), ChatMessage(role="tool", content="y")]
        )
    assert info.value.param == "messages[1].additional_kwargs.tool_call_id"


def test_stream_chat_with_tools_assembles_calls(route_llm: LunosLLM) -> None:
    chunks = list(route_llm.stream_chat_with_tools([WEATHER, TIME], user_msg="get_time in Tokyo"))
    last = chunks[-1]
    (selection,) = route_llm.get_tool_calls_from_response(last)
    assert selection.tool_name == "get_time" and selection.tool_kwargs == {"timezone": "Tokyo"}
    block = next(b for b in last.message.blocks if isinstance(b, ToolCallBlock))
    assert block.tool_kwargs == {"timezone": "Tokyo"}  # parsed once complete, not a string
    assert last.message.additional_kwargs["tool_calls"][0]["function"]["name"] == "get_time"
    assert last.additional_kwargs["completion_tokens"] > 0
    # Partial chunks never raise and never invent arguments.
    for chunk in chunks:
        for s in route_llm.get_tool_calls_from_response(chunk, error_on_no_tool_call=False):
            assert set(s.tool_kwargs) <= {"timezone"}


async def test_astream_chat_with_tools(route_llm: LunosLLM) -> None:
    gen = await route_llm.astream_chat_with_tools([WEATHER], user_msg="get_weather in Oslo")
    chunks = [c async for c in gen]
    (selection,) = route_llm.get_tool_calls_from_response(chunks[-1])
    assert selection.tool_kwargs == {"city": "Oslo"}


def test_invalid_arguments_are_never_silently_empty(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM]
) -> None:
    llm = make_llm()
    llm.metadata  # noqa: B018 - fetch the catalog before scripting the chat reply
    lunos_server.enqueue(
        JSONReply(
            {
                "id": "x",
                "model": "openai/gpt-4o-mini",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_9",
                                    "type": "function",
                                    "function": {
                                        "name": "get_weather",
                                        "arguments": "{city: Paris",
                                    },
                                }
                            ],
                        },
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            }
        ),
        path="/chat/completions",
    )
    response = llm.chat_with_tools([WEATHER], user_msg="get_weather")
    bad = response.message.additional_kwargs["invalid_tool_calls"]
    assert bad[0]["arguments"] == "{city: Paris" and "not valid JSON" in bad[0]["error"]
    with pytest.raises(InvalidToolCallError) as info:
        llm.get_tool_calls_from_response(response)
    assert info.value.calls[0]["id"] == "call_9"


def test_empty_arguments_mean_no_arguments(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM]
) -> None:
    llm = make_llm()
    llm.metadata  # noqa: B018
    lunos_server.enqueue(
        JSONReply(
            {
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "ping", "arguments": ""},
                                }
                            ],
                        },
                    }
                ],
            }
        ),
        path="/chat/completions",
    )
    response = llm.chat_with_tools([WEATHER], user_msg="x")
    (selection,) = llm.get_tool_calls_from_response(response)
    assert (selection.tool_name, selection.tool_kwargs) == ("ping", {})


def test_predict_and_call(route_llm: LunosLLM) -> None:
    out = route_llm.predict_and_call([WEATHER], user_msg="get_weather for Lima")
    assert out.response == "Sunny in Lima"
    assert out.sources[0].tool_name == "get_weather"


def test_tools_as_openai_dicts_per_call(route_llm: LunosLLM, bodies: Bodies) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look up",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string"}},
                "required": ["q"],
            },
        },
    }
    response = route_llm.chat([ChatMessage(role="user", content="lookup cats")], tools=[tool])
    (selection,) = route_llm.get_tool_calls_from_response(response)
    assert selection.tool_name == "lookup" and "q" in selection.tool_kwargs
    assert _tool_names(bodies()[-1]) == ["lookup"]
