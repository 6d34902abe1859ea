"""LangChain v1 content blocks: ``model_provider``, the ``lunos`` translator, output v1.

Every ChatLunos message and chunk says ``model_provider="lunos"``, and ``content_blocks``
must give the standard block for each thing a reply can hold, on both routes, streamed
and not: reasoning, text, tool calls (whole, chunks, invalid), images, citations and
server-tool calls/results. Where ChatOpenAI / ChatAnthropic read the same wire reply from
the same local server, the blocks must be the ones they produce.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_openai import ChatOpenAI
from lc_support import PNG_B64, chat_bodies
from pydantic import BaseModel

from lunos_integrations.langchain import ChatLunos
from lunos_integrations.testing import JSONReply, LocalLunosServer, StreamReply

ROUTES = {
    "chat_completions": ("deepseek/deepseek-r1", {}),
    "messages": (
        "anthropic/claude-sonnet-4",
        {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048},
    ),
}
WEB_SEARCH = {
    "chat_completions": {"type": "web_search", "parameters": {"max_results": 2}},
    "messages": {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
}


class GetWeather(BaseModel):
    """Weather for a city."""

    city: str


def _llm(server: LocalLunosServer, api: str, **kwargs: Any) -> ChatLunos:
    model, extra = ROUTES[api]
    options = {**extra, **kwargs}
    return ChatLunos(
        model=model, api=api, base_url=server.base_url, api_key=server.api_key, **options
    )


def _collect(chunks: Any) -> AIMessageChunk:
    full = None
    for chunk in chunks:
        full = chunk if full is None else full + chunk
    assert isinstance(full, AIMessageChunk)
    return full


async def _acollect(chunks: Any) -> AIMessageChunk:
    full = None
    async for chunk in chunks:
        full = chunk if full is None else full + chunk
    assert isinstance(full, AIMessageChunk)
    return full


def _no_index(blocks: Any) -> Any:
    """Blocks without the ``index`` keys core adds while merging v1 stream chunks."""
    if isinstance(blocks, list):
        return [_no_index(b) for b in blocks]
    if isinstance(blocks, dict):
        return {k: _no_index(v) for k, v in blocks.items() if k != "index"}
    return blocks


def _types(message: BaseMessage) -> list[str]:
    return [b["type"] for b in message.content_blocks]


# ---------------------------------------------------------------------------- model_provider


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_model_provider_on_every_message_and_chunk(server: LocalLunosServer, api: str) -> None:
    llm = _llm(server, api).bind_tools([GetWeather])
    assert llm.invoke("hello").response_metadata["model_provider"] == "lunos"
    chunks = list(llm.stream("GetWeather for Paris"))
    assert len(chunks) > 3
    assert {c.response_metadata.get("model_provider") for c in chunks} == {"lunos"}
    # Merged chunks keep the one value (core does not concatenate this key).
    assert _collect(chunks).response_metadata["model_provider"] == "lunos"


async def test_model_provider_on_async_chunks(server: LocalLunosServer) -> None:
    chunks = [c async for c in _llm(server, "messages").astream("hello")]
    assert {c.response_metadata.get("model_provider") for c in chunks} == {"lunos"}


# ---------------------------------------------------------------------------- block kinds


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_reasoning_and_text_blocks(server: LocalLunosServer, api: str) -> None:
    llm = _llm(server, api)
    whole = llm.invoke("hello")
    blocks = whole.content_blocks
    assert _types(whole) == ["reasoning", "text"]
    assert blocks[0]["reasoning"] == "Thinking about: hello"  # type: ignore[typeddict-item]
    assert blocks[1] == {"type": "text", "text": "Hello! You said: hello"}
    if api == "messages":
        signature = whole.additional_kwargs["thinking_blocks"][0]["signature"]
        assert blocks[0]["extras"] == {"signature": signature}  # type: ignore[typeddict-item]
    assert _collect(llm.stream("hello")).content_blocks == blocks


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_tool_call_blocks(server: LocalLunosServer, api: str) -> None:
    llm = _llm(server, api).bind_tools([GetWeather])
    whole = llm.invoke("GetWeather for Paris")
    call = whole.tool_calls[0]
    assert whole.content_blocks[-1] == {
        "type": "tool_call",
        "name": "GetWeather",
        "args": {"city": "Paris"},
        "id": call["id"],
    }
    chunks = list(llm.stream("GetWeather for Paris"))
    pieces = [b for c in chunks for b in c.content_blocks if b["type"] == "tool_call_chunk"]
    assert pieces and all(b.get("index") == "lc_tc_0" for b in pieces)
    assert "".join(str(b.get("args") or "") for b in pieces) == '{"city": "Paris"}'
    assert _collect(chunks).content_blocks == whole.content_blocks


def test_invalid_tool_call_block(server: LocalLunosServer) -> None:
    bad = {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
    server.enqueue(
        JSONReply(
            {"choices": [{"message": {"content": "", "tool_calls": [bad]}, "finish_reason": "x"}]}
        )
    )
    message = _llm(server, "chat_completions").invoke("hi")
    (block,) = message.content_blocks
    assert block["type"] == "invalid_tool_call"
    assert (block["id"], block["name"], block["args"]) == ("call_9", "f", "{oops")  # type: ignore[typeddict-item]


def test_image_blocks_invoke_and_stream(server: LocalLunosServer) -> None:
    data_url = f"data:image/png;base64,{PNG_B64}"
    images = [
        {"type": "image_url", "image_url": {"url": data_url}},
        {"type": "image_url", "image_url": {"url": "https://img.example/a.png"}},
    ]
    expected = [
        {"type": "text", "text": "here"},
        {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
        {"type": "image", "url": "https://img.example/a.png"},
    ]
    server.enqueue(
        JSONReply(
            {
                "choices": [
                    {"message": {"content": "here", "images": images}, "finish_reason": "stop"}
                ]
            }
        )
    )
    llm = _llm(server, "chat_completions")
    assert llm.invoke("draw").content_blocks == expected
    assert base64.b64decode(PNG_B64)  # the fixture is real base64
    server.enqueue(
        StreamReply(
            [
                {"choices": [{"index": 0, "delta": {"content": "here"}}]},
                {"choices": [{"index": 0, "delta": {"images": images}, "finish_reason": "stop"}]},
                "[DONE]",
            ]
        )
    )
    assert _collect(llm.stream("draw")).content_blocks == expected


# ---------------------------------------------------------------------------- citations


def _search(server: LocalLunosServer, api: str) -> Any:
    return _llm(server, api).bind_tools([WEB_SEARCH[api]])


def _expected_annotations(api: str, text: str) -> list[dict[str, Any]]:
    out = []
    for n in (1, 2):
        entry: dict[str, Any] = {
            "type": "citation",
            "url": f"https://search.example/news-about-paris/{n}",
            "title": f"Result {n} for news about Paris",
            "start_index": 0,
            "end_index": len(text),
        }
        snippet = f"Snippet {n} about news about Paris"
        if api == "messages":
            entry["cited_text"] = snippet
            entry["extras"] = {"encrypted_index": f"idx-{n - 1}"}
        else:
            entry["extras"] = {"content": snippet}
        out.append(entry)
    return out


def _check_citations(message: BaseMessage, api: str) -> None:
    text_block = next(b for b in message.content_blocks if b["type"] == "text")
    assert text_block["annotations"] == _expected_annotations(api, message.text)  # type: ignore[typeddict-item]
    stored = message.additional_kwargs["annotations"]
    assert [a["url"] for a in stored] == [
        "https://search.example/news-about-paris/1",
        "https://search.example/news-about-paris/2",
    ]
    if api == "messages":
        server = [b for b in message.content_blocks if b["type"].startswith("server_tool")]
        assert [b["type"] for b in server] == ["server_tool_call", "server_tool_result"]
        call, result = server
        assert call["name"] == "web_search"  # type: ignore[typeddict-item]
        assert call["args"] == {"query": "news about Paris"}  # type: ignore[typeddict-item]
        assert result["tool_call_id"] == call["id"]  # type: ignore[typeddict-item]
        assert result["status"] == "success"  # type: ignore[typeddict-item]
        assert [r["url"] for r in result["output"]] == [a["url"] for a in stored]  # type: ignore[typeddict-item]
    else:
        assert "server_tool_blocks" not in message.additional_kwargs
    assert message.tool_calls == []  # the server ran the search


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_citations_invoke_and_stream(server: LocalLunosServer, api: str) -> None:
    llm = _search(server, api)
    _check_citations(llm.invoke("news about Paris"), api)
    _check_citations(_collect(llm.stream("news about Paris")), api)
    sent = chat_bodies(server)
    assert all(WEB_SEARCH[api] in body["tools"] for _, body in sent)


@pytest.mark.parametrize("api", sorted(ROUTES))
async def test_citations_ainvoke_and_astream(server: LocalLunosServer, api: str) -> None:
    llm = _search(server, api)
    _check_citations(await llm.ainvoke("news about Paris"), api)
    _check_citations(await _acollect(llm.astream("news about Paris")), api)


def test_repeated_stream_annotations_are_not_duplicated(server: LocalLunosServer) -> None:
    ann = {"type": "url_citation", "url": "https://a.example", "start_index": 0, "end_index": 2}
    server.enqueue(
        StreamReply(
            [
                {"choices": [{"index": 0, "delta": {"content": "hi", "annotations": [ann]}}]},
                {
                    "choices": [
                        {"index": 0, "delta": {"annotations": [ann]}, "finish_reason": "stop"}
                    ]
                },
                "[DONE]",
            ]
        )
    )
    message = _collect(_llm(server, "chat_completions").stream("x"))
    assert message.additional_kwargs["annotations"] == [
        {"type": "url_citation", "url": "https://a.example", "start_index": 0, "end_index": 2}
    ]


# ---------------------------------------------------------------------------- output_version v1


def _v1_cases(api: str) -> list[tuple[Callable[[Any], Any], str]]:
    return [
        (lambda m: m, "hello"),
        (lambda m: m.bind_tools([GetWeather]), "GetWeather for Paris"),
        (lambda m: m.bind_tools([WEB_SEARCH[api]]), "news about Paris"),
    ]


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_output_version_v1_content_is_the_standard_blocks(
    server: LocalLunosServer, api: str
) -> None:
    for wrap, prompt in _v1_cases(api):
        v0 = wrap(_llm(server, api)).invoke(prompt)
        v1 = wrap(_llm(server, api, output_version="v1")).invoke(prompt)
        assert isinstance(v1.content, list)
        assert v1.response_metadata["output_version"] == "v1"
        assert _ids_blank(v1.content) == _ids_blank(v0.content_blocks)
        streamed = _collect(wrap(_llm(server, api, output_version="v1")).stream(prompt))
        assert isinstance(streamed.content, list)
        assert _ids_blank(_no_index(streamed.content)) == _ids_blank(v0.content_blocks)
        assert streamed.tool_calls == v0.tool_calls or _ids_blank(streamed.tool_calls) == (
            _ids_blank(v0.tool_calls)
        )


def _ids_blank(value: Any) -> Any:
    """Server-made ids differ per request (srvtoolu_local<n>); everything else must match."""
    if isinstance(value, list):
        return [_ids_blank(v) for v in value]
    if isinstance(value, dict):
        return {
            k: ("<id>" if k in ("id", "tool_call_id") and isinstance(v, str) else _ids_blank(v))
            for k, v in value.items()
        }
    return value


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_v1_history_is_sent_back_correctly(server: LocalLunosServer, api: str) -> None:
    llm = _llm(server, api, output_version="v1").bind_tools([GetWeather])
    first = llm.invoke("GetWeather for Paris")
    assert isinstance(first.content, list)
    call = first.tool_calls[0]
    since = len(server.requests)
    second = llm.invoke(
        [
            HumanMessage("GetWeather for Paris"),
            first,
            ToolMessage("sunny", tool_call_id=call["id"]),
        ]
    )
    assert second.text == "The tool returned: sunny"
    [(_, body)] = chat_bodies(server, since)
    assistant = body["messages"][1]
    if api == "messages":
        kinds = [b["type"] for b in assistant["content"]]
        assert kinds == ["thinking", "tool_use"]
        signature = first.content[0]["extras"]["signature"]  # type: ignore[index]
        assert assistant["content"][0]["signature"] == signature
        assert assistant["content"][1]["id"] == call["id"]
    else:
        assert assistant["tool_calls"][0]["id"] == call["id"]
        assert assistant["reasoning_content"] == "Thinking about: GetWeather for Paris"


# ---------------------------------------------------------------------------- differential


def _anthropic(server: LocalLunosServer, **kwargs: Any) -> ChatAnthropic:
    return ChatAnthropic(
        model="anthropic/claude-sonnet-4",
        base_url=server.root_url,  # type: ignore[call-arg]
        api_key=server.api_key,
        **kwargs,
    )


def _set(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def _sdk_nulls_dropped(blocks: Any) -> Any:
    """ChatAnthropic copies the SDK model's unset fields (``toolset_name: None``) into
    ``extras``; they are not in the wire reply, so they are not compared."""
    out = []
    for block in blocks:
        extras = block.get("extras")
        if isinstance(extras, dict):
            block = dict(block)
            kept = {k: v for k, v in extras.items() if v is not None}
            if kept:
                block["extras"] = kept
            else:
                del block["extras"]
        out.append(block)
    return out


def _without_spans(blocks: Any) -> Any:
    """Our citations also say which span of the text they cite; ChatAnthropic's do not."""
    out = []
    for block in blocks:
        if block.get("type") == "text" and "annotations" in block:
            block = dict(block)
            block["annotations"] = [
                {k: v for k, v in a.items() if k not in ("start_index", "end_index")}
                for a in block["annotations"]
            ]
        out.append(block)
    return out


