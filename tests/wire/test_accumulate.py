"""Accumulating a stream must give the same ChatResult as the non-streamed reply."""

from __future__ import annotations

import dataclasses
from typing import Any

from lunos_integrations.wire import StreamAccumulator
from lunos_integrations.wire import chat_completions as cc
from lunos_integrations.wire import messages as ms
from lunos_integrations.wire.accumulate import merge_reasoning_details
from lunos_integrations.wire.types import ChatDelta, ChatResult, ReasoningPart, ToolCallDelta

from .test_messages_decode import FULL_REPLY, stream_events


def _without_raw(result: ChatResult) -> ChatResult:
    return dataclasses.replace(result, raw=None)


DETAILS_FULL = [
    {
        "type": "reasoning.text",
        "text": "Weather and time.",
        "signature": "sig",
        "format": "anthropic-claude-v1",
        "index": 0,
    }
]

CHAT_REPLY: dict[str, Any] = {
    "id": "gen-7",
    "object": "chat.completion",
    "model": "anthropic/claude-sonnet-4",
    "provider": "anthropic",
    "system_fingerprint": "fp_9",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Checking.",
                "reasoning": "Weather and time.",
                "reasoning_details": DETAILS_FULL,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": '{"city":"Oslo"}'},
                    },
                    {
                        "id": "call_c",
                        "type": "function",
                        "function": {"name": "broken", "arguments": '{"x":'},
                    },
                ],
                "images": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 50,
        "completion_tokens": 30,
        "total_tokens": 80,
        "completion_tokens_details": {"reasoning_tokens": 8},
        "cost": 0.001,
    },
}


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "gen-7",
        "object": "chat.completion.chunk",
        "model": "anthropic/claude-sonnet-4",
        "provider": "anthropic",
        "system_fingerprint": "fp_9",
    }
    base["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    base.update(extra)
    return base


def _tc(index: int, args: str, id: str | None = None, name: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if id:
        call["id"] = id
        call["type"] = "function"
        call["function"]["name"] = name
    return call


CHAT_CHUNKS: list[dict[str, Any]] = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk(
        {
            "reasoning": "Weather ",
            "reasoning_details": [
                {
                    "type": "reasoning.text",
                    "text": "Weather ",
                    "format": "anthropic-claude-v1",
                    "index": 0,
                }
            ],
        }
    ),
    _chunk(
        {
            "reasoning": "and time.",
            "reasoning_details": [{"type": "reasoning.text", "text": "and time.", "index": 0}],
        }
    ),
    _chunk({"reasoning_details": [{"type": "reasoning.text", "signature": "sig", "index": 0}]}),
    _chunk({"content": "Check"}),
    _chunk({"content": "ing."}),
    # two parallel tool calls whose fragments interleave, plus a malformed one
    _chunk({"tool_calls": [_tc(0, "", id="call_a", name="get_weather")]}),
    _chunk({"tool_calls": [_tc(1, '{"ci', id="call_b", name="get_time")]}),
    _chunk({"tool_calls": [_tc(0, '{"city":')]}),
    _chunk({"tool_calls": [_tc(1, 'ty":"Oslo"}')]}),
    _chunk({"tool_calls": [_tc(0, '"Paris"}'), _tc(2, '{"x":', id="call_c", name="broken")]}),
    _chunk({"images": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}}]}),
    _chunk({}, finish="tool_calls"),
    {
        "id": "gen-7",
        "object": "chat.completion.chunk",
        "model": "anthropic/claude-sonnet-4",
        "choices": [],
        "usage": CHAT_REPLY["usage"],
    },
]


def test_chat_stream_equals_non_streamed_reply() -> None:
    acc = StreamAccumulator()
    for chunk in CHAT_CHUNKS:
        acc.add(cc.decode_chunk(chunk))
    streamed = acc.result()
    expected = _without_raw(cc.decode_response(CHAT_REPLY))
    assert streamed == expected
    # and the pieces are what they should be
    assert [t.name for t in streamed.tool_calls] == ["get_weather", "get_time"]
    assert streamed.invalid_tool_calls[0].id == "call_c"
    assert streamed.reasoning == [ReasoningPart(text="Weather and time.", details=DETAILS_FULL)]
    assert streamed.usage is not None and streamed.usage.reasoning_tokens == 8


def test_messages_stream_equals_non_streamed_reply() -> None:
    dec = ms.MessagesStreamDecoder()
    acc = StreamAccumulator()
    for event, data in stream_events():
        delta = dec.feed(event, data)
        if delta is not None:
            acc.add(delta)
    assert acc.result() == _without_raw(ms.decode_response(FULL_REPLY))


def test_two_signed_thinking_blocks_stay_separate() -> None:
    acc = StreamAccumulator()
    for d in [
        ChatDelta(reasoning_text="one"),
        ChatDelta(reasoning_signature="s1"),
        ChatDelta(reasoning_text="two"),
        ChatDelta(reasoning_signature="s2"),
    ]:
        acc.add(d)
    assert acc.result().reasoning == [
        ReasoningPart(text="one", signature="s1"),
        ReasoningPart(text="two", signature="s2"),
    ]


def test_last_non_none_wins_and_result_is_repeatable() -> None:
    acc = StreamAccumulator()
    acc.add(ChatDelta(id="a", model="m1", finish_reason=None))
    acc.add(ChatDelta(id=None, model="m2", finish_reason="stop"))
    acc.add(ChatDelta(tool_calls=[ToolCallDelta(index=3, id="x", name="f")]))
    first = acc.result()
    assert (first.id, first.model, first.finish_reason) == ("a", "m2", "stop")
    assert first.tool_calls[0].arguments == {}
    assert acc.result() == first


def test_merge_reasoning_details_does_not_mutate_input() -> None:
    frag = {"type": "reasoning.text", "text": "a", "index": 0}
    into: list[dict[str, Any]] = []
    merge_reasoning_details(into, [frag])
    merge_reasoning_details(
        into,
        [
            {"type": "reasoning.text", "text": "b", "index": 0},
            {"type": "reasoning.encrypted", "data": "z"},
        ],
    )
    assert into == [
        {"type": "reasoning.text", "text": "ab", "index": 0},
        {"type": "reasoning.encrypted", "data": "z"},
    ]
    assert frag == {"type": "reasoning.text", "text": "a", "index": 0}


def test_empty_stream() -> None:
    assert StreamAccumulator().result() == ChatResult(text="")
