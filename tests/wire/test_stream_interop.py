"""Stream shapes real OpenAI-compatible servers send and the reference server does not (#13.4).

* ``tool_calls`` fragments without ``index`` (matched by id, else to the previous call);
* ``finish_reason`` missing on the last content chunk and sent on a later, empty chunk
  (and ``finish_reason: ""`` meaning "not yet");
* ``usage`` on a chunk that also carries content.
"""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations.wire import StreamAccumulator
from lunos_integrations.wire import chat_completions as cc
from lunos_integrations.wire.types import ChatResult, ToolCall, Usage


def _chunk(delta: dict[str, Any] | None = None, finish: Any = None, **top: Any) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "c1", "object": "chat.completion.chunk", "choices": [choice], **top}


def _call(
    id: str | None = None, name: str | None = None, args: str | None = None, **extra: Any
) -> dict[str, Any]:
    fn: dict[str, Any] = {}
    if name is not None:
        fn["name"] = name
    if args is not None:
        fn["arguments"] = args
    call: dict[str, Any] = {"type": "function", "function": fn, **extra}
    if id is not None:
        call["id"] = id
    return call


def _run(chunks: list[dict[str, Any]]) -> ChatResult:
    decoder = cc.ChunkDecoder()
    acc = StreamAccumulator()
    for chunk in chunks:
        acc.add(decoder.feed(chunk))
    return acc.result()


def test_one_call_without_index_over_several_chunks() -> None:
    result = _run(
        [
            _chunk({"role": "assistant", "tool_calls": [_call("call_a", "get_weather", "")]}),
            _chunk({"tool_calls": [_call(args='{"city": ')]}),
            _chunk({"tool_calls": [_call(args='"Rome"}')]}),
            _chunk(finish="tool_calls"),
        ]
    )
    assert result.tool_calls == [ToolCall("call_a", "get_weather", {"city": "Rome"})]
    assert result.invalid_tool_calls == [] and result.finish_reason == "tool_calls"


def test_parallel_calls_without_index_in_separate_chunks() -> None:
    # Without the id rule both calls would land on position 0 and merge into one.
    result = _run(
        [
            _chunk({"tool_calls": [_call("call_a", "get_weather", "")]}),
            _chunk({"tool_calls": [_call(args='{"city": "Rome"}')]}),
            _chunk({"tool_calls": [_call("call_b", "get_time", "")]}),
            _chunk({"tool_calls": [_call(args='{"city": "Oslo"}')]}),
            _chunk(finish="tool_calls"),
        ]
    )
    assert result.tool_calls == [
        ToolCall("call_a", "get_weather", {"city": "Rome"}),
        ToolCall("call_b", "get_time", {"city": "Oslo"}),
    ]


def test_complete_calls_without_index_in_one_chunk_and_ids_repeated() -> None:
    result = _run(
        [
            _chunk(
                {
                    "tool_calls": [
                        _call("call_a", "get_weather", '{"city": "Rome"}'),
                        _call("call_b", "get_time", '{"city":'),
                    ]
                }
            ),
            # A server that repeats the id on every fragment of the same call.
            _chunk({"tool_calls": [_call("call_b", args=' "Oslo"}')]}),
            _chunk(finish="tool_calls"),
        ]
    )
    assert [(c.id, c.arguments) for c in result.tool_calls] == [
        ("call_a", {"city": "Rome"}),
        ("call_b", {"city": "Oslo"}),
    ]


def test_mixed_index_and_index_less_fragments() -> None:
    result = _run(
        [
            _chunk({"tool_calls": [_call("call_a", "get_weather", "", index=0)]}),
            _chunk({"tool_calls": [_call(args='{"city": "Rome"}')]}),  # continues index 0
            _chunk({"tool_calls": [_call("call_b", "get_time", '{"city": "Oslo"}')]}),  # new: 1
            _chunk({"tool_calls": [_call("call_c", "get_time", "{}", index=5)]}),
            _chunk({"tool_calls": [_call("call_d", "get_weather", "{}")]}),  # after 5: 6
            _chunk(finish="tool_calls"),
        ]
    )
    assert [c.id for c in result.tool_calls] == ["call_a", "call_b", "call_c", "call_d"]
    assert result.tool_calls[0].arguments == {"city": "Rome"}


def test_stateless_decode_chunk_still_uses_the_position() -> None:
    delta = cc.decode_chunk(_chunk({"tool_calls": [_call("a", "f"), _call("b", "g")]}))
    assert [c.index for c in delta.tool_calls] == [0, 1]


def test_finish_reason_on_a_later_empty_chunk() -> None:
    result = _run(
        [
            _chunk({"role": "assistant", "content": "Hel"}),
            _chunk({"content": "lo"}),  # last content chunk: no finish_reason
            _chunk({}, finish="stop"),  # empty delta carries it
            {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
        ]
    )
    assert (result.text, result.finish_reason) == ("Hello", "stop")
    assert result.usage == Usage(input_tokens=3, output_tokens=2, total_tokens=5)


@pytest.mark.parametrize("pending", ["", None])
def test_empty_string_finish_reason_means_not_yet(pending: str | None) -> None:
    decoder = cc.ChunkDecoder()
    assert decoder.feed(_chunk({"content": "a"}, finish=pending)).finish_reason is None
    # finish without a delta object at all
    no_delta = {"choices": [{"index": 0, "finish_reason": "length"}]}
    assert decoder.feed(no_delta).finish_reason == "length"


def test_usage_on_a_chunk_that_also_has_content() -> None:
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    delta = cc.decode_chunk(_chunk({"content": "Hi"}, finish="stop", usage=usage))
    assert (delta.text, delta.finish_reason) == ("Hi", "stop")
    assert delta.usage == Usage(input_tokens=4, output_tokens=2, total_tokens=6)
    result = _run([_chunk({"content": "Hi"}, finish="stop", usage=usage)])
    assert result.text == "Hi" and result.usage == delta.usage


def test_cumulative_usage_on_every_chunk_is_not_summed() -> None:
    chunks = [
        _chunk({"content": "a"}, usage={"prompt_tokens": 4, "completion_tokens": 1}),
        _chunk({"content": "b"}, usage={"prompt_tokens": 4, "completion_tokens": 2}),
        _chunk({}, finish="stop", usage={"prompt_tokens": 4, "completion_tokens": 3}),
    ]
    result = _run(chunks)
    assert result.usage == Usage(input_tokens=4, output_tokens=3, total_tokens=7)
