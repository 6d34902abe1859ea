"""Decoding of Anthropic Messages replies and of the Messages SSE event sequence."""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations.errors import WireFormatError
from lunos_integrations.wire import messages as ms
from lunos_integrations.wire.types import ReasoningPart, ToolCall, ToolCallDelta, Usage

FULL_REPLY: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Need weather and time.", "signature": "sig-A"},
        {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"},
        {"type": "text", "text": "Checking "},
        {"type": "text", "text": "both."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {
            "type": "tool_use",
            "id": "toolu_2",
            "name": "get_time",
            "input": {"city": "Paris", "tz": True},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "cache_read_input_tokens": 100,
        "cache_creation_input_tokens": 30,
        "output_tokens": 40,
        "service_tier": "standard",
    },
}


def test_full_reply() -> None:
    r = ms.decode_response(FULL_REPLY)
    assert r.text == "Checking both."
    assert r.reasoning == [
        ReasoningPart(text="Need weather and time.", signature="sig-A"),
        ReasoningPart(redacted_data="ZW5jcnlwdGVk"),
    ]
    assert r.tool_calls == [
        ToolCall(id="toolu_1", name="get_weather", arguments={"city": "Paris"}),
        ToolCall(id="toolu_2", name="get_time", arguments={"city": "Paris", "tz": True}),
    ]
    assert r.finish_reason == "tool_calls"
    assert r.raw is FULL_REPLY and r.raw["stop_reason"] == "tool_use"
    # neutral input always includes the cache
    assert r.usage == Usage(
        input_tokens=142,
        output_tokens=40,
        total_tokens=182,
        cache_read_tokens=100,
        cache_creation_tokens=30,
    )
    assert (r.id, r.model) == ("msg_01", "claude-sonnet-4-5")


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "refusal"),
        ("pause_turn", "pause_turn"),
        (None, None),
    ],
)
def test_stop_reason_mapping(reason: str | None, expected: str | None) -> None:
    body = {
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": reason,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert ms.decode_response(body).finish_reason == expected


def test_unknown_blocks_and_fields_are_ignored() -> None:
    body = {
        "content": [
            {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {}},
            {"type": "text", "text": "hi", "citations": None},
        ],
        "container": None,
        "stop_reason": "end_turn",
    }
    r = ms.decode_response(body)
    assert r.text == "hi" and r.tool_calls == [] and r.usage is None


def test_error_and_shapeless_bodies() -> None:
    with pytest.raises(WireFormatError, match="overloaded"):
        ms.decode_response(
            {"type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}}
        )
    with pytest.raises(WireFormatError, match="no 'content' list"):
        ms.decode_response({"id": "x", "content": None})
    with pytest.raises(WireFormatError):
        ms.decode_response("nope")


# --------------------------------------------------------------------------- streaming


def stream_events() -> list[tuple[str, dict[str, Any]]]:
    """The streamed form of FULL_REPLY, with the two tool_use blocks at indices 4 and 5."""
    return [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "content": [],
                    "stop_reason": None,
                    "usage": {
                        "input_tokens": 12,
                        "cache_read_input_tokens": 100,
                        "cache_creation_input_tokens": 30,
                        "output_tokens": 1,
                    },
                },
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Need weather "},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "and time."},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "sig-A"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "text_delta", "text": "Checking "},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 3,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "text_delta", "text": "both."},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 3}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 4,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 4,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 4,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 4,
                "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 4}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 5,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_2",
                    "name": "get_time",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 5,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": "Paris", '},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 5,
                "delta": {"type": "input_json_delta", "partial_json": '"tz": true}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 5}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 40},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_stream_decoder_full_sequence() -> None:
    dec = ms.MessagesStreamDecoder()
    deltas = []
    for event, data in stream_events():
        assert not dec.finished
        d = dec.feed(event, data)
        if d is not None:
            deltas.append(d)
    assert dec.finished

    assert deltas[0].id == "msg_01" and deltas[0].model == "claude-sonnet-4-5"
    assert "".join(d.reasoning_text for d in deltas) == "Need weather and time."
    assert [d.reasoning_signature for d in deltas if d.reasoning_signature] == ["sig-A"]
    assert [d.redacted_reasoning for d in deltas if d.redacted_reasoning] == ["ZW5jcnlwdGVk"]
    assert "".join(d.text for d in deltas) == "Checking both."
    frags = [t for d in deltas for t in d.tool_calls]
    assert frags[0] == ToolCallDelta(index=0, id="toolu_1", name="get_weather", arguments="")
    assert {f.index for f in frags} == {0, 1}
    assert [f for f in frags if f.id] == [
        ToolCallDelta(index=0, id="toolu_1", name="get_weather"),
        ToolCallDelta(index=1, id="toolu_2", name="get_time"),
    ]
    usages = [d.usage for d in deltas if d.usage is not None]
    assert usages == [
        Usage(
            input_tokens=142,
            output_tokens=40,
            total_tokens=182,
            cache_read_tokens=100,
            cache_creation_tokens=30,
        )
    ]
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["tool_calls"]


def test_stream_decoder_accepts_event_from_data_type_and_json_text() -> None:
    dec = ms.MessagesStreamDecoder()
    d = dec.feed(
        None, '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}'
    )
    assert d is not None and d.text == "hi"
    assert dec.feed(None, {"type": "message_stop"}) is None
    assert dec.finished


def test_stream_decoder_tolerates_error_ping_and_unknown_events() -> None:
    dec = ms.MessagesStreamDecoder()
    assert (
        dec.feed("error", {"type": "error", "error": {"type": "overloaded_error", "message": "x"}})
        is None
    )
    assert dec.feed("ping", {"type": "ping"}) is None
    assert dec.feed("something_new", {"type": "something_new"}) is None
    assert (
        dec.feed(
            "content_block_delta",
            {"index": 0, "delta": {"type": "citations_delta", "citation": {}}},
        )
        is None
    )


def test_usage_is_emitted_once_even_without_message_delta() -> None:
    dec = ms.MessagesStreamDecoder()
    dec.feed(
        "message_start", {"message": {"id": "m", "usage": {"input_tokens": 5, "output_tokens": 1}}}
    )
    d = dec.feed("message_stop", {"type": "message_stop"})
    assert d is not None and d.usage == Usage(input_tokens=5, output_tokens=1, total_tokens=6)
    assert dec.finished


def test_message_delta_usage_with_cumulative_input_counts() -> None:
    dec = ms.MessagesStreamDecoder()
    dec.feed("message_start", {"message": {"usage": {"input_tokens": 5, "output_tokens": 1}}})
    d = dec.feed(
        "message_delta",
        {
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 5, "cache_read_input_tokens": 10, "output_tokens": 9},
        },
    )
    assert d is not None and d.usage == Usage(
        input_tokens=15, output_tokens=9, total_tokens=24, cache_read_tokens=10
    )
    d2 = dec.feed("message_delta", {"delta": {}, "usage": {"output_tokens": 10}})
    assert d2 is not None and d2.usage is None
    assert dec.feed("message_stop", {}) is None


def test_bad_event_json_is_a_wire_format_error() -> None:
    with pytest.raises(WireFormatError):
        ms.MessagesStreamDecoder().feed("content_block_delta", "{not json")
