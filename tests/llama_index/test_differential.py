"""Differential tests: LunosLLM vs OpenAILike on the same local server and model.

``OpenAILike`` (llama-index-llms-openai-like, test-only dependency) is configured the way a
careful user would for a gateway: ``is_chat_model=True``, ``is_function_calling_model=True``.
For each scenario both must produce the same content, the same tool selections and the
same token counts.

Differences on purpose (asserted, not hidden):

* **Prompt tokens with tools.** OpenAILike always writes ``"strict": false`` and
  ``"additionalProperties": false`` into every tool schema; LunosLLM sends schemas as given
  (strict only when asked). The fake model counts tool JSON as prompt tokens, so with tools
  OpenAILike's prompt is *larger* by exactly those extra keys; completion tokens are equal.
* **Stream usage.** LunosLLM asks for usage in streams by default; OpenAILike only when
  ``additional_kwargs={"stream_options": {"include_usage": True}}`` is set (its streamed
  usage is then also equal). Without it OpenAILike reports no usage at all.
* **Structured output path.** For ``openai/gpt-4o-mini`` LunosLLM uses a ``json_schema``
  response format (the catalog lists ``response_format``); OpenAILike uses a forced tool
  call. The resulting objects are equal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai_like import OpenAILike
from pydantic import BaseModel

from lunos_integrations.llama_index import LunosLLM
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.fake_model import count_tokens

MODEL = "openai/gpt-4o-mini"


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny in {city}"


def get_time(timezone: str) -> str:
    """Get the current time in a timezone."""
    return f"12:00 in {timezone}"


WEATHER = FunctionTool.from_defaults(get_weather)
TIME = FunctionTool.from_defaults(get_time)


class City(BaseModel):
    name: str
    country: str


@pytest.fixture
def pair(lunos_server: LocalLunosServer) -> Iterator[tuple[LunosLLM, OpenAILike]]:
    lunos = LunosLLM(
        model=MODEL, api_key=lunos_server.api_key, base_url=lunos_server.base_url, max_retries=0
    )
    other = OpenAILike(
        model=MODEL,
        api_base=lunos_server.base_url,
        api_key=lunos_server.api_key,
        is_chat_model=True,
        is_function_calling_model=True,
        context_window=128_000,
        max_retries=0,
        timeout=10,
    )
    yield lunos, other
    lunos.close()


def _tokens(response: Any) -> tuple[int, int]:
    kw = response.additional_kwargs
    return kw["prompt_tokens"], kw["completion_tokens"]


def _selections(llm: FunctionCallingLLM, response: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (s.tool_id, s.tool_name, s.tool_kwargs)
        for s in llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    ]


def _extra_tool_tokens(tools: list[FunctionTool]) -> int:
    """Prompt tokens OpenAILike adds per tool: ``"strict": false`` + additionalProperties."""
    extra = 0
    for tool in tools:
        spec = tool.metadata.to_openai_tool(skip_length_check=True)
        plain = json.dumps(spec, sort_keys=True)
        spec["function"]["strict"] = False
        spec["function"]["parameters"]["additionalProperties"] = False
        extra += count_tokens(json.dumps(spec, sort_keys=True)) - count_tokens(plain)
    return extra


Scenario = Callable[[FunctionCallingLLM], Any]


def both(pair: tuple[LunosLLM, OpenAILike], run: Scenario) -> tuple[Any, Any]:
    lunos, other = pair
    return run(lunos), run(other)


# 1
def test_plain_chat(pair: tuple[LunosLLM, OpenAILike]) -> None:
    ours, theirs = both(pair, lambda llm: llm.chat([ChatMessage(role="user", content="hi there")]))
    assert ours.message.content == theirs.message.content == "Hello! You said: hi there"
    assert _tokens(ours) == _tokens(theirs)


# 2
def test_system_prompt_and_history(pair: tuple[LunosLLM, OpenAILike]) -> None:
    history = [
        ChatMessage(role="system", content="You are terse."),
        ChatMessage(role="user", content="first question"),
        ChatMessage(role="assistant", content="first answer"),
        ChatMessage(role="user", content='Say "second"'),
    ]
    ours, theirs = both(pair, lambda llm: llm.chat(history))
    assert ours.message.content == theirs.message.content == "second"
    assert _tokens(ours) == _tokens(theirs)


# 3
def test_max_tokens_truncation(pair: tuple[LunosLLM, OpenAILike]) -> None:
    msgs = [ChatMessage(role="user", content="tell me a long story about dragons")]
    ours, theirs = both(pair, lambda llm: llm.chat(msgs, max_tokens=3))
    assert ours.message.content == theirs.message.content == "Hello! You"
    assert _tokens(ours) == _tokens(theirs)
    assert ours.additional_kwargs["finish_reason"] == "length"


# 4
def test_stop_sequences(pair: tuple[LunosLLM, OpenAILike]) -> None:
    msgs = [ChatMessage(role="user", content="stop here please")]
    ours, theirs = both(pair, lambda llm: llm.chat(msgs, stop=["here"]))
    assert ours.message.content == theirs.message.content == "Hello! You said: stop "
    assert _tokens(ours) == _tokens(theirs)


# 5
def test_streamed_chat(pair: tuple[LunosLLM, OpenAILike]) -> None:
    lunos, other = pair
    msgs = [ChatMessage(role="user", content="stream this text")]
    ours = list(lunos.stream_chat(msgs))
    theirs = list(other.stream_chat(msgs))
    assert ours[-1].message.content == theirs[-1].message.content
    assert "".join(c.delta or "" for c in ours) == "".join(c.delta or "" for c in theirs)
    # Difference on purpose: OpenAILike reports no streamed usage unless asked to...
    assert "prompt_tokens" not in theirs[-1].additional_kwargs
    # ...and when asked, its counts equal the ones LunosLLM reports by default.
    other.additional_kwargs = {"stream_options": {"include_usage": True}}
    asked = list(other.stream_chat(msgs))
    assert _tokens(ours[-1]) == _tokens(asked[-1])


# 6
def test_single_tool_call(pair: tuple[LunosLLM, OpenAILike]) -> None:
    ours, theirs = both(
        pair,
        lambda llm: llm.chat_with_tools([WEATHER, TIME], user_msg="get_weather in Paris"),  # type: ignore[attr-defined]
    )
    assert (
        _selections(pair[0], ours)
        == _selections(pair[1], theirs)
        == [("call_1", "get_weather", {"city": "Paris"})]
    )
    assert (
        ours.additional_kwargs["completion_tokens"] == theirs.additional_kwargs["completion_tokens"]
    )
    # Difference on purpose: OpenAILike's strict/additionalProperties keys cost prompt tokens.
    assert theirs.additional_kwargs["prompt_tokens"] - ours.additional_kwargs[
        "prompt_tokens"
    ] == _extra_tool_tokens([WEATHER, TIME])


# 7
def test_tool_required(pair: tuple[LunosLLM, OpenAILike]) -> None:
    ours, theirs = both(
        pair,
        lambda llm: llm.chat_with_tools([TIME], user_msg="no tool named here", tool_required=True),  # type: ignore[attr-defined]
    )
    assert _selections(pair[0], ours) == _selections(pair[1], theirs)
    assert _selections(pair[0], ours)[0][1] == "get_time"
    assert (
        ours.additional_kwargs["completion_tokens"] == theirs.additional_kwargs["completion_tokens"]
    )


# 8
def test_parallel_tool_calls_allowed(pair: tuple[LunosLLM, OpenAILike]) -> None:
    prompt = "get_weather in Paris and get_time in UTC"
    ours, theirs = both(
        pair,
        lambda llm: llm.chat_with_tools(  # type: ignore[attr-defined]
            [WEATHER, TIME], user_msg=prompt, allow_parallel_tool_calls=True
        ),
    )
    assert _selections(pair[0], ours) == _selections(pair[1], theirs)
    assert [s[1] for s in _selections(pair[0], ours)] == ["get_weather", "get_time"]


# 9
def test_tool_result_round_trip(pair: tuple[LunosLLM, OpenAILike]) -> None:
    def run(llm: FunctionCallingLLM) -> Any:
        first = llm.chat_with_tools([WEATHER], user_msg="get_weather in Rome")
        (sel,) = llm.get_tool_calls_from_response(first)
        history = [
            ChatMessage(role="user", content="get_weather in Rome"),
            first.message,
            ChatMessage(
                role="tool",
                content=get_weather(**sel.tool_kwargs),
                additional_kwargs={"tool_call_id": sel.tool_id},
            ),
        ]
        return llm.chat_with_tools([WEATHER], chat_history=history)

    ours, theirs = both(pair, run)
    assert ours.message.content == theirs.message.content == "The tool returned: Sunny in Rome"
    assert (
        ours.additional_kwargs["completion_tokens"] == theirs.additional_kwargs["completion_tokens"]
    )


# 10
async def test_streamed_tool_call(pair: tuple[LunosLLM, OpenAILike]) -> None:
    async def run(llm: FunctionCallingLLM) -> Any:
        gen = await llm.astream_chat_with_tools([WEATHER, TIME], user_msg="get_time in Tokyo")
        return [c async for c in gen][-1]

    lunos, other = pair
    ours, theirs = await run(lunos), await run(other)
    assert (
        _selections(lunos, ours)
        == _selections(other, theirs)
        == [("call_1", "get_time", {"timezone": "Tokyo"})]
    )


# 11
def test_complete(pair: tuple[LunosLLM, OpenAILike]) -> None:
    ours, theirs = both(pair, lambda llm: llm.complete('Say "done"'))
    assert ours.text == theirs.text == "done"
    assert _tokens(ours) == _tokens(theirs)


# 12
def test_image_url(pair: tuple[LunosLLM, OpenAILike]) -> None:
    msg = ChatMessage(
        role="user",
        blocks=[TextBlock(text="what is this"), ImageBlock(url="https://example.com/cat.png")],
    )
    ours, theirs = both(pair, lambda llm: llm.chat([msg]))
    assert ours.message.content == theirs.message.content
    assert ours.message.content == "Hello! You said: what is this [attachments: image]"
    assert _tokens(ours) == _tokens(theirs)


# 13
def test_structured_predict_same_object(pair: tuple[LunosLLM, OpenAILike]) -> None:
    prompt = PromptTemplate("Extract the city from: {text}")
    ours, theirs = both(
        pair, lambda llm: llm.structured_predict(City, prompt, text="Paris, France")
    )
    assert isinstance(ours, City) and ours == theirs
