"""The local server's web-search tool: the wire shapes of its citations on both routes.

Clients are tested against these replies, so the shapes themselves are pinned here, raw:
chat ``message.annotations`` (nested ``url_citation``) and one ``delta.annotations``
chunk; messages ``server_tool_use`` + ``web_search_tool_result`` blocks with text-block
``citations``, streamed as ``input_json_delta`` fragments and ``citations_delta`` events.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

CHAT_TOOL = {"type": "web_search", "parameters": {"max_results": 3}}
MESSAGES_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
ASK = [{"role": "user", "content": "tides in Brest"}]
ANSWER = "Hello! You said: tides in Brest"


def _chat(http: httpx.Client, **extra: Any) -> httpx.Response:
    body = {"model": "openai/gpt-4o", "messages": ASK, **extra}
    return http.post("/chat/completions", json=body)


def _messages(http: httpx.Client, **extra: Any) -> httpx.Response:
    body = {"model": "anthropic/claude-sonnet-4", "max_tokens": 64, "messages": ASK, **extra}
    return http.post("/messages", json=body)


def _events(response: httpx.Response) -> list[dict[str, Any]]:
    out = []
    for line in response.text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[6:]))
    return out


def test_chat_reply_carries_url_citations(http: httpx.Client) -> None:
    message = _chat(http, tools=[CHAT_TOOL]).json()["choices"][0]["message"]
    assert message["content"] == ANSWER
    assert message["annotations"] == [
        {
            "type": "url_citation",
            "url_citation": {
                "url": f"https://search.example/tides-in-brest/{n}",
                "title": f"Result {n} for tides in Brest",
                "content": f"Snippet {n} about tides in Brest",
                "start_index": 0,
                "end_index": len(ANSWER),
            },
        }
        for n in (1, 2, 3)
    ]


def test_chat_stream_sends_annotations_once_before_the_finish(http: httpx.Client) -> None:
    whole = _chat(http, tools=[CHAT_TOOL]).json()["choices"][0]["message"]["annotations"]
    chunks = _events(_chat(http, tools=[CHAT_TOOL], stream=True))
    carrying = [i for i, c in enumerate(chunks) if c["choices"][0]["delta"].get("annotations")]
    assert len(carrying) == 1
    assert chunks[carrying[0]]["choices"][0]["delta"]["annotations"] == whole
    assert chunks[carrying[0] + 1]["choices"][0]["finish_reason"] == "stop"


def test_no_web_search_tool_no_citations(http: httpx.Client) -> None:
    assert "annotations" not in _chat(http).json()["choices"][0]["message"]
    body = _messages(http).json()
    assert [b["type"] for b in body["content"]] == ["text"]
    assert "server_tool_use" not in body["usage"]


def test_function_tool_call_gets_no_search(http: httpx.Client) -> None:
    fn = {"type": "function", "function": {"name": "tides", "parameters": {"type": "object"}}}
    message = _chat(http, tools=[fn, CHAT_TOOL]).json()["choices"][0]["message"]
    assert message["tool_calls"] and "annotations" not in message


def test_messages_reply_has_server_tool_blocks_and_citations(http: httpx.Client) -> None:
    body = _messages(http, tools=[MESSAGES_TOOL]).json()
    use, result, text = body["content"]
    assert use == {
        "type": "server_tool_use",
        "id": use["id"],
        "name": "web_search",
        "input": {"query": "tides in Brest"},
    }
    assert result["type"] == "web_search_tool_result" and result["tool_use_id"] == use["id"]
    assert [r["url"] for r in result["content"]] == ["https://search.example/tides-in-brest/1"]
    assert text["text"] == ANSWER
    assert text["citations"] == [
        {
            "type": "web_search_result_location",
            "url": "https://search.example/tides-in-brest/1",
            "title": "Result 1 for tides in Brest",
            "cited_text": "Snippet 1 about tides in Brest",
            "encrypted_index": "idx-0",
        }
    ]
    assert body["usage"]["server_tool_use"] == {"web_search_requests": 1}


def test_messages_stream_events(http: httpx.Client) -> None:
    whole = _messages(http, tools=[MESSAGES_TOOL]).json()["content"]
    events = _events(_messages(http, tools=[MESSAGES_TOOL], stream=True))
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert starts[0]["content_block"]["input"] == {}
    fragments = [
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["index"] == 0
    ]
    assert len(fragments) == 2 and json.loads("".join(fragments)) == whole[0]["input"]
    assert starts[1]["content_block"]["content"] == whole[1]["content"]
    text_deltas = [
        e["delta"] for e in events if e["type"] == "content_block_delta" and e["index"] == 2
    ]
    assert text_deltas[0] == {"type": "citations_delta", "citation": whole[2]["citations"][0]}
    assert "".join(d.get("text", "") for d in text_deltas) == ANSWER
    final = next(e for e in events if e["type"] == "message_delta")
    assert final["usage"]["server_tool_use"] == {"web_search_requests": 1}