DIFF_CASES: dict[str, tuple[Callable[[Any], Any], str, dict[str, Any]]] = {
    "thinking": (
        lambda m: m,
        "hello",
        {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048},
    ),
    "tools": (lambda m: m.bind_tools([GetWeather]), "GetWeather for Paris", {"max_tokens": 256}),
    "web_search": (
        lambda m: m.bind_tools([WEB_SEARCH["messages"]]),
        "news about Paris",
        {"max_tokens": 256},
    ),
}


@pytest.mark.parametrize("case", sorted(DIFF_CASES))
def test_messages_route_blocks_match_chat_anthropic(case: str) -> None:
    wrap, prompt, kwargs = DIFF_CASES[case]
    # One fresh server each, so server-made ids (srvtoolu_local1 ...) are the same.
    kwargs = {"thinking": None, **kwargs}
    with LocalLunosServer() as srv:
        ours = wrap(_llm(srv, "messages", **kwargs)).invoke(prompt)
    with LocalLunosServer() as srv:
        theirs = wrap(_anthropic(srv, **_set(kwargs))).invoke(prompt)
    assert _without_spans(ours.content_blocks) == _sdk_nulls_dropped(theirs.content_blocks)
    with LocalLunosServer() as srv:
        ours_s = _collect(wrap(_llm(srv, "messages", **kwargs)).stream(prompt))
    with LocalLunosServer() as srv:
        theirs_s = _collect(wrap(_anthropic(srv, **_set(kwargs))).stream(prompt))
    # ChatAnthropic's merged stream blocks carry its content-block indexes; ours do not.
    assert _without_spans(ours_s.content_blocks) == _sdk_nulls_dropped(
        _no_index(theirs_s.content_blocks)
    )


