"""ChatLunos / LunosEmbeddings against real third-party servers (llama.cpp, LiteLLM).

Every case runs on each server route (``target``), sync and async.
"""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations.errors import APIResponseValidationError, BadRequestError, NotFoundError
from lunos_integrations.langchain import ChatLunos, LunosEmbeddings

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


def _chat(target: Target, model: str | None = None, **kwargs: Any) -> ChatLunos:
    return ChatLunos(**chat_options(target, model, **kwargs))


async def _invoke(runnable: Any, arg: Any, is_async: bool) -> Any:
    return await runnable.ainvoke(arg) if is_async else runnable.invoke(arg)


def _assert_usage(usage: Any) -> None:
    assert usage is not None
    assert usage["input_tokens"] > 0
    assert usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


@ASYNC
async def test_invoke(target: Target, is_async: bool) -> None:
    msg = await _invoke(_chat(target), PROMPT, is_async)
    assert isinstance(msg.content, str) and msg.content
    if target.name.startswith("litellm"):
        assert msg.content == MOCK_TEXT
    _assert_usage(msg.usage_metadata)
    assert msg.response_metadata["api"] == target.api
    assert msg.response_metadata["model_name"]


@ASYNC
async def test_stream_with_usage(target: Target, is_async: bool) -> None:
    model = _chat(target)
    if is_async:
        chunks = [chunk async for chunk in model.astream(PROMPT)]
    else:
        chunks = list(model.stream(PROMPT))
    text = "".join(chunk.text for chunk in chunks)
    assert len(chunks) >= 2 and text
    if target.name.startswith("litellm"):
        assert text == MOCK_TEXT
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    if target.stream_usage:
        _assert_usage(total.usage_metadata)
    else:
        # llama-cpp-python ignores stream_options and sends no usage: none is invented.
        assert total.usage_metadata is None


@ASYNC
async def test_tool_round_trip(target: Target, is_async: bool) -> None:
    from langchain_core.messages import HumanMessage, ToolMessage

    caller = _chat(target, target.tool_model, max_tokens=STRUCT_TOKENS).bind_tools(
        [get_weather], tool_choice="get_weather"
    )
    question = HumanMessage("What is the weather in Paris?")
    first = await _invoke(caller, [question], is_async)
    assert len(first.tool_calls) == 1
    call = first.tool_calls[0]
    assert call["name"] == "get_weather"
    assert isinstance(call["args"].get("city"), str)
    assert call["id"]
    result = ToolMessage(get_weather(call["args"]["city"]), tool_call_id=call["id"])

    # The second turn sends the assistant's tool-only turn back: the part real servers
    # validate most strictly (content key, tool_call ids, tool_result blocks).
    answerer = _chat(target).bind_tools([get_weather])
    second = await _invoke(answerer, [question, first, result], is_async)
    assert isinstance(second.content, (str, list))
    _assert_usage(second.usage_metadata)


@ASYNC
async def test_structured_output(target: Target, is_async: bool) -> None:
    model = _chat(target, target.struct_model, max_tokens=STRUCT_TOKENS)
    runnable = model.with_structured_output(Mood, method=structured_method(target.name))  # type: ignore[arg-type]
    out = await _invoke(runnable, "I feel great today.", is_async)
    assert isinstance(out, Mood)
    if target.name.startswith("litellm"):
        assert out == Mood(happy=True, level=3)


@ASYNC
async def test_wrong_key(target: Target, is_async: bool) -> None:
    error, phrase = wrong_key_error(target.name)
    model = _chat(target, api_key="sk-not-the-right-key")
    with pytest.raises(error) as info:
        await _invoke(model, PROMPT, is_async)
    assert phrase in str(info.value)
    assert "not JSON" not in str(info.value)  # the server's own words, from its envelope
    assert "sk-not-the-right-key" not in str(info.value)


# Not on llama.cpp: llama-cpp-python's server answers any model name with its default model.
@pytest.mark.parametrize("target", ["litellm-chat", "litellm-messages"], indirect=True)
@ASYNC
async def test_unknown_model(target: Target, is_async: bool) -> None:
    model = _chat(target, "no-such-model")
    with pytest.raises((NotFoundError, BadRequestError)) as info:
        await _invoke(model, PROMPT, is_async)
    assert "no-such-model" in str(info.value)


# ---------------------------------------------------------------------------- embeddings


def _embeddings(target: Target) -> LunosEmbeddings:
    assert target.embed_model is not None
    return LunosEmbeddings(
        model=target.embed_model,
        api_key=target.api_key,  # type: ignore[arg-type]
        base_url=target.base_url,
        max_retries=0,
    )


@ASYNC
async def test_embeddings_litellm(litellm_chat_target: Target, is_async: bool) -> None:
    emb = _embeddings(litellm_chat_target)
    vector = await emb.aembed_query("hello") if is_async else emb.embed_query("hello")
    assert vector == MOCK_VECTOR


@ASYNC
async def test_embeddings_litellm_short_answer_is_an_error(
    litellm_chat_target: Target, is_async: bool
) -> None:
    # LiteLLM's embedding mock answers one vector whatever the number of inputs: two texts
    # and one vector must be a typed error, never a silently shorter list.
    emb = _embeddings(litellm_chat_target)
    with pytest.raises(APIResponseValidationError):
        if is_async:
            await emb.aembed_documents(["first", "second"])
        else:
            emb.embed_documents(["first", "second"])


@ASYNC
async def test_embeddings_llama_cpp_per_token_vectors_are_an_error(
    llama_cpp_target: Target, is_async: bool
) -> None:
    # The server exposes no pooling setting, so a causal model embeds per token
    # (a list of vectors per input): a typed error naming the field, not a wrong vector.
    emb = _embeddings(llama_cpp_target)
    with pytest.raises(APIResponseValidationError, match="embedding"):
        if is_async:
            await emb.aembed_query("hello")
        else:
            emb.embed_query("hello")
