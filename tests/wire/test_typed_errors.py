"""Every codec failure is typed (#16.4) and malformed is not empty (#16.6).

Each case is JSON a broken server could send; the decoder must raise WireFormatError whose
message names the route and the field, never KeyError/TypeError/OverflowError, and never
return the damage as an empty answer.
"""

# The case tables below keep one case per line so each reads as "name, input, expectation".
# ruff: noqa: E501

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from lunos_integrations.errors import WireFormatError
from lunos_integrations.wire import StreamAccumulator, embeddings
from lunos_integrations.wire import chat_completions as cc
from lunos_integrations.wire import messages as ms

CHAT_REPLY: dict[str, Any] = {
    "id": "gen-1",
    "model": "openai/gpt-4o",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
CHAT_CHUNK: dict[str, Any] = {
    "id": "gen-1",
    "choices": [
        {
            "index": 0,
            "delta": {
                "content": "hi",
                "tool_calls": [
                    {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": None,
        }
    ],
}
MSG_REPLY: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "anthropic/claude-sonnet-4",
    "content": [
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


def _set(base: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(base)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def _chunk_through_stream(body: Any) -> Any:
    acc = StreamAccumulator()
    acc.add(cc.ChunkDecoder().feed(body))
    return acc.result()


MSG = ("choices", 0, "message")
DELTA = ("choices", 0, "delta")

# (decoder, body, words the message must contain)
CASES: list[tuple[str, Callable[[Any], Any], Any, tuple[str, ...]]] = [
    # chat completions, non-streamed
    ("choices object", cc.decode_response, _set(CHAT_REPLY, ("choices",), {"0": {}}), ("choices", "object")),
    ("choice is a string", cc.decode_response, _set(CHAT_REPLY, ("choices", 0), "x"), ("choices",)),
    ("content number", cc.decode_response, _set(CHAT_REPLY, (*MSG, "content"), 5), ("message.content", "a number")),
    ("content object", cc.decode_response, _set(CHAT_REPLY, (*MSG, "content"), {"a": 1}), ("message.content", "an object")),
    ("content part number", cc.decode_response, _set(CHAT_REPLY, (*MSG, "content"), [1]), ("content[0]",)),
    ("tool_calls number", cc.decode_response, _set(CHAT_REPLY, (*MSG, "tool_calls"), 3), ("tool_calls", "an array")),
    ("tool_call string", cc.decode_response, _set(CHAT_REPLY, (*MSG, "tool_calls"), ["x"]), ("tool_calls[0]",)),
    ("tool id number", cc.decode_response, _set(CHAT_REPLY, (*MSG, "tool_calls", 0, "id"), 7), ("tool_calls[0].id", "a string")),
    ("tool name number", cc.decode_response, _set(CHAT_REPLY, (*MSG, "tool_calls", 0, "function", "name"), 7), ("function.name",)),
    ("function list", cc.decode_response, _set(CHAT_REPLY, (*MSG, "tool_calls", 0, "function"), []), ("function", "an object")),
    ("finish number", cc.decode_response, _set(CHAT_REPLY, ("choices", 0, "finish_reason"), 1), ("finish_reason",)),
    ("usage list", cc.decode_response, _set(CHAT_REPLY, ("usage",), [1]), ("usage", "an object")),
    ("usage count object", cc.decode_response, _set(CHAT_REPLY, ("usage", "prompt_tokens"), {}), ("usage.prompt_tokens",)),
    ("usage count bool", cc.decode_response, _set(CHAT_REPLY, ("usage", "total_tokens"), True), ("usage.total_tokens",)),
    ("usage count inf", cc.decode_response, _set(CHAT_REPLY, ("usage", "total_tokens"), float("inf")), ("total_tokens", "finite")),
    ("usage count negative", cc.decode_response, _set(CHAT_REPLY, ("usage", "total_tokens"), -1), ("non-negative",)),
    ("usage count text", cc.decode_response, _set(CHAT_REPLY, ("usage", "prompt_tokens"), "many"), ("prompt_tokens",)),
    ("id number", cc.decode_response, _set(CHAT_REPLY, ("id",), 5), ("Chat completion response id",)),
    ("model list", cc.decode_response, _set(CHAT_REPLY, ("model",), ["m"]), ("model",)),
    ("reasoning number", cc.decode_response, _set(CHAT_REPLY, (*MSG, "reasoning_content"), 1), ("reasoning_content",)),
    ("reasoning_details item", cc.decode_response, _set(CHAT_REPLY, (*MSG, "reasoning_details"), [3]), ("reasoning_details[0]",)),
    ("images number", cc.decode_response, _set(CHAT_REPLY, (*MSG, "images"), 3), ("images",)),
    # #16.6: no message object is malformed, not an empty answer
    ("message null", cc.decode_response, _set(CHAT_REPLY, MSG, None), ("message",)),
    ("message string", cc.decode_response, _set(CHAT_REPLY, MSG, "hi"), ("message",)),
    ("message missing", cc.decode_response, {"choices": [{"index": 0, "finish_reason": "stop"}]}, ("no 'message'",)),
    # chat completions, stream chunks
    ("chunk choices object", cc.decode_chunk, _set(CHAT_CHUNK, ("choices",), {"0": {}}), ("stream chunk choices", "an array")),
    ("chunk choices string", cc.decode_chunk, _set(CHAT_CHUNK, ("choices",), "abc"), ("choices",)),
    ("chunk choice list", cc.decode_chunk, _set(CHAT_CHUNK, ("choices", 0), [1]), ("choices[0]",)),
    ("chunk delta string", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA,), "x"), ("choices[0].delta",)),
    ("chunk tool_calls number", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls"), 3), ("delta.tool_calls", "an array")),
    ("chunk tool_calls object", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls"), {"a": 1}), ("tool_calls",)),
    ("chunk tool_call number", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls"), [3]), ("tool_calls[0]",)),
    ("chunk index string", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "index"), "0"), ("index",)),
    ("chunk index negative", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "index"), -1), ("index",)),
    ("chunk index bool", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "index"), True), ("index",)),
    ("chunk tool id number", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "id"), 9), ("tool_calls[0].id",)),
    ("chunk tool name number", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "function", "name"), 9), ("function.name",)),
    ("chunk arguments list", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "function", "arguments"), [1]), ("arguments",)),
    ("chunk function string", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "function"), "f"), ("function",)),
    ("chunk content number", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "content"), 5), ("delta.content",)),
    ("chunk content zero", cc.decode_chunk, _set(CHAT_CHUNK, (*DELTA, "content"), 0), ("delta.content",)),
    ("chunk finish number", cc.decode_chunk, _set(CHAT_CHUNK, ("choices", 0, "finish_reason"), 2), ("finish_reason",)),
    ("chunk usage string", cc.decode_chunk, _set(CHAT_CHUNK, ("usage",), "lots"), ("stream chunk usage",)),
    ("chunk model number", cc.decode_chunk, _set(CHAT_CHUNK, ("model",), 4), ("model",)),
    ("chunk via accumulator", _chunk_through_stream, _set(CHAT_CHUNK, (*DELTA, "tool_calls"), 3), ("tool_calls",)),
    # messages route, non-streamed
    ("msg content object", ms.decode_response, _set(MSG_REPLY, ("content",), {}), ("content",)),
    ("msg content missing", ms.decode_response, {k: v for k, v in MSG_REPLY.items() if k != "content"}, ("no 'content'",)),
    ("msg content null", ms.decode_response, _set(MSG_REPLY, ("content",), None), ("content",)),
    ("msg block number", ms.decode_response, _set(MSG_REPLY, ("content", 0), 5), ("content[0]", "an object")),
    ("msg block type number", ms.decode_response, _set(MSG_REPLY, ("content", 0, "type"), 5), ("content[0].type",)),
    ("msg text number", ms.decode_response, _set(MSG_REPLY, ("content", 0, "text"), 5), ("content[0].text",)),
    ("msg tool id number", ms.decode_response, _set(MSG_REPLY, ("content", 1, "id"), 123), ("content[1].id", "a number")),
    ("msg tool id missing", ms.decode_response, _set(MSG_REPLY, ("content", 1, "id"), None), ("content[1].id",)),
    ("msg tool name number", ms.decode_response, _set(MSG_REPLY, ("content", 1, "name"), 5), ("content[1].name",)),
    ("msg tool input list", ms.decode_response, _set(MSG_REPLY, ("content", 1, "input"), [1]), ("input",)),
    ("msg stop number", ms.decode_response, _set(MSG_REPLY, ("stop_reason",), 3), ("stop_reason",)),
    ("msg usage string", ms.decode_response, _set(MSG_REPLY, ("usage",), "x"), ("usage",)),
    ("msg usage count list", ms.decode_response, _set(MSG_REPLY, ("usage", "output_tokens"), [2]), ("output_tokens",)),
    ("msg id number", ms.decode_response, _set(MSG_REPLY, ("id",), 1), ("Messages response id",)),
    # embeddings
    ("emb overflow", embeddings.decode_response, {"data": [{"embedding": [10**400]}]}, ("finite",)),
    ("emb index string", embeddings.decode_response, {"data": [{"embedding": [1.0], "index": "0"}]}, ("index",)),
    ("emb usage list", embeddings.decode_response, {"data": [], "usage": [1]}, ("usage",)),
    ("emb model number", embeddings.decode_response, {"data": [], "model": 3}, ("model",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("decode", "body", "words"), [pytest.param(*c[1:], id=c[0]) for c in CASES]
)
def test_wrong_json_types_are_typed_errors(
    decode: Callable[[Any], Any], body: Any, words: tuple[str, ...]
) -> None:
    with pytest.raises(WireFormatError) as info:
        decode(body)
    message = str(info.value)
    for word in words:
        assert word in message, message
    assert any(r in message for r in ("Chat completion", "Messages", "Embeddings")), message


MSG_EVENTS: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("start block number", "content_block_start", {"index": 0, "content_block": 3}, ("content_block",)),
    ("start index string", "content_block_start", {"index": "0", "content_block": {"type": "text"}}, ("index",)),
    ("tool_use id number", "content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": 5, "name": "f", "input": {}}}, ("content_block.id", "a number")),
    ("tool_use name number", "content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "t", "name": 5, "input": {}}}, ("content_block.name",)),
    ("tool_use input list", "content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": [1]}}, ("input",)),
    ("text number", "content_block_start", {"index": 0, "content_block": {"type": "text", "text": 5}}, ("text",)),
    ("delta string", "content_block_delta", {"index": 0, "delta": "x"}, ("delta",)),
    ("text_delta number", "content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": 1}}, ("delta.text",)),
    ("partial_json number", "content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": 1}}, ("partial_json",)),
    ("thinking list", "content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": []}}, ("thinking",)),
    ("message_start message list", "message_start", {"message": []}, ("message",)),
    ("message_start id number", "message_start", {"message": {"id": 1}}, ("message.id",)),
    ("message_start usage bad", "message_start", {"message": {"usage": {"input_tokens": "x"}}}, ("input_tokens",)),
    ("message_delta delta list", "message_delta", {"delta": [], "usage": {}}, ("delta",)),
    ("message_delta stop number", "message_delta", {"delta": {"stop_reason": 1}}, ("stop_reason",)),
    ("message_delta usage number", "message_delta", {"delta": {}, "usage": 5}, ("usage",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "data", "words"), [pytest.param(*c[1:], id=c[0]) for c in MSG_EVENTS]
)
def test_messages_stream_wrong_types_are_typed_errors(
    event: str, data: Any, words: tuple[str, ...]
) -> None:
    with pytest.raises(WireFormatError) as info:
        ms.MessagesStreamDecoder().feed(event, data)
    message = str(info.value)
    assert f"Messages stream event {event!r}" in message, message
    for word in words:
        assert word in message, message


