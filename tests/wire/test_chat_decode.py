"""Decoding of chat-completions replies and stream chunks, including the tricky shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lunos_integrations.errors import WireFormatError
from lunos_integrations.wire import chat_completions as cc
from lunos_integrations.wire.types import InvalidToolCall, ReasoningPart, ToolCall, Usage


def _reply(message: dict[str, Any], **top: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "gen-1",
        "object": "chat.completion",
        "created": 1710000000,
        "model": "openai/gpt-4o",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    body.update(top)
    return body


def test_plain_reply() -> None:
    body = _reply(
        {"role": "assistant", "content": "Hi"}, provider="openai", system_fingerprint="fp_1"
    )
    r = cc.decode_response(body)
    assert r.text == "Hi"
    assert r.finish_reason == "stop"
    assert r.usage == Usage(input_tokens=10, output_tokens=5, total_tokens=15)
    assert (r.id, r.model, r.provider, r.system_fingerprint) == (
        "gen-1",
        "openai/gpt-4o",
        "openai",
        "fp_1",
    )
    assert r.raw is body
    assert r.tool_calls == [] and r.reasoning == [] and r.images == []


def test_null_content_with_tool_calls() -> None:
    body = _reply(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        }
    )
    body["choices"][0]["finish_reason"] = "tool_calls"
    r = cc.decode_response(body)
    assert r.text == ""
    assert r.tool_calls == [ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})]
    assert r.finish_reason == "tool_calls"


@pytest.mark.parametrize("args", ["", None, "null", "  "])
def test_empty_arguments_mean_no_arguments(args: Any) -> None:
    body = _reply(
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "now", "arguments": args}}
            ],
        }
    )
    r = cc.decode_response(body)
    assert r.tool_calls == [ToolCall(id="c", name="now", arguments={})]
    assert r.invalid_tool_calls == []


def test_dict_arguments_are_accepted() -> None:
    body = _reply(
        {
            "content": None,
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"x": 1}}}],
        }
    )
    assert cc.decode_response(body).tool_calls == [ToolCall(id="c", name="f", arguments={"x": 1})]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [('{"city": "Par', "not valid JSON"), ("[1, 2]", "an array"), ('"x"', "a string")],
)
def test_malformed_arguments_become_invalid_tool_calls(args: str, fragment: str) -> None:
    body = _reply(
        {
            "content": None,
            "tool_calls": [
                {"id": "ok", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                {"id": "bad", "type": "function", "function": {"name": "b", "arguments": args}},
            ],
        }
    )
    r = cc.decode_response(body)
    assert r.tool_calls == [ToolCall(id="ok", name="a", arguments={})]
    assert len(r.invalid_tool_calls) == 1
    bad = r.invalid_tool_calls[0]
    assert (bad.id, bad.name, bad.raw_arguments) == ("bad", "b", args)
    assert fragment in bad.error


def test_unknown_extra_fields_are_ignored() -> None:
    body = _reply(
        {
            "role": "assistant",
            "content": "ok",
            "refusal": None,
            "annotations": [],
            "new_thing": {"a": 1},
        },
        service_tier="default",
        whatever=[1, 2],
    )
    body["choices"][0]["logprobs"] = None
    body["choices"][0]["native_finish_reason"] = "end_turn"
    r = cc.decode_response(body)
    assert r.text == "ok" and r.finish_reason == "stop"


def test_data_choices_wrapper() -> None:
    body = {
        "id": "resp_abc123",
        "object": "completion",
        "model": "openai/gpt-4o",
        "provider": "openai",
        "data": {
            "choices": [
                {"message": {"role": "assistant", "content": "wrapped"}, "finish_reason": "stop"}
            ]
        },
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    r = cc.decode_response(body)
    assert r.text == "wrapped"
    assert r.provider == "openai"
    assert r.usage == Usage(input_tokens=3, output_tokens=1, total_tokens=4)


def test_legacy_completion_choice_text() -> None:
    body = {"data": {"choices": [{"text": "legacy", "index": 0, "finish_reason": "stop"}]}}
    assert cc.decode_response(body).text == "legacy"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"id": "x", "choices": None}, "'choices': null"),
        ({"id": "x", "choices": []}, "empty 'choices'"),
        ({"id": "x"}, "no 'choices' field"),
        ({"error": {"message": "model overloaded"}}, "model overloaded"),
        ({"choices": "nope"}, "unexpected shape"),
    ],
)
def test_missing_choices_is_a_wire_format_error(body: Any, fragment: str) -> None:
    with pytest.raises(WireFormatError) as exc:
        cc.decode_response(body)
    assert fragment in str(exc.value)
    assert "Body:" in str(exc.value)


def test_non_object_body_is_a_wire_format_error() -> None:
    with pytest.raises(WireFormatError, match="got list"):
        cc.decode_response([1, 2])


def test_missing_and_null_usage() -> None:
    body = _reply({"content": "x"})
    del body["usage"]
    assert cc.decode_response(body).usage is None
    body["usage"] = None
    assert cc.decode_response(body).usage is None


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"reasoning_content": "deep thought"}, "deep thought"),
        ({"reasoning": "deep thought"}, "deep thought"),
        (
            {
                "reasoning_details": [
                    {"type": "reasoning.text", "text": "deep ", "index": 0},
                    {"type": "reasoning.summary", "summary": "thought", "index": 1},
                ]
            },
            "deep thought",
        ),
    ],
)
def test_each_reasoning_field(fields: dict[str, Any], text: str) -> None:
    r = cc.decode_response(_reply({"content": "42", **fields}))
    assert len(r.reasoning) == 1
    assert r.reasoning[0].text == text
    assert r.reasoning[0].details == fields.get("reasoning_details")


def test_all_three_reasoning_fields_are_not_duplicated() -> None:
    details = [
        {"type": "reasoning.text", "text": "think", "signature": "s", "index": 0},
        {"type": "reasoning.encrypted", "data": "enc", "index": 1},
    ]
    r = cc.decode_response(
        _reply(
            {
                "content": "42",
                "reasoning_content": "think",
                "reasoning": "think",
                "reasoning_details": details,
            }
        )
    )
    assert r.reasoning == [ReasoningPart(text="think", details=details)]


def test_images_in_message() -> None:
    msg = {
        "content": "here",
        "images": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}],
    }
    assert cc.decode_response(_reply(msg)).images == ["data:image/png;base64,AAA"]


def test_usage_details_and_cost() -> None:
    u = cc.decode_usage(
        {
            "prompt_tokens": 100.0,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 30},
            "completion_tokens_details": {"reasoning_tokens": 12.0},
            "cost": 0.0123,
        }
    )
    assert u == Usage(
        input_tokens=100,
        output_tokens=20,
        total_tokens=120,
        cache_read_tokens=60,
        cache_creation_tokens=30,
        reasoning_tokens=12,
        cost=0.0123,
    )
    assert isinstance(u.input_tokens, int) and isinstance(u.reasoning_tokens, int)


def test_usage_cost_as_string_and_cache_creation_alias() -> None:
    u = cc.decode_usage(
        {
            "prompt_tokens": 5,
            "completion_tokens": 1,
            "total_tokens": 6,
            "cache_creation_input_tokens": 4,
            "cost": "0.5",
        }
    )
    assert u is not None and u.cost == 0.5 and u.cache_creation_tokens == 4
    assert cc.decode_usage({"prompt_tokens": 1, "cost": "n/a"}).cost is None  # type: ignore[union-attr]
    assert cc.decode_usage(None) is None
    assert cc.decode_usage({}) is None


# --------------------------------------------------------------------------- chunks


def test_chunk_text_and_metadata() -> None:
    d = cc.decode_chunk(
        {
            "id": "1",
            "model": "openai/gpt-4o",
            "provider": "openai",
            "system_fingerprint": "fp",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "Hel"},
                    "finish_reason": None,
                }
            ],
        }
    )
    assert (d.text, d.id, d.model, d.provider, d.system_fingerprint) == (
        "Hel",
        "1",
        "openai/gpt-4o",
        "openai",
        "fp",
    )
    assert d.finish_reason is None and d.usage is None and d.tool_calls == []


def test_usage_only_chunk_with_empty_choices() -> None:
    d = cc.decode_chunk(
        {
            "id": "1",
            "choices": [],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        }
    )
    assert d.usage == Usage(input_tokens=7, output_tokens=3, total_tokens=10)
    assert d.text == "" and d.finish_reason is None


def test_chunk_reasoning_fields() -> None:
    d = cc.decode_chunk({"choices": [{"delta": {"reasoning_content": "a"}}]})
    assert d.reasoning_text == "a"
    d = cc.decode_chunk(
        {
            "choices": [
                {
                    "delta": {
                        "reasoning": "b",
                        "reasoning_details": [{"type": "reasoning.text", "text": "b", "index": 0}],
                    }
                }
            ]
        }
    )
    assert d.reasoning_text == "b" and d.reasoning_details == [
        {"type": "reasoning.text", "text": "b", "index": 0}
    ]
    d = cc.decode_chunk(
        {
            "choices": [
                {"delta": {"reasoning_details": [{"type": "reasoning.summary", "summary": "c"}]}}
            ]
        }
    )
    assert d.reasoning_text == "c"
    d = cc.decode_chunk({"choices": [{"delta": {"reasoning": None, "content": ""}}]})
    assert d.reasoning_text == "" and d.reasoning_details is None


def test_chunk_tool_fragments_tolerate_missing_index_and_function() -> None:
    d = cc.decode_chunk(
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {
                                "id": "a",
                                "type": "function",
                                "function": {"name": "f", "arguments": None},
                            },
                            {"id": "b"},
                            {"index": 5, "function": {"arguments": {"x": 1}}},
                        ]
                    }
                }
            ]
        }
    )
    assert [(t.index, t.id, t.name, t.arguments) for t in d.tool_calls] == [
        (0, "a", "f", ""),
        (1, "b", None, ""),
        (5, None, None, '{"x":1}'),
    ]


def test_chunk_finish_reason_and_images() -> None:
    d = cc.decode_chunk(
        {
            "choices": [
                {
                    "delta": {"images": [{"image_url": {"url": "data:image/png;base64,B"}}]},
                    "finish_reason": "stop",
                }
            ]
        }
    )
    assert d.images == ["data:image/png;base64,B"] and d.finish_reason == "stop"


def test_chunk_with_error_body_does_not_crash() -> None:
    d = cc.decode_chunk({"error": {"message": "boom"}})
    assert d.text == "" and d.usage is None


def test_chunk_must_be_an_object() -> None:
    with pytest.raises(WireFormatError):
        cc.decode_chunk("[DONE]")


def test_invalid_tool_call_type() -> None:
    r = cc.decode_response(
        _reply(
            {
                "content": None,
                "tool_calls": [{"id": "x", "function": {"name": "f", "arguments": "{oops"}}],
            }
        )
    )
    assert isinstance(r.invalid_tool_calls[0], InvalidToolCall)
    assert json.dumps(r.invalid_tool_calls[0].raw_arguments) == '"{oops"'