@pytest.mark.parametrize("case", ["plain", "tools"])
def test_chat_route_blocks_match_chat_openai(server: LocalLunosServer, case: str) -> None:
    def run(llm: Any) -> AIMessage:
        if case == "tools":
            llm = llm.bind_tools([GetWeather])
        return llm.invoke("GetWeather for Paris")  # type: ignore[no-any-return]

    ours = run(
        ChatLunos(
            model="openai/gpt-4o", base_url=server.base_url, api_key=server.api_key, max_tokens=64
        )
    )
    theirs = run(
        ChatOpenAI(
            model="openai/gpt-4o", base_url=server.base_url, api_key=server.api_key, max_tokens=64
        )  # type: ignore[call-arg]
    )
    assert theirs.response_metadata["model_provider"] == "openai"
    assert ours.content_blocks == theirs.content_blocks


@pytest.mark.parametrize("api", sorted(ROUTES))
def test_v1_history_with_citations_and_server_tools(server: LocalLunosServer, api: str) -> None:
    """Server-tool blocks ran on the server and citations annotate text: the next turn
    sends the assistant's text (and reasoning), nothing the server would read as a call."""
    llm = _llm(server, api, output_version="v1").bind_tools([WEB_SEARCH[api]])
    first = llm.invoke("news about Paris")
    since = len(server.requests)
    llm.invoke([HumanMessage("news about Paris"), first, HumanMessage("thanks")])
    [(_, body)] = chat_bodies(server, since)
    assistant = body["messages"][1]
    if api == "messages":
        assert [b["type"] for b in assistant["content"]] == ["thinking", "text"]
        assert assistant["content"][1]["text"] == "Hello! You said: news about Paris"
    else:
        assert assistant["content"] == "Hello! You said: news about Paris"
        assert "tool_calls" not in assistant


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_output_version_survives_dumpd_load_and_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    import pickle

    from langchain_core.load import dumpd, load

    monkeypatch.setenv("LUNOS_API_KEY", "sk-test-0123456789")
    model = ChatLunos(model="openai/gpt-4o", output_version="v1")
    data = dumpd(model)
    assert data["kwargs"]["output_version"] == "v1"
    restored = load(data, allowed_objects=[ChatLunos], valid_namespaces=["lunos_integrations"])
    assert restored.output_version == "v1"
    assert pickle.loads(pickle.dumps(model)).output_version == "v1"
