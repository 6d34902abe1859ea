"""No catalog request of ours runs beside a stream of ours.

Found against a real server (tests/interop): llama-cpp-python's server ends a running
stream with ``data: [DONE]`` and no finish reason as soon as any other request arrives
(its ``interrupt_requests`` setting, on by default). When the catalog was fetched as a
stream began, the user's answer was cut after a few tokens and, rightly, refused as
truncated. The catalog is now fetched once the stream is over, and the closing delta is
held until the terminator so it still carries the cost.

``LocalLunosServer(interrupt_streams=True)`` reproduces that server's behaviour here; the
first test checks the profile itself, so the others cannot pass for want of it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lunos_integrations.catalog import shared_catalog
from lunos_integrations.testing import LocalLunosServer, StreamFault

pytestmark = pytest.mark.timeout(60)

CASES = [
    ("chat_completions", "openai/gpt-4o-mini", "/v1/chat/completions"),
    ("messages", "anthropic/claude-sonnet-4", "/v1/messages"),
]
#: Each event is followed by this pause, so a stream lasts long enough to be interrupted.
PAUSE = 0.05


def _slow() -> StreamFault:
    return StreamFault(split_writes=1 << 16, write_pause=PAUSE)  # one write per event


def _stream(model: Any, is_async: bool) -> list[Any]:
    if not is_async:
        return list(model.stream("Say hello."))

    async def run() -> list[Any]:
        return [chunk async for chunk in model.astream("Say hello.")]

    return asyncio.run(run())


def test_the_interrupting_profile_really_cuts_a_stream_short() -> None:
    import httpx

    with LocalLunosServer(interrupt_streams=True) as srv:
        srv.enqueue(_slow(), path="/v1/chat/completions")
        headers = {"Authorization": f"Bearer {srv.api_key}"}
        body = {
            "model": "openai/gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "Say hello."}],
        }
        with (
            httpx.Client(timeout=10) as http,
            http.stream(
                "POST", f"{srv.base_url}/chat/completions", json=body, headers=headers
            ) as r,
        ):
            lines = r.iter_lines()
            first = next(line for line in lines if line.startswith("data:"))
            http.get(f"{srv.base_url}/models", headers=headers)  # another request arrives
            rest = [line for line in lines if line.startswith("data:")]
    assert "finish_reason" in first
    assert rest[-1] == "data: [DONE]"
    assert not any(
        '"finish_reason": "stop"' in line or '"finish_reason":"stop"' in line for line in rest
    )


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("api", "model_id", "path"), CASES, ids=[c[0] for c in CASES])
def test_a_first_stream_completes_and_is_priced_against_an_interrupting_server(
    api: str, model_id: str, path: str, is_async: bool
) -> None:
    from lunos_integrations.langchain import ChatLunos

    with LocalLunosServer(interrupt_streams=True) as srv:
        shared_catalog(srv.base_url).price_wait = 2.0  # generous: a loaded CI machine
        srv.enqueue(_slow(), path=path)
        model = ChatLunos(model=model_id, api=api, base_url=srv.base_url, api_key=srv.api_key)
        chunks = _stream(model, is_async)
        paths = [r.path for r in srv.requests]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert total.text, chunks
    assert total.response_metadata.get("finish_reason") in ("stop", "end_turn"), total
    assert total.usage_metadata is not None and total.usage_metadata["output_tokens"] > 0
    assert total.response_metadata.get("cost", 0) > 0, total.response_metadata
    assert paths == [path, "/v1/models"], paths  # the catalog came after, not beside


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_llama_index_streams_complete_against_an_interrupting_server(is_async: bool) -> None:
    from llama_index.core.llms import ChatMessage

    from lunos_integrations.llama_index import LunosLLM

    with LocalLunosServer(interrupt_streams=True) as srv:
        shared_catalog(srv.base_url).price_wait = 2.0
        srv.enqueue(_slow(), path="/v1/chat/completions")
        llm = LunosLLM(model="openai/gpt-4o-mini", base_url=srv.base_url, api_key=srv.api_key)
        messages = [ChatMessage(role="user", content="Say hello.")]
        if is_async:

            async def run() -> list[Any]:
                return [r async for r in await llm.astream_chat(messages)]

            responses = asyncio.run(run())
        else:
            responses = list(llm.stream_chat(messages))
        paths = [r.path for r in srv.requests]
    assert responses[-1].message.content
    assert responses[-1].additional_kwargs.get("cost", 0) > 0
    assert paths == ["/v1/chat/completions", "/v1/models"], paths


def test_a_warm_process_does_not_fetch_again_or_hold_anything_back() -> None:
    from lunos_integrations.langchain import ChatLunos

    with LocalLunosServer(interrupt_streams=True) as srv:
        model = ChatLunos(model="openai/gpt-4o-mini", base_url=srv.base_url, api_key=srv.api_key)
        list(model.stream("first"))
        srv.enqueue(_slow(), path="/v1/chat/completions")
        chunks = list(model.stream("Say hello."))
        paths = [r.path for r in srv.requests]
    assert paths == ["/v1/chat/completions", "/v1/models", "/v1/chat/completions"], paths
    with_cost = [c for c in chunks if "cost" in c.response_metadata]
    assert len(with_cost) == 1 and with_cost[0].response_metadata["cost"] > 0
