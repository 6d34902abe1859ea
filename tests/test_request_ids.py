"""The server's request id reaches the caller on invoke *and* on streams, on both routes."""

from __future__ import annotations

import pytest

from lunos_integrations.testing import LocalLunosServer

ROUTES = [("chat_completions", "openai/gpt-4o"), ("messages", "anthropic/claude-sonnet-4")]


@pytest.mark.parametrize(("api", "model"), ROUTES)
def test_chatlunos_request_id(api: str, model: str, lunos_server: LocalLunosServer) -> None:
    from lunos_integrations.langchain import ChatLunos

    llm = ChatLunos(
        model=model, api=api, base_url=lunos_server.base_url, api_key=lunos_server.api_key
    )
    invoked = llm.invoke("hello")
    assert str(invoked.response_metadata["request_id"]).startswith("req_local_")
    chunks = list(llm.stream("hello"))
    ids = [c.response_metadata.get("request_id") for c in chunks]
    assert len([i for i in ids if i]) == 1  # exactly one chunk carries it
    merged = chunks[0]
    for c in chunks[1:]:
        merged += c
    assert str(merged.response_metadata["request_id"]).startswith("req_local_")
    assert merged.response_metadata["request_id"] != invoked.response_metadata["request_id"]


@pytest.mark.parametrize(("api", "model"), ROUTES)
def test_lunosllm_request_id(api: str, model: str, lunos_server: LocalLunosServer) -> None:
    from llama_index.core.llms import ChatMessage

    from lunos_integrations.llama_index import LunosLLM

    llm = LunosLLM(
        model=model, api=api, base_url=lunos_server.base_url, api_key=lunos_server.api_key
    )
    msgs = [ChatMessage(role="user", content="hello")]
    chat = llm.chat(msgs)
    assert str(chat.additional_kwargs["request_id"]).startswith("req_local_")
    responses = list(llm.stream_chat(msgs))
    last = responses[-1]
    assert str(last.additional_kwargs["request_id"]).startswith("req_local_")
