"""Cost and usage through ChatLunos / LunosLLM, track_usage and the framework handlers."""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

import pytest
from llama_index.core.llms import ChatMessage
from llama_index_instrumentation import get_dispatcher
from pydantic import SecretStr

from lunos_integrations import ChatLunos, LunosLLM, track_usage
from lunos_integrations.langchain.callbacks import LunosUsageCallbackHandler, get_lunos_callback
from lunos_integrations.llama_index.events import LunosUsageEventHandler
from lunos_integrations.testing.server import LocalLunosServer

GPT_IN, GPT_OUT = 2.5, 10.0  # openai/gpt-4o, USD per 1M tokens


def _chat(srv: LocalLunosServer) -> ChatLunos:
    return ChatLunos(  # type: ignore[call-arg]
        model="openai/gpt-4o", api_key=SecretStr(srv.api_key), base_url=srv.base_url
    )


def _llm(srv: LocalLunosServer) -> LunosLLM:
    return LunosLLM(model="openai/gpt-4o", api_key=srv.api_key, base_url=srv.base_url)


def _expected(inp: int, out: int) -> float:
    return (inp * GPT_IN + out * GPT_OUT) / 1e6


def test_chatlunos_cost_on_invoke_and_stream(lunos_server: LocalLunosServer) -> None:
    chat = _chat(lunos_server)
    msg = chat.invoke("what does this cost?")
    u = msg.usage_metadata
    assert u is not None
    assert msg.response_metadata["cost"] == pytest.approx(
        _expected(u["input_tokens"], u["output_tokens"])
    )
    chunks = list(chat.stream("and a stream?"))
    with_cost = [c for c in chunks if "cost" in c.response_metadata]
    assert len(with_cost) == 1
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    fu = full.usage_metadata
    assert fu is not None
    assert full.response_metadata["cost"] == pytest.approx(
        _expected(fu["input_tokens"], fu["output_tokens"])
    )


def test_lunosllm_cost_in_raw_and_kwargs(lunos_server: LocalLunosServer) -> None:
    llm = _llm(lunos_server)
    r = llm.chat([ChatMessage(role="user", content="price this")])
    assert r.raw is not None
    usage = r.raw["usage"]
    expected = _expected(usage["prompt_tokens"], usage["completion_tokens"])
    assert usage["cost"] == pytest.approx(expected)
    assert r.additional_kwargs["cost"] == pytest.approx(expected)
    *_, last = llm.stream_chat([ChatMessage(role="user", content="price the stream")])
    assert last.additional_kwargs["cost"] == pytest.approx(
        _expected(
            last.additional_kwargs["prompt_tokens"], last.additional_kwargs["completion_tokens"]
        )
    )


def test_track_usage_across_both_frameworks(lunos_server: LocalLunosServer) -> None:
    chat, llm = _chat(lunos_server), _llm(lunos_server)
    with track_usage() as usage:
        a = chat.invoke("one")
        b = list(chat.stream("two"))
        c = llm.chat([ChatMessage(role="user", content="three")])
        d = list(llm.stream_chat([ChatMessage(role="user", content="four")]))
    assert usage.requests == 4
    costs = [
        a.response_metadata["cost"],
        next(x.response_metadata["cost"] for x in b if "cost" in x.response_metadata),
        c.additional_kwargs["cost"],
        d[-1].additional_kwargs["cost"],
    ]
    assert usage.total_cost == pytest.approx(sum(costs))
    assert usage.by_model["openai/gpt-4o"].requests == 4


def test_track_usage_langchain_batch_threads(lunos_server: LocalLunosServer) -> None:
    chat = _chat(lunos_server)
    with track_usage() as usage:
        chat.batch([f"question {i}" for i in range(6)], config={"max_concurrency": 3})
        with ThreadPoolExecutor(3) as pool:
            # contexts copied here, in the thread that entered track_usage()
            jobs = [(contextvars.copy_context(), q) for q in ("x", "y", "z")]
            list(pool.map(lambda job: job[0].run(chat.invoke, job[1]), jobs))
    assert usage.requests == 9


async def test_track_usage_async_both_frameworks(lunos_server: LocalLunosServer) -> None:
    chat, llm = _chat(lunos_server), _llm(lunos_server)
    async with track_usage() as usage:
        await asyncio.gather(
            chat.ainvoke("a"),
            chat.ainvoke("b"),
            llm.achat([ChatMessage(role="user", content="c")]),
        )
        async for _ in chat.astream("d"):
            pass
        gen = await llm.astream_chat([ChatMessage(role="user", content="e")])
        async for _ in gen:
            pass
    assert usage.requests == 5
    assert usage.cost_complete and usage.total_cost > 0


def test_langchain_callback_handler_matches_track_usage(lunos_server: LocalLunosServer) -> None:
    chat = _chat(lunos_server)
    handler = LunosUsageCallbackHandler(app_id="lc-app")
    with track_usage() as usage:
        chat.invoke("hello", config={"callbacks": [handler]})
        for _ in chat.stream("hello stream", config={"callbacks": [handler]}):
            pass
    h = handler.usage
    assert h.requests == usage.requests == 2  # each accumulator counts each call once
    assert h.input_tokens == usage.input_tokens and h.output_tokens == usage.output_tokens
    assert h.total_cost == pytest.approx(usage.total_cost)
    assert h.by_app["lc-app"].requests == 2
    assert h.by_model["openai/gpt-4o"].requests == 2


async def test_get_lunos_callback_context(lunos_server: LocalLunosServer) -> None:
    chat = _chat(lunos_server)
    with get_lunos_callback() as cb:
        await chat.ainvoke("x")
        chat.invoke("y")
    chat.invoke("outside")
    assert cb.usage.requests == 2 and cb.usage.total_cost > 0


def test_llama_index_event_handler(lunos_server: LocalLunosServer) -> None:
    llm = _llm(lunos_server)
    handler = LunosUsageEventHandler(app_id="li-app")
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(handler)
    try:
        with track_usage() as usage:
            llm.chat([ChatMessage(role="user", content="event one")])
            for _ in llm.stream_chat([ChatMessage(role="user", content="event two")]):
                pass
            llm.complete("event three")
    finally:
        dispatcher.event_handlers.remove(handler)
    h = handler.usage
    assert h.requests == usage.requests == 3
    assert h.output_tokens == usage.output_tokens
    assert h.total_cost == pytest.approx(usage.total_cost)
    assert h.by_app["li-app"].requests == 3


def test_profile_and_metadata_from_catalog(lunos_server: LocalLunosServer) -> None:
    chat = ChatLunos(  # type: ignore[call-arg]
        model="deepseek/deepseek-r1",
        api_key=SecretStr(lunos_server.api_key),
        base_url=lunos_server.base_url,
    )
    profile = chat.profile or {}
    assert profile.get("max_input_tokens") == 163840
    assert profile.get("reasoning_output") is True
    assert profile.get("tool_calling") is False
    meta = LunosLLM(
        model="google/gemini-2.5-flash",
        api_key=lunos_server.api_key,
        base_url=lunos_server.base_url,
    ).metadata
    assert meta.context_window == 1048576
    assert meta.is_function_calling_model is True
