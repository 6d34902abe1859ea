"""The fake model and the schema-instance generator, as pure functions (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from lunos_integrations.testing.catalog import default_models, find_model
from lunos_integrations.testing.fake_embeddings import embedding_vector
from lunos_integrations.testing.fake_model import (
    FakeModelError,
    answer_text,
    chat_turn,
    count_tokens,
    messages_turn,
    truncate_tokens,
)
from lunos_integrations.testing.schema_instances import instance_for_schema

MODELS = default_models()


def model(model_id: str) -> Any:
    found = find_model(MODELS, model_id)
    assert found is not None
    return found


def tool(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


INT_INPUT = {"type": "object", "properties": {"input": {"type": "integer"}}, "required": ["input"]}
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
}


def test_count_tokens_is_words_plus_punctuation() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0
    assert count_tokens("magic_function(3)") == 4
    assert truncate_tokens("Hello, world! Bye", 3) == "Hello, world"
    assert truncate_tokens("a b", 10) == "a b"


def test_answer_text() -> None:
    assert answer_text("hi") == "Hello! You said: hi"
    assert answer_text("Please repeat 'abc def' exactly") == "abc def"


def test_tool_argument_from_user_text() -> None:
    body = {
        "model": "openai/gpt-4o",
        "messages": [{"role": "user", "content": "What is the value of magic_function(3)?"}],
        "tools": [tool("magic_function", INT_INPUT)],
    }
    turn = chat_turn(body, model("openai/gpt-4o"), cached_system=False)
    assert turn.finish == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in turn.tool_calls] == [
        ("call_1", "magic_function", {"input": 3})
    ]
    assert turn.text is None


def test_tool_choice_modes() -> None:
    tools = [tool("get_weather", WEATHER), tool("magic_function", INT_INPUT)]
    m = model("openai/gpt-4o")

    def run(text: str, **extra: Any) -> list[str]:
        body = {"messages": [{"role": "user", "content": text}], "tools": tools, **extra}
        return [c.name for c in chat_turn(body, m, cached_system=False).tool_calls]

    assert run("hello") == ["get_weather"]  # auto, nothing named → first tool
    assert run("use magic_function on 2") == ["magic_function"]
    assert run("magic_function(2) and get_weather in Paris") == ["magic_function", "get_weather"]
    assert run("magic_function(2) and get_weather", parallel_tool_calls=False) == ["magic_function"]
    assert run("hello", tool_choice="none") == []
    named = {"type": "function", "function": {"name": "magic_function"}}
    assert run("get_weather please", tool_choice=named) == ["magic_function"]
    with pytest.raises(FakeModelError):
        run("x", tool_choice={"type": "function", "function": {"name": "nope"}})


def test_weather_arguments_take_words_and_enum_from_text() -> None:
    body = {
        "messages": [{"role": "user", "content": "What's the weather in Paris in fahrenheit?"}],
        "tools": [tool("get_weather", WEATHER)],
    }
    [call] = chat_turn(body, model("openai/gpt-4o"), cached_system=False).tool_calls
    assert call.arguments == {"city": "Paris", "unit": "fahrenheit"}


def test_after_tool_result_answers_with_the_result() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "magic_function(3)"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "magic_function", "arguments": '{"input": 3}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "5"},
        ],
        "tools": [tool("magic_function", INT_INPUT)],
    }
    turn = chat_turn(body, model("openai/gpt-4o"), cached_system=False)
    assert turn.text == "The tool returned: 5"
    assert turn.tool_calls == []
    # required still forces a call, numbered after the one already in the conversation
    forced = chat_turn(
        {**body, "tool_choice": "required"}, model("openai/gpt-4o"), cached_system=False
    )
    assert forced.tool_calls[0].id == "call_2"


def test_messages_tool_flow() -> None:
    tools = [{"name": "magic_function", "input_schema": INT_INPUT}]
    m = model("anthropic/claude-sonnet-4")
    first = messages_turn(
        {"messages": [{"role": "user", "content": "magic_function(7)"}], "tools": tools},
        m,
        cached_system=False,
    )
    assert [(c.id, c.arguments) for c in first.tool_calls] == [("toolu_1", {"input": 7})]
    follow = {
        "messages": [
            {"role": "user", "content": "magic_function(7)"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "magic_function",
                        "input": {"input": 7},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "9"}],
            },
        ],
        "tools": tools,
    }
    second = messages_turn(follow, m, cached_system=False)
    assert second.text == "The tool returned: 9"
    assert second.finish == "stop"
    anyc = messages_turn({**follow, "tool_choice": {"type": "any"}}, m, cached_system=False)
    assert anyc.tool_calls[0].id == "toolu_2"


def test_reasoning_fields_per_model() -> None:
    body = {"messages": [{"role": "user", "content": "why?"}]}
    r1 = chat_turn(body, model("deepseek/deepseek-r1"), cached_system=False)
    assert (r1.reasoning, r1.reasoning_field) == ("Thinking about: why?", "reasoning_content")
    assert r1.reasoning_tokens == count_tokens("Thinking about: why?")
    assert r1.completion_tokens == r1.reasoning_tokens + count_tokens(r1.text or "")
    o3 = chat_turn(body, model("openai/o3-mini"), cached_system=False)
    assert o3.reasoning_field == "reasoning"
    assert chat_turn(body, model("openai/gpt-4o"), cached_system=False).reasoning is None
    claude = model("anthropic/claude-sonnet-4")
    assert messages_turn(body, claude, cached_system=False).reasoning is None
    thinking = messages_turn(
        {**body, "thinking": {"type": "enabled", "budget_tokens": 1024}},
        claude,
        cached_system=False,
    )
    assert thinking.reasoning == "Thinking about: why?"
    assert thinking.signature


COMPLEX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "zip": {"type": "string", "minLength": 5}},
            "required": ["street", "zip"],
            "additionalProperties": False,
        },
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["name"],
        },
    },
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "score": {"type": "number", "exclusiveMaximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
        "kind": {"const": "person"},
        "color": {"enum": ["red", "green", "blue"]},
        "nickname": {"anyOf": [{"type": "null"}, {"type": "string"}]},
        "shape": {
            "oneOf": [
                {"type": "object", "properties": {"r": {"type": "number"}}, "required": ["r"]},
                {"type": "integer"},
            ]
        },
        "address": {"$ref": "#/$defs/Address"},
        "tree": {"$ref": "#/$defs/Node"},
        "flags": {"type": ["boolean", "null"]},
        "when": {"type": "string", "format": "date-time"},
        "meta": {
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"type": "string"}}, "required": ["b"]},
            ]
        },
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
        "level": {"type": "integer", "default": 3},
    },
    "required": ["name", "age", "tags", "kind", "color", "address", "tree", "meta"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "text",
    ["", "My name is 'Ada', I am 36 and like green things", "age 5, 1000 apples", "ünïcødé ☃ 7"],
)
def test_schema_instances_validate(text: str) -> None:
    value = instance_for_schema(COMPLEX_SCHEMA, text)
    jsonschema.validate(value, COMPLEX_SCHEMA)


def test_schema_instance_takes_hints() -> None:
    value = instance_for_schema(COMPLEX_SCHEMA, "My name is 'Ada', I am 36 and like green things")
    assert value["name"] == "Ada"
    assert value["age"] == 36
    assert value["color"] == "green"
    add = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    }
    assert instance_for_schema(add, "What is 3 + 4?") == {"a": 3, "b": 4}


def test_json_schema_response_format_is_valid_json() -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["answer", "confidence"],
        "additionalProperties": False,
    }
    body = {
        "messages": [{"role": "user", "content": "Is 'yes' right? 1"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "a", "strict": True, "schema": schema},
        },
    }
    turn = chat_turn(body, model("openai/gpt-4o"), cached_system=False)
    parsed = json.loads(turn.text or "")
    jsonschema.validate(parsed, schema)
    assert parsed == {"answer": "yes", "confidence": 1}
    obj = chat_turn(
        {**body, "response_format": {"type": "json_object"}},
        model("openai/gpt-4o"),
        cached_system=False,
    )
    assert json.loads(obj.text or "") == {"answer": "Hello! You said: Is 'yes' right? 1"}


def test_messages_output_format_json_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    body = {
        "messages": [{"role": "user", "content": "give 42"}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    turn = messages_turn(body, model("anthropic/claude-sonnet-4"), cached_system=False)
    assert json.loads(turn.text or "") == {"n": 42}


def test_stop_and_max_tokens_on_messages() -> None:
    m = model("anthropic/claude-sonnet-4")
    body = {"messages": [{"role": "user", "content": "a b c d"}], "stop_sequences": ["c"]}
    stopped = messages_turn(body, m, cached_system=False)
    assert (stopped.text, stopped.finish, stopped.stop_sequence) == (
        "Hello! You said: a b ",
        "stop_sequence",
        "c",
    )
    limited = messages_turn({**body, "max_tokens": 2}, m, cached_system=False)
    assert (limited.text, limited.finish) == ("Hello!", "length")


def test_embedding_vector_is_deterministic() -> None:
    assert embedding_vector("a", 4) == embedding_vector("a", 4)
    assert embedding_vector("a", 4) != embedding_vector("b", 4)


def test_json_object_uses_keys_named_in_the_prompt() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "A joke as JSON with 'setup' and 'punchline' keys"}
        ],
        "response_format": {"type": "json_object"},
    }
    turn = chat_turn(body, model("openai/gpt-4o"), cached_system=False)
    assert set(json.loads(turn.text or "")) == {"setup", "punchline"}
