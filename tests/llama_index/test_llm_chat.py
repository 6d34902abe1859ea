"""LunosLLM chat / completion / streaming / usage / config, against the local server."""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    VideoBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMChatStartEvent

from lunos_integrations.catalog import LunosCatalogWarning
from lunos_integrations.errors import AuthenticationError, LunosInputError
from lunos_integrations.llama_index import LunosLLM
from lunos_integrations.testing import ErrorReply, LocalLunosServer
from lunos_integrations.testing.fake_model import count_tokens

Bodies = Callable[[], list[dict[str, Any]]]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()
PDF = base64.b64encode(b"%PDF-1.4 tiny").decode()


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


# ---------------------------------------------------------------------------- basic calls


def test_chat_returns_text_and_usage(route_llm: LunosLLM) -> None:
    response = route_llm.chat(user('Say "pong"'))
    assert response.message.content == "pong"
    assert response.message.role == "assistant"
    kw = response.additional_kwargs
    assert kw["prompt_tokens"] == count_tokens('Say "pong"')
    assert kw["completion_tokens"] == 1
    assert kw["total_tokens"] == kw["prompt_tokens"] + 1
    assert kw["cached_tokens"] == 0 and kw["reasoning_tokens"] == 0
    assert kw["cost"] > 0  # from usage.cost (catalog prices when the server sends none)
    usage = response.raw["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (kw["prompt_tokens"], 1)
    assert usage["cost"] == kw["cost"]


async def test_achat(route_llm: LunosLLM) -> None:
    response = await route_llm.achat(user("hello there"))
    assert response.message.content == "Hello! You said: hello there"
    assert response.additional_kwargs["completion_tokens"] == count_tokens(
        "Hello! You said: hello there"
    )


def test_stream_chat_accumulates_and_reports_usage(route_llm: LunosLLM) -> None:
    chunks = list(route_llm.stream_chat(user("stream me please")))
    expected = "Hello! You said: stream me please"
    assert len(chunks) > 2
    assert "".join(c.delta or "" for c in chunks) == expected
    assert chunks[-1].message.content == expected
    last = chunks[-1]
    assert last.additional_kwargs["completion_tokens"] == count_tokens(expected)
    assert last.additional_kwargs["prompt_tokens"] == count_tokens("stream me please")
    assert last.raw["usage"]["total_tokens"] == last.additional_kwargs["total_tokens"]
    # Every chunk carries the accumulated message so far.
    assert all(expected.startswith(c.message.content or "") for c in chunks)


async def test_astream_chat(route_llm: LunosLLM) -> None:
    gen = await route_llm.astream_chat(user("async stream"))
    chunks = [c async for c in gen]
    assert chunks[-1].message.content == "Hello! You said: async stream"
    assert chunks[-1].additional_kwargs["completion_tokens"] > 0


def test_complete_family(route_llm: LunosLLM) -> None:
    assert route_llm.complete('Say "one"').text == "one"
    streamed = list(route_llm.stream_complete('Say "two"'))
    assert streamed[-1].text == "two"
    assert "".join(c.delta or "" for c in streamed) == "two"


async def test_acomplete_family(route_llm: LunosLLM) -> None:
    assert (await route_llm.acomplete('Say "three"')).text == "three"
    gen = await route_llm.astream_complete('Say "four"')
    chunks = [c async for c in gen]
    assert chunks[-1].text == "four"


# ---------------------------------------------------------------------------- wire body


def test_optional_parameters_sent_only_when_set(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    make_llm(model="openai/gpt-4o-mini").chat(user("hi"))
    make_llm(model="anthropic/claude-sonnet-4", api="messages").chat(user("hi"))
    chat_body, messages_body = bodies()
    assert set(chat_body) == {"model", "messages"}
    # max_tokens is required by the Messages API; the codec fills its default.
    assert set(messages_body) == {"model", "max_tokens", "messages"}


def test_configured_and_per_call_parameters(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    llm = make_llm(
        model="openai/gpt-4o",
        temperature=0.2,
        max_tokens=50,
        stop=["END"],
        seed=7,
        app_id="li-tests",
        additional_kwargs={"frequency_penalty": 0.5, "plugins": [{"id": "file-parser"}]},
    )
    llm.chat(
        user("hi"),
        temperature=0.5,
        extra_body={"observability": True},
        extra_headers={"X-Trace": "abc"},
    )
    body = bodies()[-1]
    assert body["temperature"] == 0.5  # per call wins
    assert body["max_tokens"] == 50 and body["stop"] == ["END"] and body["seed"] == 7
    assert body["frequency_penalty"] == 0.5  # a known option, encoded per route
    assert body["plugins"] == [{"id": "file-parser"}]
    assert body["observability"] is True
    # (the catalog fetch that pricing starts may land after the call: skip it)
    headers = [r for r in lunos_server.requests if not r.path.endswith("/models")][-1].headers
    assert headers["x-app-id"] == "li-tests"
    assert headers["x-trace"] == "abc"


def test_stream_usage_is_on_by_default_and_can_be_turned_off(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    list(make_llm().stream_chat(user("a")))
    list(make_llm(stream_usage=False).stream_chat(user("b")))
    on, off = bodies()
    assert on["stream_options"] == {"include_usage": True}
    assert "stream_options" not in off


# ---------------------------------------------------------------------------- metadata


def test_metadata_from_catalog(make_llm: Callable[..., LunosLLM]) -> None:
    meta = make_llm(model="google/gemini-2.5-flash").metadata
    assert meta.context_window == 1048576
    assert meta.is_chat_model and meta.is_function_calling_model
    assert meta.model_name == "google/gemini-2.5-flash"
    assert meta.num_output == 65535  # catalog output cap (below a quarter of the window)
    # DeepSeek R1 does not list "tools": agents must not treat it as function calling.
    assert make_llm(model="deepseek/deepseek-r1").metadata.is_function_calling_model is False
    assert make_llm(model="openai/gpt-4o", max_tokens=123).metadata.num_output == 123


def test_metadata_for_unknown_model_uses_modern_defaults(
    make_llm: Callable[..., LunosLLM],
) -> None:
    with pytest.warns(LunosCatalogWarning, match="'acme/brand-new-model-2027'.*assumes 128000"):
        meta = make_llm(model="acme/brand-new-model-2027").metadata
    assert meta.context_window == 128_000
    assert meta.is_function_calling_model is True and meta.is_chat_model is True
    overridden = make_llm(
        model="acme/x", context_window=32_000, is_function_calling_model=False
    ).metadata
    assert (overridden.context_window, overridden.is_function_calling_model) == (32_000, False)


def test_metadata_is_looked_up_once_per_instance(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM]
) -> None:
    llm = make_llm(model="openai/gpt-4o")
    for _ in range(5):
        assert llm.metadata.context_window == 128000
    for _ in range(3):
        llm.chat(user("x"))
    model_fetches = [r for r in lunos_server.requests if r.path.endswith("/models")]
    assert len(model_fetches) == 1
    llm.model = "google/gemini-2.5-flash"  # changing the model refreshes metadata
    assert llm.metadata.context_window == 1048576


def test_metadata_when_catalog_unreachable() -> None:
    llm = LunosLLM(
        model="openai/gpt-4o",
        api_key="sk-test-123456",
        base_url="http://127.0.0.1:9/v1",
        max_retries=0,
        timeout=2,
    )
    with pytest.warns(LunosCatalogWarning):
        meta = llm.metadata
    assert meta.context_window == 128_000 and meta.is_function_calling_model


# ---------------------------------------------------------------------------- secrets


def test_api_key_never_serialised(lunos_server: LocalLunosServer) -> None:
    llm = LunosLLM(api_key=lunos_server.api_key, base_url=lunos_server.base_url)
    key = lunos_server.api_key
    assert key not in json.dumps(llm.to_dict())
    assert key not in llm.to_json()
    assert key not in repr(llm) and key not in str(llm)
    assert key not in json.dumps(llm.to_payload())
    assert "api_key" not in llm.to_dict()
    assert llm.to_dict()["class_name"] == "LunosLLM"


def test_api_key_not_in_instrumentation_events(make_llm: Callable[..., LunosLLM]) -> None:
    seen = _collect_events(lambda: make_llm().chat(user("hi")))
    start = [e for e in seen if isinstance(e, LLMChatStartEvent)]
    assert start and "sk-lunos-local-test" not in json.dumps(start[0].model_dict)


# ---------------------------------------------------------------------------- usage handlers


class _Collector(BaseEventHandler):
    events: list[BaseEvent] = []

    @classmethod
    def class_name(cls) -> str:
        return "Collector"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


def _collect_events(fn: Callable[[], Any]) -> list[BaseEvent]:
    dispatcher = get_dispatcher()
    handler = _Collector(events=[])
    dispatcher.add_event_handler(handler)
    try:
        fn()
    finally:
        dispatcher.event_handlers.remove(handler)
    return handler.events


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_token_counting_handler_uses_server_usage(route_llm: LunosLLM, stream: bool) -> None:
    counter = TokenCountingHandler(tokenizer=lambda s: ["x"])  # estimates would be wrong
    route_llm.callback_manager = CallbackManager([counter])
    text = "count these tokens exactly"
    if stream:
        for _ in route_llm.stream_chat(user(text)):
            pass
    else:
        route_llm.chat(user(text))
    assert counter.prompt_llm_token_count == count_tokens(text)
    assert counter.completion_llm_token_count == count_tokens(f"Hello! You said: {text}")


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_llm_chat_end_event_carries_usage(route_llm: LunosLLM, stream: bool) -> None:
    def run() -> None:
        if stream:
            list(route_llm.stream_chat(user("instrument me")))
        else:
            route_llm.chat(user("instrument me"))

    ends = [e for e in _collect_events(run) if isinstance(e, LLMChatEndEvent)]
    assert len(ends) == 1
    response = ends[0].response
    assert response is not None
    assert response.raw["usage"]["prompt_tokens"] == count_tokens("instrument me")
    assert response.additional_kwargs["completion_tokens"] > 0


# ---------------------------------------------------------------------------- reasoning


def test_reasoning_content_becomes_thinking_block(make_llm: Callable[..., LunosLLM]) -> None:
    llm = make_llm(model="deepseek/deepseek-r1")
    response = llm.chat(user("why is the sky blue"))
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert [t.content for t in thinking] == ["Thinking about: why is the sky blue"]
    assert response.message.content == "Hello! You said: why is the sky blue"
    assert response.additional_kwargs["reasoning_tokens"] == count_tokens(
        "Thinking about: why is the sky blue"
    )
    chunks = list(llm.stream_chat(user("why is the sky blue")))
    last = chunks[-1]
    streamed = [b for b in last.message.blocks if isinstance(b, ThinkingBlock)]
    assert streamed[0].content == "Thinking about: why is the sky blue"
    assert "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks) == (
        "Thinking about: why is the sky blue"
    )
    assert last.additional_kwargs["reasoning_tokens"] > 0


def test_reasoning_details_round_trip(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    llm = make_llm(model="openai/o3-mini", reasoning_effort="low")
    first = llm.chat(user("plan a trip"))
    thinking = next(b for b in first.message.blocks if isinstance(b, ThinkingBlock))
    assert thinking.additional_information["reasoning_details"]
    llm.chat([*user("plan a trip"), first.message, *user("and then?")])
    body = bodies()[-1]
    assert body["reasoning_effort"] == "low"
    assistant = body["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["reasoning_content"] == "Thinking about: plan a trip"
    assert assistant["reasoning_details"] == thinking.additional_information["reasoning_details"]


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_anthropic_thinking_signature_round_trip(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies, stream: bool
) -> None:
    llm = make_llm(
        model="anthropic/claude-sonnet-4",
        api="messages",
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    if stream:
        message = list(llm.stream_chat(user("think hard")))[-1].message
    else:
        message = llm.chat(user("think hard")).message
    thinking = next(b for b in message.blocks if isinstance(b, ThinkingBlock))
    assert thinking.content == "Thinking about: think hard"
    signature = thinking.additional_information["signature"]
    assert signature
    llm.chat([*user("think hard"), message, *user("more")])
    sent = bodies()[-1]["messages"][1]["content"][0]
    assert sent == {
        "type": "thinking",
        "thinking": "Thinking about: think hard",
        "signature": signature,
    }


# ---------------------------------------------------------------------------- multimodal


def test_image_blocks_url_base64_and_path(
    lunos_server: LocalLunosServer,
    make_llm: Callable[..., LunosLLM],
    bodies: Bodies,
    tmp_path: Path,
) -> None:
    path = tmp_path / "pic.png"
    path.write_bytes(base64.b64decode(PNG))
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="describe"),
            ImageBlock(url="https://example.com/cat.png", detail="low"),
            ImageBlock(image=base64.b64decode(PNG), image_mimetype="image/png"),
            ImageBlock(path=path),
        ],
    )
    response = make_llm(model="openai/gpt-4o").chat([message])
    assert (
        response.message.content == "Hello! You said: describe [attachments: image, image, image]"
    )
    parts = bodies()[-1]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "describe"}
    assert parts[1] == {
        "type": "image_url",
        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
    }
    assert parts[2]["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert parts[3]["image_url"]["url"] == f"data:image/png;base64,{PNG}"


def test_document_block_on_both_routes(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    doc = DocumentBlock(
        data=base64.b64decode(PDF), document_mimetype="application/pdf", title="report.pdf"
    )
    msg = ChatMessage(role="user", blocks=[TextBlock(text="summarise"), doc])
    make_llm(model="google/gemini-2.5-flash").chat([msg])
    make_llm(model="anthropic/claude-sonnet-4", api="messages").chat([msg])
    chat_body, messages_body = bodies()
    assert chat_body["messages"][0]["content"][1] == {
        "type": "file",
        "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{PDF}"},
    }
    block = messages_body["messages"][0]["content"][1]
    assert block["type"] == "document"
    assert block["source"]["data"] == PDF


def test_audio_block(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    audio = base64.b64encode(b"RIFF....WAVEfmt ").decode()
    msg = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="transcribe"),
            AudioBlock(audio=base64.b64decode(audio), format="wav"),
        ],
    )
    response = make_llm(model="google/gemini-2.5-flash").chat([msg])
    assert "[attachments: audio]" in (response.message.content or "")
    part = bodies()[-1]["messages"][0]["content"][1]
    assert part == {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}


