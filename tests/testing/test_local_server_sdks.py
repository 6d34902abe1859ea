"""Fidelity: the official openai and anthropic SDKs parse the server's replies and streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import jsonschema
import openai
import pytest

from lunos_integrations.testing import LocalLunosServer, count_tokens

MAGIC = {
    "type": "object",
    "properties": {"input": {"type": "integer", "description": "The input."}},
    "required": ["input"],
}
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
    },
    "required": ["city", "unit", "days"],
    "additionalProperties": False,
}
OPENAI_TOOLS: Any = [
    {"type": "function", "function": {"name": "magic_function", "parameters": MAGIC}},
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
]
ANTHROPIC_TOOLS: Any = [
    {"name": "magic_function", "description": "magic", "input_schema": MAGIC},
    {"name": "get_weather", "description": "weather", "input_schema": WEATHER},
]
SCHEMAS = {"magic_function": MAGIC, "get_weather": WEATHER}


@pytest.fixture
def oai(lunos_server: LocalLunosServer) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=0, timeout=10
    )
    yield client
    client.close()


@pytest.fixture
def ant(lunos_server: LocalLunosServer) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(
        base_url=lunos_server.root_url, api_key=lunos_server.api_key, max_retries=0, timeout=10
    )
    yield client
    client.close()


# ------------------------------------------------------------------------------------ openai


def test_openai_chat_json(oai: openai.OpenAI, lunos_server: LocalLunosServer) -> None:
    completion = oai.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        extra_headers={"X-App-ID": "sdk-test"},
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Hello! You said: Hi"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == count_tokens("Be brief.") + count_tokens("Hi")
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    assert lunos_server.requests[-1].headers["x-app-id"] == "sdk-test"


def test_openai_stream_with_usage_chunk(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "Stream this ☃ please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello! You said: Stream this ☃ please"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens(text)


def test_openai_stream_without_include_usage_has_no_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
        )
    )
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_openai_tool_calls_validate_against_schema(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="openai/gpt-4o",
        messages=[
            {
                "role": "user",
                "content": "Call magic_function(3) and get_weather for Paris in celsius",
            }
        ],
        tools=OPENAI_TOOLS,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["magic_function", "get_weather"]  # type: ignore[union-attr]
    assert [c.id for c in calls] == ["call_1", "call_2"]
    for call in calls:
        args = json.loads(call.function.arguments)  # type: ignore[union-attr]
        jsonschema.validate(args, SCHEMAS[call.function.name])  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == {"input": 3}  # type: ignore[union-attr]
    weather = json.loads(calls[1].function.arguments)  # type: ignore[union-attr]
    assert weather["city"] == "Paris"
    assert weather["unit"] == "celsius"

    follow = oai.chat.completions.create(
        model="openai/gpt-4o",
        messages=[
            {"role": "user", "content": "magic_function(3)"},
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": "call_1", "content": "5"},
            {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
        ],
        tools=OPENAI_TOOLS,
    )
    assert follow.choices[0].message.content == "The tool returned: 5; sunny"


def test_openai_streamed_tool_call_fragments_accumulate(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "weather in Oslo for 3 days, fahrenheit"}],
        tools=OPENAI_TOOLS,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    fragments = 0
    finish = None
    for chunk in stream:
        for delta_call in chunk.choices[0].delta.tool_calls or []:
            fragments += 1
            slot = calls.setdefault(delta_call.index, {"id": "", "name": "", "arguments": ""})
            if delta_call.id:
                slot["id"] = delta_call.id
            if delta_call.function and delta_call.function.name:
                slot["name"] = delta_call.function.name
            if delta_call.function and delta_call.function.arguments:
                slot["arguments"] += delta_call.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert fragments > 3
    assert calls[0]["id"] == "call_1"
    assert calls[0]["name"] == "get_weather"
    args = json.loads(calls[0]["arguments"])
    jsonschema.validate(args, WEATHER)
    assert args == {"city": "Oslo", "unit": "fahrenheit", "days": 3}


def test_openai_json_schema_response_format_parse(oai: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["title", "year"],
        "additionalProperties": False,
    }
    completion = oai.chat.completions.create(
        model="openai/gpt-4o",
        messages=[{"role": "user", "content": "The book 'Ulysses' from 1922"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "book", "strict": True, "schema": schema},
        },
    )
    value = json.loads(completion.choices[0].message.content or "")
    jsonschema.validate(value, schema)
    assert value == {"title": "Ulysses", "year": 1922}


def test_openai_reasoning_fields(oai: openai.OpenAI) -> None:
    r1 = oai.chat.completions.create(
        model="deepseek/deepseek-r1", messages=[{"role": "user", "content": "why"}]
    )
    extra = r1.choices[0].message.model_extra or {}
    assert extra["reasoning_content"] == "Thinking about: why"
    assert r1.usage is not None and r1.usage.completion_tokens_details is not None
    assert r1.usage.completion_tokens_details.reasoning_tokens == count_tokens(
        "Thinking about: why"
    )

    o3 = oai.chat.completions.create(
        model="openai/o3-mini", messages=[{"role": "user", "content": "why"}]
    )
    extra = o3.choices[0].message.model_extra or {}
    assert extra["reasoning"] == "Thinking about: why"
    assert extra["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Thinking about: why", "format": "unknown", "index": 0}
    ]

    stream = oai.chat.completions.create(
        model="openai/o3-mini", messages=[{"role": "user", "content": "why"}], stream=True
    )
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning", "") for c in stream if c.choices
    )
    assert reasoning == "Thinking about: why"


def test_openai_embeddings_base64_default_and_dimensions(oai: openai.OpenAI) -> None:
    # the SDK asks for base64 by default and decodes it
    result = oai.embeddings.create(
        model="openai/text-embedding-3-small", input=["a", "b"], dimensions=16
    )
    assert [len(d.embedding) for d in result.data] == [16, 16]
    again = oai.embeddings.create(
        model="openai/text-embedding-3-small", input="a", dimensions=16, encoding_format="float"
    )
    assert again.data[0].embedding == pytest.approx(result.data[0].embedding, rel=1e-6)


def test_openai_errors_map_to_sdk_exceptions(lunos_server: LocalLunosServer) -> None:
    bad = openai.OpenAI(base_url=lunos_server.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()  # wrong key is rejected even on /models
    good = openai.OpenAI(
        base_url=lunos_server.base_url, api_key=lunos_server.api_key, max_retries=0
    )
    with pytest.raises(openai.NotFoundError) as info:
        good.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert "does not exist" in str(info.value)
    assert next(m.id for m in good.models.list()) == "openai/gpt-4o"


# ------------------------------------------------------------------------------------ anthropic


def test_anthropic_message_json(ant: anthropic.Anthropic) -> None:
    message = ant.messages.create(
        model="anthropic/claude-sonnet-4",
        max_tokens=100,
        system="Be terse.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert message.type == "message"
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello! You said: Hello"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == count_tokens("Hello")
    assert message.usage.cache_creation_input_tokens == count_tokens("Be terse.")
    again = ant.messages.create(
        model="anthropic/claude-sonnet-4",
        max_tokens=100,
        system="Be terse.",
        messages=[{"role": "user", "content": "Hello"}],
    )
    assert again.usage.cache_read_input_tokens == count_tokens("Be terse.")
    assert again.usage.cache_creation_input_tokens == 0


def test_anthropic_stream_final_message_with_thinking(ant: anthropic.Anthropic) -> None:
    with ant.messages.stream(
        model="anthropic/claude-sonnet-4",
        max_tokens=2000,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Tell me about ☃"}],
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(texts) > 3
    assert "".join(texts) == "Hello! You said: Tell me about ☃"
    thinking, text = final.content
    assert thinking.type == "thinking"
    assert thinking.thinking == "Thinking about: Tell me about ☃"
    assert thinking.signature
    assert text.type == "text"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == count_tokens(thinking.thinking) + count_tokens(text.text)
    assert final.usage.input_tokens == count_tokens("Tell me about ☃")


def test_anthropic_tool_use_json_and_stream(ant: anthropic.Anthropic) -> None:
    kwargs: Any = {
        "model": "anthropic/claude-sonnet-4",
        "max_tokens": 500,
        "tools": ANTHROPIC_TOOLS,
        "messages": [{"role": "user", "content": "get_weather in Rome, 2 days"}],
    }
    message = ant.messages.create(**kwargs)
    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert block.type == "tool_use"
    assert block.id == "toolu_1"
    jsonschema.validate(block.input, WEATHER)
    assert block.input == {"city": "Rome", "unit": "celsius", "days": 2}

    with ant.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == block.input
    assert final.stop_reason == "tool_use"

    follow = ant.messages.create(
        model="anthropic/claude-sonnet-4",
        max_tokens=500,
        tools=ANTHROPIC_TOOLS,
        messages=[
            {"role": "user", "content": "get_weather in Rome, 2 days"},
            {"role": "assistant", "content": [block.model_dump()]},  # type: ignore[list-item]
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "rainy"}],
            },
        ],
    )
    assert follow.content[0].type == "text"
    assert follow.content[0].text == "The tool returned: rainy"


def test_anthropic_stop_sequence_and_max_tokens(ant: anthropic.Anthropic) -> None:
    stopped = ant.messages.create(
        model="anthropic/claude-sonnet-4",
        max_tokens=100,
        stop_sequences=["STOP"],
        messages=[{"role": "user", "content": "go STOP now"}],
    )
    assert stopped.stop_reason == "stop_sequence"
    assert stopped.stop_sequence == "STOP"
    assert stopped.content[0].text == "Hello! You said: go "  # type: ignore[union-attr]
    limited = ant.messages.create(
        model="anthropic/claude-sonnet-4",
        max_tokens=2,
        messages=[{"role": "user", "content": "long text here"}],
    )
    assert limited.stop_reason == "max_tokens"
    assert limited.usage.output_tokens == 2


def test_anthropic_errors(lunos_server: LocalLunosServer) -> None:
    bad = anthropic.Anthropic(base_url=lunos_server.root_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(
            model="anthropic/claude-sonnet-4",
            max_tokens=5,
            messages=[{"role": "user", "content": "x"}],
        )
    good = anthropic.Anthropic(
        base_url=lunos_server.root_url, api_key=lunos_server.api_key, max_retries=0
    )
    with pytest.raises(anthropic.NotFoundError):
        good.messages.create(
            model="claude-nope", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )


async def test_async_sdks_against_async_context_manager() -> None:
    async with LocalLunosServer() as server:
        oai = openai.AsyncOpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0)
        stream = await oai.chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": "async"}],
            stream=True,
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert text == "Hello! You said: async"
        await oai.close()
        ant = anthropic.AsyncAnthropic(
            base_url=server.root_url, api_key=server.api_key, max_retries=0
        )
        async with ant.messages.stream(
            model="anthropic/claude-sonnet-4",
            max_tokens=50,
            messages=[{"role": "user", "content": "async"}],
        ) as s:
            final = await s.get_final_message()
        assert final.content[0].text == "Hello! You said: async"  # type: ignore[union-attr]
        await ant.close()
