"""LunosLLM / LunosEmbedding against real third-party servers (llama.cpp, LiteLLM).

Every case runs on each server route (``target``), sync and async.
"""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations.errors import APIResponseValidationError, BadRequestError, NotFoundError

from .interop_support import (
    MOCK_TEXT,
    MOCK_VECTOR,
    PROMPT,
    STRUCT_TOKENS,
    Mood,
    Target,
    chat_options,
    get_weather,
    structured_method,
    wrong_key_error,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])


def _llm(target: Target, model: str | None = None, **kwargs: Any) -> Any:
    from lunos_integrations.llama_index import LunosLLM

    return LunosLLM(**chat_options(target, model, **kwargs))


def _user(text: str) -> Any:
    from llama_index.core.llms import ChatMessage

    return ChatMessage(role="user", content=text)


def _assert_raw_usage(raw: Any) -> None:
    usage = raw["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


@ASYNC
async def test_chat(target: Target, is_async: bool) -> None:
    llm = _llm(target)
    messages = [_user(PROMPT)]
    resp = await llm.achat(messages) if is_async else llm.chat(messages)
    text = resp.message.content
    assert isinstance(text, str) and text
    if target.name.startswith("litellm"):
        assert text == MOCK_TEXT
    _assert_raw_usage(resp.raw)


@ASYNC
async def test_stream_chat_with_usage(target: Target, is_async: bool) -> None:
    llm = _llm(target)
    messages = [_user(PROMPT)]
    if is_async:
        chunks = [chunk async for chunk in await llm.astream_chat(messages)]
    else:
        chunks = list(llm.stream_chat(messages))
    assert len(chunks) >= 2
    text = "".join(chunk.delta or "" for chunk in chunks)
    assert text and chunks[-1].message.content == text
    if target.name.startswith("litellm"):
        assert text == MOCK_TEXT
    raw = chunks[-1].raw or {}
    if target.stream_usage:
        _assert_raw_usage(raw)
    else:
        # llama-cpp-python sends no usage in streams: none is invented.
        assert not raw.get("usage")


@ASYNC
async def test_tool_round_trip(target: Target, is_async: bool) -> None:
    from llama_index.core.llms import ChatMessage
    from llama_index.core.tools import FunctionTool

    tool = FunctionTool.from_defaults(fn=get_weather)
    caller = _llm(target, target.tool_model, max_tokens=STRUCT_TOKENS)
    question = _user("What is the weather in Paris?")
    kwargs = {"chat_history": [question], "tool_choice": "get_weather"}
    if is_async:
        first = await caller.achat_with_tools([tool], **kwargs)
    else:
        first = caller.chat_with_tools([tool], **kwargs)
    calls = caller.get_tool_calls_from_response(first)
    assert len(calls) == 1
    assert calls[0].tool_name == "get_weather"
    assert isinstance(calls[0].tool_kwargs.get("city"), str)
    assert calls[0].tool_id
    result = ChatMessage(
        role="tool",
        content=get_weather(calls[0].tool_kwargs["city"]),
        additional_kwargs={"tool_call_id": calls[0].tool_id, "name": "get_weather"},
    )

    # The second turn sends the assistant's tool-only turn back to the server.
    answerer = _llm(target)
    history = [question, first.message, result]
    if is_async:
        second = await answerer.achat_with_tools([tool], chat_history=history)
    else:
        second = answerer.chat_with_tools([tool], chat_history=history)
    assert second.message.role == "assistant"
    _assert_raw_usage(second.raw)


@ASYNC
async def test_structured_predict(target: Target, is_async: bool) -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = _llm(
        target,
        target.struct_model,
        max_tokens=STRUCT_TOKENS,
        structured_output_method=structured_method(target.name),
    )
    prompt = PromptTemplate("Describe the mood of: {text}")
    if is_async:
        out = await llm.astructured_predict(Mood, prompt, text="I feel great today.")
    else:
        out = llm.structured_predict(Mood, prompt, text="I feel great today.")
    assert isinstance(out, Mood)
    if target.name.startswith("litellm"):
        assert out == Mood(happy=True, level=3)


@ASYNC
async def test_wrong_key(target: Target, is_async: bool) -> None:
    error, phrase = wrong_key_error(target.name)
    llm = _llm(target, api_key="sk-not-the-right-key")
    with pytest.raises(error) as info:
        if is_async:
            await llm.achat([_user(PROMPT)])
        else:
            llm.chat([_user(PROMPT)])
    assert phrase in str(info.value)
    assert "not JSON" not in str(info.value)  # the server's own words, from its envelope
    assert "sk-not-the-right-key" not in str(info.value)


# Not on llama.cpp: llama-cpp-python's server answers any model name with its default model.
@pytest.mark.parametrize("target", ["litellm-chat", "litellm-messages"], indirect=True)
@ASYNC
async def test_unknown_model(target: Target, is_async: bool) -> None:
    llm = _llm(target, "no-such-model")
    with pytest.raises((NotFoundError, BadRequestError)) as info:
        if is_async:
            await llm.achat([_user(PROMPT)])
        else:
            llm.chat([_user(PROMPT)])
    assert "no-such-model" in str(info.value)


# ---------------------------------------------------------------------------- embeddings


def _embedding(target: Target) -> Any:
    from lunos_integrations.llama_index import LunosEmbedding

    return LunosEmbedding(
        model_name=target.embed_model,
        api_key=target.api_key,
        base_url=target.base_url,
        max_retries=0,
    )


@ASYNC
async def test_embedding_litellm(litellm_chat_target: Target, is_async: bool) -> None:
    emb = _embedding(litellm_chat_target)
    if is_async:
        vector = await emb.aget_text_embedding("hello")
    else:
        vector = emb.get_text_embedding("hello")
    assert vector == MOCK_VECTOR


@ASYNC
async def test_embedding_llama_cpp_per_token_vectors_are_an_error(
    llama_cpp_target: Target, is_async: bool
) -> None:
    emb = _embedding(llama_cpp_target)
    with pytest.raises(APIResponseValidationError, match="embedding"):
        if is_async:
            await emb.aget_text_embedding("hello")
        else:
            emb.get_text_embedding("hello")