# ---------------------------------------------------------------- valid, not malformed


def test_empty_content_with_a_stop_reason_is_a_valid_empty_answer() -> None:
    result = cc.decode_response(_set(CHAT_REPLY, MSG, {"role": "assistant", "content": ""}))
    assert (result.text, result.finish_reason, result.tool_calls) == ("", "stop", [])
    null_content = cc.decode_response(_set(CHAT_REPLY, MSG, {"role": "assistant", "content": None}))
    assert null_content.text == "" and null_content.finish_reason == "stop"
    empty = ms.decode_response(_set(MSG_REPLY, ("content",), []))
    assert (empty.text, empty.finish_reason, empty.tool_calls) == ("", "tool_calls", [])
    ended = ms.decode_response({**_set(MSG_REPLY, ("content",), []), "stop_reason": "end_turn"})
    assert ended.text == "" and ended.finish_reason == "stop"


def test_legacy_text_choice_is_still_an_answer() -> None:
    result = cc.decode_response({"choices": [{"text": "old style", "finish_reason": "stop"}]})
    assert result.text == "old style"


def test_lenient_shapes_real_servers_send_stay_accepted() -> None:
    usage = {"prompt_tokens": "7", "completion_tokens": 2.0, "cost": "n/a"}
    result = cc.decode_response(_set(CHAT_REPLY, ("usage",), usage))
    assert result.usage is not None and (result.usage.input_tokens, result.usage.cost) == (7, None)
    parts = [{"type": "refusal", "refusal": "no"}, {"type": "text", "text": "ok"}, "!"]
    assert cc.decode_response(_set(CHAT_REPLY, (*MSG, "content"), parts)).text == "ok!"
    args_obj = _set(CHAT_CHUNK, (*DELTA, "tool_calls", 0, "function", "arguments"), {"a": 1})
    assert cc.decode_chunk(args_obj).tool_calls[0].arguments == '{"a":1}'
    assert cc.decode_chunk(_set(CHAT_CHUNK, (*DELTA, "content"), [])).text == ""
    unknown_block = {"type": "server_tool_use", "id": 5}
    assert ms.decode_response(_set(MSG_REPLY, ("content", 0), unknown_block)).text == ""


def test_deeply_nested_tool_arguments_are_an_invalid_call_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    result = cc.decode_response(
        _set(CHAT_REPLY, (*MSG, "tool_calls", 0, "function", "arguments"), deep)
    )
    assert result.tool_calls == []
    (bad,) = result.invalid_tool_calls
    assert "nested too deeply" in bad.error
