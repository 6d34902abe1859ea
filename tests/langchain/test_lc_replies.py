"""Parsing of tricky replies, stream assembly, errors, usage callbacks, tokens, profile."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAuthenticationError,
    ModelNotFoundError,
    ModelRateLimitError,
)
from langchain_core.messages import AIMessageChunk, HumanMessage
from pydantic import BaseModel

from lunos_integrations.errors import AuthenticationError, RateLimitError
from lunos_integrations.langchain import ChatLunos
from lunos_integrations.testing import ErrorReply, JSONReply, LocalLunosServer, StreamReply


def enqueue_chat(server: LocalLunosServer, action: Any) -> None:
    """Script the next chat-completions reply (a catalogue fetch must not consume it)."""
    server.enqueue(action, path="/chat/completions")


def llm_for(server: LocalLunosServer, model: str = "openai/gpt-4o", **kw: Any) -> ChatLunos:
    return ChatLunos(
        model=model, base_url=server.base_url, api_key=server.api_key, max_retries=0, **kw
    )


def merged(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    out = chunks[0]
    for c in chunks[1:]:
        out = out + c
    return out


class GetWeather(BaseModel):
    """Weather for a city."""

    city: str


class GetTime(BaseModel):
    """Time in a city."""

    city: str


def test_null_content_with_tool_calls_and_bad_args(server: LocalLunosServer) -> None:
    enqueue_chat(
        server,
        JSONReply(
            {
                "id": "c1",
                "model": "openai/gpt-4o",
                "provider": "openai",
                "system_fingerprint": "fp_1",
                "surprise": {"unknown": True},
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {
                            "role": "assistant",
                            "content": None,
                            "extra_field": 1,
                            "tool_calls": [
                                {
                                    "id": "a",
                                    "type": "function",
                                    "function": {"name": "GetWeather", "arguments": ""},
                                },
                                {
                                    "id": "b",
                                    "type": "function",
                                    "function": {"name": "GetTime", "arguments": None},
                                },
                                {
                                    "id": "c",
                                    "type": "function",
                                    "function": {"name": "GetTime", "arguments": "{oops"},
                                },
                            ],
                        },
                    }
                ],
                "usage": {
                    "prompt_tokens": 5,
                    "completion_tokens": 2,
                    "total_tokens": 7,
                    "prompt_tokens_details": {"cached_tokens": 3},
                    "completion_tokens_details": {"reasoning_tokens": 1},
                    "cost": 0.5,
                },
            },
            headers={"x-request-id": "req-9"},
        ),
    )
    msg = llm_for(server).bind_tools([GetWeather, GetTime]).invoke("go")
    assert msg.content == ""
    assert [(t["id"], t["args"]) for t in msg.tool_calls] == [("a", {}), ("b", {})]
    assert msg.invalid_tool_calls[0]["id"] == "c"
    assert msg.invalid_tool_calls[0]["args"] == "{oops"
    assert msg.usage_metadata == {
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
        "input_token_details": {"cache_read": 3},
        "output_token_details": {"reasoning": 1},
    }
    meta = msg.response_metadata
    assert meta["model_name"] == "openai/gpt-4o" and meta["finish_reason"] == "tool_calls"
    assert meta["id"] == "c1" and meta["provider"] == "openai"
    assert meta["system_fingerprint"] == "fp_1" and meta["cost"] == 0.5


def test_all_three_reasoning_fields(server: LocalLunosServer) -> None:
    for field in ("reasoning_content", "reasoning"):
        enqueue_chat(server, JSONReply({"choices": [{"message": {"content": "ok", field: "why"}}]}))
        msg = llm_for(server).invoke("q")
        assert msg.additional_kwargs["reasoning_content"] == "why"
        assert msg.content_blocks[0] == {"type": "reasoning", "reasoning": "why"}
    details = [{"type": "reasoning.summary", "summary": "sum", "index": 0}]
    enqueue_chat(
        server,
        JSONReply({"choices": [{"message": {"content": "ok", "reasoning_details": details}}]}),
    )
    msg = llm_for(server).invoke("q")
    assert msg.additional_kwargs["reasoning_content"] == "sum"
    assert msg.additional_kwargs["reasoning_details"] == details


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "s1",
        "model": "openai/gpt-4o",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def test_interleaved_parallel_tool_calls_stream_merge(server: LocalLunosServer) -> None:
    def tc(index: int, **fn: Any) -> dict[str, Any]:
        call: dict[str, Any] = {"index": index, "function": fn}
        if "name" in fn:
            call.update(id=f"call_{index}", type="function")
        return {"tool_calls": [call]}

    events: list[Any] = [
        _chunk({"role": "assistant", "content": None}),
        _chunk(tc(0, name="GetWeather", arguments="")),
        _chunk(tc(1, name="GetTime", arguments='{"ci')),
        _chunk(tc(0, arguments='{"city": ')),
        _chunk(tc(1, arguments='ty": "Oslo"}')),
        _chunk(tc(0, arguments='"Paris"}')),
        _chunk({}, "tool_calls"),
        {
            "id": "s1",
            "model": "openai/gpt-4o",
            "choices": [],
            "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        },
        "data: [DONE]",
    ]
    enqueue_chat(server, StreamReply(events))
    chunks = list(llm_for(server).bind_tools([GetWeather, GetTime]).stream("go"))
    full = merged(chunks)
    assert full.tool_calls == [
        {"name": "GetWeather", "args": {"city": "Paris"}, "id": "call_0", "type": "tool_call"},
        {"name": "GetTime", "args": {"city": "Oslo"}, "id": "call_1", "type": "tool_call"},
    ]
    assert [c.usage_metadata is not None for c in chunks].count(True) == 1
    assert full.usage_metadata is not None and full.usage_metadata["total_tokens"] == 13
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.response_metadata["model_name"] == "openai/gpt-4o"


@pytest.mark.parametrize("route", ["chat_completions", "messages"])
def test_stream_tool_calls_equal_invoke(server: LocalLunosServer, route: str) -> None:
    model = "anthropic/claude-sonnet-4" if route == "messages" else "openai/gpt-4o"
    llm = llm_for(server, model, api=route).bind_tools([GetWeather, GetTime])
    prompt = "GetWeather and GetTime for Paris"
    invoked = llm.invoke(prompt)
    streamed = merged(list(llm.stream(prompt)))
    assert len(invoked.tool_calls) == 2
    assert streamed.tool_calls == invoked.tool_calls
    assert streamed.usage_metadata == invoked.usage_metadata


@pytest.mark.parametrize("route", ["chat_completions", "messages"])
def test_reasoning_streams_and_round_trips(server: LocalLunosServer, route: str) -> None:
    if route == "messages":
        llm = llm_for(
            server,
            "anthropic/claude-sonnet-4",
            api=route,
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
    else:
        llm = llm_for(server, "deepseek/deepseek-r1")
    chunks = list(llm.stream("hello"))
    assert any(c.additional_kwargs.get("reasoning_content") for c in chunks[:-1])
    full = merged(chunks)
    invoked = llm.invoke("hello")
    assert full.additional_kwargs["reasoning_content"] == "Thinking about: hello"
    assert full.additional_kwargs.get("thinking_blocks", None) == (
        invoked.additional_kwargs.get("thinking_blocks")
    )
    server.reset()
    llm.invoke([HumanMessage("hello"), invoked, HumanMessage("again")])
    chats = [r for r in server.requests if not r.path.endswith("/models")]
    sent = chats[-1].json["messages"][1]
    if route == "messages":
        assert sent["content"][0]["type"] == "thinking"
        assert sent["content"][0]["signature"]
    else:
        assert sent["reasoning_content"] == "Thinking about: hello"


def test_usage_callback_and_model_override(server: LocalLunosServer) -> None:
    llm = llm_for(server)
    with get_usage_metadata_callback() as cb:
        llm.invoke("one")
        list(llm.stream("two"))
        llm.invoke("three", model="openai/gpt-4o-mini")
    assert set(cb.usage_metadata) == {"openai/gpt-4o", "openai/gpt-4o-mini"}
    assert cb.usage_metadata["openai/gpt-4o"]["input_tokens"] == 2
    assert llm._get_ls_params(model="x/y")["ls_model_name"] == "x/y"
    assert llm._get_ls_params()["ls_provider"] == "lunos"


def test_errors_map_to_both_hierarchies(server: LocalLunosServer) -> None:
    llm = llm_for(server)
    enqueue_chat(server, ErrorReply(429, headers={"Retry-After": "0"}))
    with pytest.raises(RateLimitError) as info:
        llm.invoke("x")
    assert isinstance(info.value, ModelRateLimitError)
    enqueue_chat(server, ErrorReply(401))
    with pytest.raises(ModelAuthenticationError) as auth:
        llm.invoke("x")
    assert isinstance(auth.value, AuthenticationError)
    enqueue_chat(server, ErrorReply(404))
    with pytest.raises(ModelNotFoundError):
        list(llm.stream("x"))
    enqueue_chat(
        server,
        ErrorReply(
            400,
            body={
                "error": {
                    "message": "This model's maximum context length is 8192 tokens",
                    "code": "context_length_exceeded",
                }
            },
        ),
    )
    with pytest.raises(ContextOverflowError):
        llm.invoke("x")


async def test_async_paths(server: LocalLunosServer) -> None:
    llm = llm_for(server)
    msg = await llm.ainvoke('Say "pong"')
    assert msg.content == "pong"
    chunks = [c async for c in llm.astream('Say "pong"')]
    assert merged(chunks).content == "pong"
    results = await llm.abatch(['Say "a"', 'Say "b"'])
    assert [r.content for r in results] == ["a", "b"]


def test_callbacks_receive_tokens(server: LocalLunosServer) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Tokens(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            self.tokens.append(token)

    handler = Tokens()
    llm_for(server, streaming=True).invoke('Say "hello world"', config={"callbacks": [handler]})
    assert "".join(handler.tokens) == "hello world"
    assert len(handler.tokens) > 1


def test_token_counting_is_offline_and_never_raises() -> None:
    llm = ChatLunos(model="some-vendor/unknown-model", api_key="sk-offline-123")
    assert llm.get_num_tokens("Hello, world!") == 6  # Hel|lo , wor|ld !
    n = llm.get_num_tokens_from_messages(
        [HumanMessage("hi there"), HumanMessage([{"type": "image", "url": "u"}])],
        tools=[GetWeather],
    )
    assert n > 10


def test_profile_is_lazy_and_from_catalog(server: LocalLunosServer) -> None:
    from lunos_integrations.catalog import clear_catalog_cache

    clear_catalog_cache()
    llm = llm_for(server, "google/gemini-2.5-flash")
    assert not [r for r in server.requests if r.path.endswith("/models")]
    repr(llm)
    assert not [r for r in server.requests if r.path.endswith("/models")]
    profile = llm.profile
    assert profile is not None
    assert profile["max_input_tokens"] == 1048576
    assert profile["audio_inputs"] is True and profile["tool_calling"] is True


def test_profile_when_catalog_is_unreachable() -> None:
    llm = ChatLunos(
        model="openai/gpt-4o",
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-offline-123",
        max_retries=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert llm.profile is not None and dict(llm.profile.items()) == {}


def test_missing_key_fails_on_first_call_with_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LUNOS_API_KEY", raising=False)
    llm = ChatLunos(model="openai/gpt-4o")
    with pytest.raises(ValueError, match="LUNOS_API_KEY"):
        llm.invoke("x")


def test_env_base_url_and_app_id_are_used(
    server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUNOS_BASE_URL", server.base_url)
    monkeypatch.setenv("LUNOS_APP_ID", "my-app")
    monkeypatch.setenv("LUNOS_API_KEY", server.api_key)
    ChatLunos(model="openai/gpt-4o").invoke("x")
    chats = [r for r in server.requests if not r.path.endswith("/models")]
    assert chats[-1].headers["x-app-id"] == "my-app"
    assert "sk" not in repr(ChatLunos(model="openai/gpt-4o"))


def test_unknown_constructor_argument_is_rejected() -> None:
    with pytest.raises(ValueError, match="temprature"):
        ChatLunos(model="m", api_key="sk-offline-123", temprature=0)  # type: ignore[call-arg]


@pytest.mark.parametrize("route", ["chat_completions", "messages"])
def test_every_streamed_chunk_carries_the_response_id(server: LocalLunosServer, route: str) -> None:
    # One answer, one id: UIs that group streamed chunks by id (LangGraph "messages" mode)
    # must not see the text under LangChain's run id and the final chunk under another.
    model = "anthropic/claude-sonnet-4" if route == "messages" else "openai/gpt-4o"
    llm = llm_for(server, model, api=route)
    chunks = list(llm.stream('Say "one two three four"'))
    ids = {c.id for c in chunks}
    assert len(chunks) >= 3 and len(ids) == 1
    (only,) = ids
    assert only is not None and not only.startswith("lc_")
    assert merged(chunks).id == only
