"""Both adapters, end to end over HTTP, on shapes real servers send (#13.4) and malformed
replies (#16.4, #16.6), using the local server's scripted replies.

* stream ``tool_calls`` without ``index`` (two parallel calls in separate chunks);
* ``finish_reason`` only on a later, empty chunk; ``usage`` on a chunk with content;
* malformed replies surface as our typed errors, never as an empty answer or a framework
  validation error (e.g. a numeric ``tool_use`` id on the Messages route).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lunos_integrations.errors import APIResponseValidationError, LunosError
from lunos_integrations.testing import JSONReply, LocalLunosServer, StreamReply

pytestmark = pytest.mark.timeout(60)

CHAT_MODEL = "openai/gpt-4o-mini"
MSG_MODEL = "anthropic/claude-sonnet-4"


def _chunk(delta: dict[str, Any] | None = None, finish: Any = None, **top: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "chatcmpl-x", "model": CHAT_MODEL, "choices": [choice], **top}


def _call(id: str | None, name: str | None, args: str) -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    call: dict[str, Any] = {"type": "function", "function": fn}
    if id is not None:
        call["id"] = id
    return call


INDEXLESS_TOOLS: list[Any] = [
    _chunk({"role": "assistant", "tool_calls": [_call("call_a", "get_weather", "")]}),
    _chunk({"tool_calls": [_call(None, None, '{"city": "Rome"}')]}),
    _chunk({"tool_calls": [_call("call_b", "get_time", "")]}),
    _chunk({"tool_calls": [_call(None, None, '{"city": "Oslo"}')]}),
    _chunk({}, finish="tool_calls"),
    "[DONE]",
]
LATE_FINISH_USAGE_WITH_CONTENT: list[Any] = [
    _chunk({"role": "assistant", "content": "Hel"}),
    _chunk({"content": "lo"}),
    _chunk({}, finish="stop"),
    _chunk({"content": "!"}, usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}),
    "[DONE]",
]
EXPECTED_CALLS = [
    ("call_a", "get_weather", {"city": "Rome"}),
    ("call_b", "get_time", {"city": "Oslo"}),
]


def _chat_lunos(server: LocalLunosServer, model: str = CHAT_MODEL, **kw: Any) -> Any:
    from lunos_integrations.langchain import ChatLunos

    return ChatLunos(
        model=model, base_url=server.base_url, api_key=server.api_key, max_retries=0, **kw
    )


def _lunos_llm(server: LocalLunosServer, model: str = CHAT_MODEL, **kw: Any) -> Any:
    from lunos_integrations.llama_index import LunosLLM

    return LunosLLM(
        model=model, base_url=server.base_url, api_key=server.api_key, max_retries=0, **kw
    )


def _lc_full(chunks: list[Any]) -> Any:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


# --------------------------------------------------------------------------- ChatLunos


def test_chatlunos_stream_index_less_parallel_tool_calls(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(StreamReply(INDEXLESS_TOOLS))
    full = _lc_full(list(_chat_lunos(lunos_server).stream("weather and time")))
    assert [(c["id"], c["name"], c["args"]) for c in full.tool_calls] == EXPECTED_CALLS
    assert full.invalid_tool_calls == []
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_chatlunos_astream_late_finish_and_usage_with_content(
    lunos_server: LocalLunosServer,
) -> None:
    lunos_server.enqueue(StreamReply(LATE_FINISH_USAGE_WITH_CONTENT))
    model = _chat_lunos(lunos_server)

    async def run() -> list[Any]:
        return [c async for c in model.astream("hi")]

    full = _lc_full(asyncio.run(run()))
    assert full.content == "Hello!"
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.usage_metadata["input_tokens"] == 5
    assert full.usage_metadata["output_tokens"] == 3


# --------------------------------------------------------------------------- LunosLLM


def test_lunosllm_stream_chat_index_less_parallel_tool_calls(
    lunos_server: LocalLunosServer,
) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    lunos_server.enqueue(StreamReply(INDEXLESS_TOOLS))
    llm = _lunos_llm(lunos_server)
    *_, last = llm.stream_chat([ChatMessage(role="user", content="weather and time")])
    calls = llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)
    assert [(c.tool_id, c.tool_name, c.tool_kwargs) for c in calls] == EXPECTED_CALLS


def test_lunosllm_astream_chat_late_finish_and_usage_with_content(
    lunos_server: LocalLunosServer,
) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    lunos_server.enqueue(StreamReply(LATE_FINISH_USAGE_WITH_CONTENT))
    llm = _lunos_llm(lunos_server)

    async def run() -> list[Any]:
        stream = await llm.astream_chat([ChatMessage(role="user", content="hi")])
        return [r async for r in stream]

    last = asyncio.run(run())[-1]
    assert last.message.content == "Hello!"
    extra = last.additional_kwargs
    assert (extra["prompt_tokens"], extra["completion_tokens"], extra["total_tokens"]) == (5, 3, 8)
    assert extra["finish_reason"] == "stop"


# --------------------------------------------------------------------------- malformed replies

NULL_MESSAGE = {
    "id": "x",
    "model": CHAT_MODEL,
    "choices": [{"index": 0, "message": None, "finish_reason": "stop"}],
}
NUMERIC_TOOL_USE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": MSG_MODEL,
    "content": [{"type": "tool_use", "id": 12345, "name": "get_weather", "input": {}}],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


@pytest.mark.parametrize(
    ("api", "model", "reply", "words"),
    [
        ("chat_completions", CHAT_MODEL, NULL_MESSAGE, "message"),
        ("chat_completions", CHAT_MODEL, {"choices": {"0": {}}}, "choices"),
        ("messages", MSG_MODEL, NUMERIC_TOOL_USE, "content[0].id"),
        (
            "messages",
            MSG_MODEL,
            {"id": "m", "type": "message", "stop_reason": "end_turn"},
            "content",
        ),
    ],
    ids=["null-message", "choices-object", "numeric-tool-use-id", "no-content-array"],
)
def test_malformed_replies_are_typed_in_both_adapters(
    lunos_server: LocalLunosServer, api: str, model: str, reply: Any, words: str
) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    lunos_server.enqueue(JSONReply(reply))
    with pytest.raises(APIResponseValidationError) as lc_info:
        _chat_lunos(lunos_server, model=model, api=api).invoke("hi")
    assert words in str(lc_info.value)
    lunos_server.enqueue(JSONReply(reply))
    with pytest.raises(APIResponseValidationError) as li_info:
        _lunos_llm(lunos_server, model=model, api=api).chat(
            [ChatMessage(role="user", content="hi")]
        )
    assert words in str(li_info.value)


@pytest.mark.parametrize(
    ("api", "model", "events"),
    [
        (
            "chat_completions",
            CHAT_MODEL,
            [_chunk({"content": "a"}), _chunk({"tool_calls": 7}), _chunk({}, "stop"), "[DONE]"],
        ),
        (
            "messages",
            MSG_MODEL,
            [
                "event: message_start\ndata: "
                '{"type":"message_start","message":{"id":"m","usage":{"input_tokens":1}}}\n\n',
                "event: content_block_start\ndata: "
                '{"type":"content_block_start","index":0,'
                '"content_block":{"type":"tool_use","id":7,"name":"f","input":{}}}\n\n',
                'event: message_stop\ndata: {"type":"message_stop"}\n\n',
            ],
        ),
    ],
    ids=["chat-tool_calls-number", "messages-numeric-tool-use-id"],
)
def test_malformed_stream_chunks_are_typed_in_both_adapters(
    lunos_server: LocalLunosServer, api: str, model: str, events: list[Any]
) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    lunos_server.enqueue(StreamReply(events))
    with pytest.raises(LunosError) as lc_info:
        list(_chat_lunos(lunos_server, model=model, api=api).stream("hi"))
    # The same class as for a whole reply of the wrong shape, with the status attached.
    assert isinstance(lc_info.value, APIResponseValidationError), repr(lc_info.value)
    assert lc_info.value.status_code == 200
    lunos_server.enqueue(StreamReply(events))
    with pytest.raises(LunosError) as li_info:
        list(
            _lunos_llm(lunos_server, model=model, api=api).stream_chat(
                [ChatMessage(role="user", content="hi")]
            )
        )
    assert isinstance(li_info.value, APIResponseValidationError), repr(li_info.value)
    assert li_info.value.status_code == 200