def test_unsupported_block_is_a_typed_error(make_llm: Callable[..., LunosLLM]) -> None:
    msg = ChatMessage(
        role="user", blocks=[TextBlock(text="x"), VideoBlock(url="https://example.com/v.mp4")]
    )
    with pytest.raises(LunosInputError) as info:
        make_llm().chat([msg])
    assert info.value.param == "messages[0].blocks[1]"


def test_bad_api_is_a_typed_error(lunos_server: LocalLunosServer) -> None:
    with pytest.raises(LunosInputError) as info:
        LunosLLM(api="responses", api_key=lunos_server.api_key, base_url=lunos_server.base_url)
    assert info.value.param == "api"


# ---------------------------------------------------------------------------- transport behaviour


def test_one_retry_layer(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    llm = make_llm(max_retries=1)
    assert llm.metadata.context_window  # fetch the catalog first: scripts meet chat calls only
    lunos_server.enqueue(ErrorReply(503, headers={"Retry-After": "0"}), path="/chat/completions")
    assert llm.chat(user('Say "ok"')).message.content == "ok"
    assert len(bodies()) == 2  # transport retried once; nothing else did

    lunos_server.enqueue(ErrorReply(401), path="/chat/completions")
    with pytest.raises(AuthenticationError):
        make_llm(max_retries=3).chat(user("x"))
    assert len(bodies()) == 3  # 401 is never retried


def test_fallback_model_reported(
    lunos_server: LocalLunosServer, make_llm: Callable[..., LunosLLM], bodies: Bodies
) -> None:
    llm = make_llm(model="openai/gpt-4o", fallback_model="openai/gpt-4o-mini")
    assert llm.metadata.context_window  # fetch the catalog first
    lunos_server.enqueue(ErrorReply(404), path="/chat/completions")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        response = llm.chat(user('Say "hi"'))
    assert response.message.content == "hi"
    assert response.additional_kwargs["model"] == "openai/gpt-4o-mini"
    assert [b["model"] for b in bodies()] == ["openai/gpt-4o", "openai/gpt-4o-mini"]


# ---------------------------------------------------------------------------- object hygiene


def test_streamed_chunks_are_valid_pydantic_objects(route_llm: LunosLLM) -> None:
    """Chunks are built without re-validation (hot path); they must still round-trip."""
    from llama_index.core.base.llms.types import ChatResponse

    for chunk in route_llm.stream_chat(user("round trip")):
        again = ChatResponse.model_validate(chunk.model_dump())
        assert again.message.content == chunk.message.content
        assert again.delta == chunk.delta
        assert again.additional_kwargs == chunk.additional_kwargs
    response = route_llm.chat(user("round trip"))
    assert ChatResponse.model_validate(response.model_dump()).message == response.message


def test_lazy_import_from_package_root() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lunos_integrations as li;"
        "assert 'llama_index.core' not in sys.modules;"
        "from lunos_integrations import LunosLLM, LunosEmbedding;"
        "assert LunosLLM.__module__.endswith('llama_index.llm');"
        "assert 'langchain_core' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_async_calls_never_fetch_the_catalog_on_the_event_loop(
    lunos_server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a running loop the blocking catalog look-up must not run; the async path
    awaits the non-blocking one, and metadata then reflects the catalog."""
    from llama_index.core.llms import ChatMessage

    import lunos_integrations.catalog as catalog
    from lunos_integrations.llama_index import LunosLLM

    def no_blocking_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("blocking catalog look-up inside the event loop")

    monkeypatch.setattr(catalog, "lookup_model", no_blocking_lookup)
    llm = LunosLLM(
        model="deepseek/deepseek-r1", base_url=lunos_server.base_url, api_key=lunos_server.api_key
    )
    response = await llm.achat([ChatMessage(role="user", content="hi")])
    assert response.message.content
    assert llm.metadata.context_window == 163840  # from the catalog, not the default
    chunks = [c async for c in await llm.astream_chat([ChatMessage(role="user", content="hi")])]
    assert chunks
