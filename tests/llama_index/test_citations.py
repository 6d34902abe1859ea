"""Web-search citations in LlamaIndex: CitationBlocks, additional_kwargs, server tools.

The local server answers a request offering its web-search tool with citations (chat:
``message.annotations``; messages: ``server_tool_use`` / ``web_search_tool_result`` blocks
and text-block ``citations``). Every chat entry point must surface them the same way, and
a reply sent back as history must not turn its citations into assistant text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CitationBlock, TextBlock

from lunos_integrations.llama_index import LunosLLM

WEB_SEARCH = {
    "chat_completions": {"type": "web_search", "parameters": {"max_results": 2}},
    "messages": {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
}
MODELS = {"chat_completions": "openai/gpt-4o-mini", "messages": "anthropic/claude-sonnet-4"}
PROMPT = [ChatMessage(role="user", content="news about Paris")]
URLS = ["https://search.example/news-about-paris/1", "https://search.example/news-about-paris/2"]


@pytest.fixture(params=sorted(MODELS))
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def search_llm(make_llm: Callable[..., LunosLLM], api: str) -> LunosLLM:
    return make_llm(api=api, model=MODELS[api], additional_kwargs={"tools": [WEB_SEARCH[api]]})


def _check(response: ChatResponse, api: str) -> None:
    message = response.message
    text = "Hello! You said: news about Paris"
    assert message.content == text  # citations add no text
    citations = [b for b in message.blocks if isinstance(b, CitationBlock)]
    assert [c.source for c in citations] == URLS
    assert [c.title for c in citations] == [f"Result {n} for news about Paris" for n in (1, 2)]
    for n, c in enumerate(citations, 1):
        assert c.additional_location_info == {"start_index": 0, "end_index": len(text)}
        assert isinstance(c.cited_content, TextBlock)
        assert c.cited_content.text == f"Snippet {n} about news about Paris"
    stored = message.additional_kwargs["annotations"]
    assert [a["url"] for a in stored] == URLS
    if api == "messages":
        assert {a["type"] for a in stored} == {"web_search_result_location"}
        kinds = [b["type"] for b in message.additional_kwargs["server_tool_blocks"]]
        assert kinds == ["server_tool_use", "web_search_tool_result"]
    else:
        assert {a["type"] for a in stored} == {"url_citation"}
        assert "server_tool_blocks" not in message.additional_kwargs
    assert not message.additional_kwargs.get("tool_calls")


def test_chat(search_llm: LunosLLM, api: str, bodies: Callable[[], list[dict[str, Any]]]) -> None:
    _check(search_llm.chat(PROMPT), api)
    assert WEB_SEARCH[api] in bodies()[-1]["tools"]


async def test_achat(search_llm: LunosLLM, api: str) -> None:
    _check(await search_llm.achat(PROMPT), api)


def test_stream_chat(search_llm: LunosLLM, api: str) -> None:
    responses = list(search_llm.stream_chat(PROMPT))
    assert len(responses) > 2
    _check(responses[-1], api)


async def test_astream_chat(search_llm: LunosLLM, api: str) -> None:
    responses = [r async for r in await search_llm.astream_chat(PROMPT)]
    assert len(responses) > 2
    _check(responses[-1], api)


def test_reply_with_citations_sent_back(
    search_llm: LunosLLM, api: str, bodies: Callable[[], list[dict[str, Any]]]
) -> None:
    reply = search_llm.chat(PROMPT).message
    follow = search_llm.chat([*PROMPT, reply, ChatMessage(role="user", content="more")])
    assert follow.message.content is not None
    assistant = bodies()[-1]["messages"][1]
    content = assistant["content"]
    texts = [content] if isinstance(content, str) else [p["text"] for p in content]
    assert texts == ["Hello! You said: news about Paris"]  # no snippet text added


def test_web_search_dict_in_per_call_tools(
    make_llm: Callable[..., LunosLLM], api: str, bodies: Callable[[], list[dict[str, Any]]]
) -> None:
    """A server-tool dict among per-call tools is sent verbatim, not rejected as malformed."""
    llm = make_llm(api=api, model=MODELS[api])
    _check(llm.chat(PROMPT, tools=[WEB_SEARCH[api]]), api)
    assert bodies()[-1]["tools"] == [WEB_SEARCH[api]]
