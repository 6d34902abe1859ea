"""Property tests (#16.4): whatever JSON arrives, decoders give a valid result or a typed error.

Targets: both routes' reply decoders, both routes' stream decoders (chunk by chunk, the
way the client feeds them), the stream accumulator fed what those decoders let through,
and the embeddings decoder. Inputs are arbitrary JSON (with keys drawn mostly from the
routes' own vocabulary, so the generator reaches deep fields) and JSON-shaped mutations
of real replies (a value replaced by arbitrary JSON, a key dropped, a value wrapped in a
list). The only exception allowed out is :class:`WireFormatError`; anything returned must
be well-typed enough for the adapters (strings where strings go, non-negative ints...).

Examples per target default to 100 (deterministic, for CI); set ``LUNOS_HYPOTHESIS_EXAMPLES``
to run more (and ``LUNOS_HYPOTHESIS_RANDOM=1`` for a fresh random seed each run).
"""

from __future__ import annotations

# The sample event table keeps one event per line.
# ruff: noqa: E501
import copy
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunos_integrations.errors import WireFormatError
from lunos_integrations.wire import StreamAccumulator, embeddings
from lunos_integrations.wire import chat_completions as cc
from lunos_integrations.wire import messages as ms
from lunos_integrations.wire.types import (
    ChatDelta,
    ChatResult,
    EmbeddingResult,
    InvalidToolCall,
    ReasoningPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

pytestmark = pytest.mark.timeout(300)

EXAMPLES = int(os.environ.get("LUNOS_HYPOTHESIS_EXAMPLES", "100"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("LUNOS_HYPOTHESIS_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

# --------------------------------------------------------------------------- strategies

KEYS = [
    "choices", "message", "delta", "content", "tool_calls", "function", "name", "arguments",
    "id", "index", "type", "text", "finish_reason", "usage", "prompt_tokens",
    "completion_tokens", "total_tokens", "input_tokens", "output_tokens", "cost", "model",
    "provider", "system_fingerprint", "reasoning", "reasoning_content", "reasoning_details",
    "summary", "images", "image_url", "url", "function_call", "prompt_tokens_details",
    "cached_tokens", "completion_tokens_details", "reasoning_tokens", "data", "stop_reason",
    "input", "thinking", "signature", "content_block", "partial_json",
    "cache_read_input_tokens", "cache_creation_input_tokens", "embedding", "error", "role",
]  # fmt: skip
TYPES = [
    "text", "tool_use", "thinking", "redacted_thinking", "text_delta", "input_json_delta",
    "thinking_delta", "signature_delta", "function", "output_text", "refusal", "error",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(TYPES)
    | st.sampled_from(["stop", "tool_calls", "", "end_turn", "{}", '{"a": 1}', "{"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)

CHAT_REPLY: dict[str, Any] = {
    "id": "gen-1",
    "object": "chat.completion",
    "model": "openai/gpt-4o",
    "provider": "openai",
    "system_fingerprint": "fp",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "reasoning": "think",
                "reasoning_details": [{"type": "reasoning.text", "text": "think", "index": 0}],
                "images": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,A"}}],
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x": 1}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 3,
        "completion_tokens": 1,
        "total_tokens": 4,
        "prompt_tokens_details": {"cached_tokens": 1},
        "completion_tokens_details": {"reasoning_tokens": 1},
        "cost": 0.001,
    },
}
CHAT_CHUNKS: list[dict[str, Any]] = [
    {"id": "g", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant"}}]},
    {"id": "g", "choices": [{"index": 0, "delta": {"content": "Hel", "reasoning": "r"}}]},
    {
        "id": "g",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a'}}
                    ]
                },
            }
        ],
    },
    {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": '": 1}'}}]}}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
]
MSG_REPLY: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "anthropic/claude-sonnet-4",
    "content": [
        {"type": "thinking", "thinking": "hm", "signature": "s"},
        {"type": "redacted_thinking", "data": "xx"},
        {"type": "text", "text": "hi"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 3, "output_tokens": 1, "cache_read_input_tokens": 2},
}
MSG_EVENTS: list[tuple[str, dict[str, Any]]] = [
    ("message_start", {"type": "message_start", "message": {"id": "m", "model": "x", "usage": {"input_tokens": 3}}}),
    ("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
    ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}),
    ("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "s"}}),
    ("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "hi"}}),
    ("content_block_start", {"index": 2, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}}),
    ("content_block_delta", {"index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'}}),
    ("content_block_stop", {"index": 2}),
    ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}}),
    ("message_stop", {}),
]  # fmt: skip
EVENT_NAMES = sorted({name for name, _ in MSG_EVENTS} | {"ping", "error", "unknown_event"})
EMB_REPLY: dict[str, Any] = {
    "object": "list",
    "model": "openai/text-embedding-3-small",
    "data": [{"index": 1, "embedding": [0.5, -1]}, {"index": 0, "embedding": [1.0, 2.0]}],
    "usage": {"prompt_tokens": 2, "total_tokens": 2},
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.extend(_paths(child, (*prefix, i)))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with 1-3 JSON-shaped mutations at random places."""
    value = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(value)))
        action = draw(st.sampled_from(["replace", "replace", "drop", "wrap", "null"]))
        if not path:
            value = draw(json_values) if action == "replace" else [value]
            continue
        parent: Any = value
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "null":
            parent[key] = None
        elif action == "wrap":
            parent[key] = [parent[key]]
        elif isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    return value


# --------------------------------------------------------------------------- validity checks


def _opt_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _check_usage(usage: Usage | None) -> None:
    if usage is None:
        return
    assert isinstance(usage, Usage)
    for name in (
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "reasoning_tokens",
    ):
        count = getattr(usage, name)
        assert type(count) is int and count >= 0, (name, count)
    assert usage.cost is None or (type(usage.cost) is float and math.isfinite(usage.cost))


def _check_reasoning(parts: list[ReasoningPart]) -> None:
    for part in parts:
        assert isinstance(part.text, str)
        assert _opt_str(part.signature) and _opt_str(part.redacted_data)
        assert part.details is None or all(isinstance(d, dict) for d in part.details)


def check_result(result: ChatResult) -> None:
    assert isinstance(result, ChatResult)
    assert isinstance(result.text, str)
    for call in result.tool_calls:
        assert isinstance(call, ToolCall)
        assert isinstance(call.id, str) and isinstance(call.name, str) and call.name
        assert isinstance(call.arguments, dict)
    for bad in result.invalid_tool_calls:
        assert isinstance(bad, InvalidToolCall)
        assert _opt_str(bad.id) and _opt_str(bad.name) and _opt_str(bad.raw_arguments)
        assert isinstance(bad.error, str) and bad.error
    assert result.finish_reason is None or (
        isinstance(result.finish_reason, str) and result.finish_reason
    )
    _check_usage(result.usage)
    _check_reasoning(result.reasoning)
    for value in (result.id, result.model, result.provider, result.system_fingerprint):
        assert _opt_str(value)
    assert all(isinstance(url, str) for url in result.images)


def check_delta(delta: ChatDelta | None) -> None:
    if delta is None:
        return
    assert isinstance(delta, ChatDelta)
    assert isinstance(delta.text, str) and isinstance(delta.reasoning_text, str)
    assert _opt_str(delta.reasoning_signature) and _opt_str(delta.redacted_reasoning)
    assert delta.reasoning_details is None or all(
        isinstance(d, dict) for d in delta.reasoning_details
    )
    for frag in delta.tool_calls:
        assert isinstance(frag, ToolCallDelta)
        assert type(frag.index) is int and frag.index >= 0
        assert _opt_str(frag.id) and _opt_str(frag.name) and isinstance(frag.arguments, str)
    assert delta.finish_reason is None or (
        isinstance(delta.finish_reason, str) and delta.finish_reason
    )
    _check_usage(delta.usage)
    for value in (delta.id, delta.model, delta.provider, delta.system_fingerprint):
        assert _opt_str(value)
    assert all(isinstance(url, str) for url in delta.images)


def check_embeddings(result: EmbeddingResult) -> None:
    assert isinstance(result, EmbeddingResult)
    for vector in result.vectors:
        assert all(type(x) is float and math.isfinite(x) for x in vector)
    assert _opt_str(result.model)
    _check_usage(result.usage)


def _outcome(fn: Any, *args: Any) -> Any:
    """Call ``fn``; a WireFormatError is a fine outcome (returned as ``None``)."""
    try:
        return fn(*args)
    except WireFormatError as exc:
        assert str(exc)  # typed *and* says something
        return None


# --------------------------------------------------------------------------- chat route


@PROPERTY
@given(st.one_of(json_values, json_objects, mutated(CHAT_REPLY)))
def test_chat_reply_decoder(body: Any) -> None:
    result = _outcome(cc.decode_response, body)
    if result is not None:
        check_result(result)


def _chat_stream(chunks: list[Any]) -> None:
    decoder = cc.ChunkDecoder()
    acc = StreamAccumulator()
    for chunk in chunks:
        delta = _outcome(decoder.feed, chunk)
        if delta is not None:
            check_delta(delta)
            acc.add(delta)
            check_result(acc.result())  # mid-stream results are valid too
    check_result(acc.result())


@PROPERTY
@given(st.lists(st.one_of(json_values, json_objects), max_size=6))
def test_chat_chunk_decoder_and_accumulator_arbitrary(chunks: list[Any]) -> None:
    _chat_stream(chunks)


@PROPERTY
@given(st.data())
def test_chat_chunk_decoder_and_accumulator_mutated(data: st.DataObject) -> None:
    chunks = [data.draw(mutated(c)) if data.draw(st.booleans()) else c for c in CHAT_CHUNKS]
    _chat_stream(chunks)


# --------------------------------------------------------------------------- messages route


@PROPERTY
@given(st.one_of(json_values, json_objects, mutated(MSG_REPLY)))
def test_messages_reply_decoder(body: Any) -> None:
    result = _outcome(ms.decode_response, body)
    if result is not None:
        check_result(result)


def _messages_stream(events: list[tuple[str | None, Any]]) -> None:
    decoder = ms.MessagesStreamDecoder()
    acc = StreamAccumulator()
    for name, data in events:
        delta = _outcome(decoder.feed, name, data)
        if delta is not None:
            check_delta(delta)
            acc.add(delta)
    check_result(acc.result())


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.none() | st.sampled_from(EVENT_NAMES),
            st.one_of(json_values, json_objects, st.text(max_size=20)),
        ),
        max_size=6,
    )
)
def test_messages_stream_decoder_arbitrary(events: list[tuple[str | None, Any]]) -> None:
    _messages_stream(events)


@PROPERTY
@given(st.data())
def test_messages_stream_decoder_mutated(data: st.DataObject) -> None:
    events: list[tuple[str | None, Any]] = [
        (name, data.draw(mutated(payload)) if data.draw(st.booleans()) else payload)
        for name, payload in MSG_EVENTS
    ]
    _messages_stream(events)


# --------------------------------------------------------------------------- embeddings


@PROPERTY
@given(st.one_of(json_values, json_objects, mutated(EMB_REPLY)))
def test_embeddings_decoder(body: Any) -> None:
    result = _outcome(embeddings.decode_response, body)
    if result is not None:
        check_embeddings(result)


# --------------------------------------------------------------------------- sanity


def test_unmutated_samples_decode() -> None:
    """The seeds of the mutation strategies are valid, so mutations start from real replies."""
    check_result(cc.decode_response(CHAT_REPLY))
    _chat_stream(CHAT_CHUNKS)
    check_result(ms.decode_response(MSG_REPLY))
    decoder = ms.MessagesStreamDecoder()
    acc = StreamAccumulator()
    for name, payload in MSG_EVENTS:
        delta = decoder.feed(name, payload)
        if delta is not None:
            acc.add(delta)
    assert acc.result().tool_calls == [ToolCall("t", "f", {"a": 1})]
    assert embeddings.decode_response(EMB_REPLY).vectors == [[1.0, 2.0], [0.5, -1.0]]
