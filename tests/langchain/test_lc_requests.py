"""Golden request bodies: what ChatLunos sends for each feature, on both routes.

Bodies are built through the model's own request path (``_build_request`` + the client's
``encode``), compared with exact expectations, and validated against the published
request schemas (minus documented Lunos extras).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from lc_support import PDF_B64, PNG_B64, WAV_B64, assert_schema_valid
from pydantic import BaseModel, Field

from lunos_integrations.client import LunosClient
from lunos_integrations.errors import LunosInputError
from lunos_integrations.langchain import ChatLunos

KEY = "sk-test-key-123456"


def body_for(llm: Any, messages: Any, stream: bool = False, **kwargs: Any) -> dict[str, Any]:
    """The exact body ``llm`` would send (bound kwargs from ``bind``/``bind_tools`` apply)."""
    if hasattr(llm, "bound"):
        kwargs = {**llm.kwargs, **kwargs}
        llm = llm.bound
    msgs = llm._convert_input(messages).to_messages()
    req, api, _ = llm._build_request(msgs, None, kwargs, stream=stream)
    body = LunosClient.encode(req, api)
    assert_schema_valid(api, body)
    return body


def chat(**kw: Any) -> ChatLunos:
    return ChatLunos(model="openai/gpt-4o", api_key=KEY, **kw)


def claude(**kw: Any) -> ChatLunos:
    return ChatLunos(model="anthropic/claude-sonnet-4", api="messages", api_key=KEY, **kw)


class Weather(BaseModel):
    """Get the weather for a city."""

    city: str = Field(description="City name")


def test_plain_chat_sends_only_what_was_set() -> None:
    assert body_for(chat(), "hi") == {
        "model": "openai/gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_plain_messages_route_defaults_max_tokens() -> None:
    assert body_for(claude(), "hi") == {
        "model": "anthropic/claude-sonnet-4",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_all_sampling_params_chat() -> None:
    llm = chat(
        temperature=0.2,
        max_tokens=50,
        top_p=0.9,
        stop=["END"],
        seed=7,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        reasoning_effort="low",
        fallback_model="openai/gpt-4o-mini",
        observability=True,
        model_kwargs={"plugins": [{"id": "file-parser", "pdf": {"engine": "native"}}]},
        extra_body={"modalities": ["text"]},
    )
    assert body_for(llm, "hi", stream=True) == {
        "model": "openai/gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "reasoning_effort": "low",
        "fallback_model": "openai/gpt-4o-mini",
        "observability": True,
        "stream": True,
        "stream_options": {"include_usage": True},
        "plugins": [{"id": "file-parser", "pdf": {"engine": "native"}}],
        "modalities": ["text"],
    }


def test_stream_usage_can_be_turned_off() -> None:
    body = body_for(chat(stream_usage=False), "hi", stream=True)
    assert "stream_options" not in body
    body = body_for(chat(), "hi", stream=True, stream_usage=False)
    assert "stream_options" not in body


def test_sampling_params_messages_route() -> None:
    llm = claude(
        temperature=0.5,
        max_tokens=2048,
        top_p=0.8,
        top_k=5,
        stop=["X"],
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert body_for(llm, [SystemMessage("be terse"), HumanMessage("hi")]) == {
        "model": "anthropic/claude-sonnet-4",
        "max_tokens": 2048,
        "messages": [{"role": "user", "content": "hi"}],
        "system": "be terse",
        "temperature": 0.5,
        "top_p": 0.8,
        "top_k": 5,
        "stop_sequences": ["X"],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }


def test_per_call_overrides_and_unknown_kwargs_go_to_body() -> None:
    body = body_for(
        chat(temperature=0.1), "hi", temperature=0.9, model="openai/gpt-4o-mini", logprobs=True
    )
    assert body["temperature"] == 0.9
    assert body["model"] == "openai/gpt-4o-mini"
    assert body["logprobs"] is True


def test_reasoning_object_chat_route() -> None:
    body = body_for(
        ChatLunos(model="openai/o3-mini", api_key=KEY, reasoning={"effort": "high"}), "hi"
    )
    assert body["reasoning"] == {"effort": "high"}


@pytest.mark.parametrize(
    ("choice", "chat_wire", "messages_wire"),
    [
        ("auto", "auto", {"type": "auto"}),
        ("none", "none", {"type": "none"}),
        ("any", "required", {"type": "any"}),
        ("required", "required", {"type": "any"}),
        (
            "Weather",
            {"type": "function", "function": {"name": "Weather"}},
            {"type": "tool", "name": "Weather"},
        ),
        (
            True,
            {"type": "function", "function": {"name": "Weather"}},
            {"type": "tool", "name": "Weather"},
        ),
        (
            {"type": "function", "function": {"name": "Weather"}},
            {"type": "function", "function": {"name": "Weather"}},
            {"type": "tool", "name": "Weather"},
        ),
    ],
)
def test_tool_choice_mapping(choice: Any, chat_wire: Any, messages_wire: Any) -> None:
    body = body_for(chat().bind_tools([Weather], tool_choice=choice), "weather in Paris?")
    assert body["tool_choice"] == chat_wire
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Weather",
                "description": "Get the weather for a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "description": "City name"}},
                    "required": ["city"],
                },
            },
        }
    ]
    body = body_for(claude().bind_tools([Weather], tool_choice=choice), "weather in Paris?")
    assert body["tool_choice"] == messages_wire
    assert body["tools"][0]["input_schema"]["required"] == ["city"]


def test_parallel_tool_calls_and_strict_only_when_set() -> None:
    body = body_for(chat().bind_tools([Weather]), "x")
    assert "parallel_tool_calls" not in body and "strict" not in body["tools"][0]["function"]
    body = body_for(chat().bind_tools([Weather], parallel_tool_calls=False, strict=True), "x")
    assert body["parallel_tool_calls"] is False
    assert body["tools"][0]["function"]["strict"] is True
    body = body_for(claude().bind_tools([Weather], parallel_tool_calls=False), "x")
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_unknown_tool_choice_fails_at_bind_time() -> None:
    with pytest.raises(LunosInputError) as info:
        chat().bind_tools([Weather], tool_choice="Nope")
    assert info.value.param == "tool_choice"


def test_web_search_server_tool_is_kept_beside_function_tools() -> None:
    web = {"type": "web_search", "parameters": {"engine": "exa", "max_results": 3}}
    body = body_for(chat().bind_tools([Weather, web]), "x")
    assert [t["type"] for t in body["tools"]] == ["function", "web_search"]
    assert body["tools"][1] == web


def test_server_tool_on_the_messages_route_follows_the_anthropic_function_tools() -> None:
    web = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    body = body_for(claude().bind_tools([Weather, web]), "x")
    assert body["tools"][0]["name"] == "Weather" and "input_schema" in body["tools"][0]
    assert body["tools"][1] == web
    only = body_for(claude().bind_tools([web]), "x")
    assert only["tools"] == [web] and "tool_choice" not in only


def _history() -> list[Any]:
    return [
        SystemMessage("sys"),
        HumanMessage("weather in Paris?", name="alice"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "Weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
            ],
            additional_kwargs={"reasoning_content": "need the tool"},
        ),
        ToolMessage("sunny", tool_call_id="call_1"),
        ToolMessage("boom", tool_call_id="call_1", status="error"),
    ]


def test_tool_round_trip_chat_route() -> None:
    body = body_for(chat().bind_tools([Weather]), _history())
    assert body["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "weather in Paris?", "name": "alice"},
        {
            # content "": llama-cpp-python's server rejects null and fails on a missing key.
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "Weather", "arguments": '{"city":"Paris"}'},
                }
            ],
            "reasoning_content": "need the tool",
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_1", "content": "boom"},
    ]


def test_tool_round_trip_messages_route_with_signed_thinking() -> None:
    history = _history()
    history[2] = AIMessage(
        "",
        tool_calls=[
            {"name": "Weather", "args": {"city": "Paris"}, "id": "toolu_1", "type": "tool_call"}
        ],
        additional_kwargs={
            "reasoning_content": "need the tool",
            "thinking_blocks": [
                {"type": "thinking", "thinking": "need the tool", "signature": "sig==", "index": 0}
            ],
        },
    )
    history[3] = ToolMessage("sunny", tool_call_id="toolu_1")
    history[4] = ToolMessage("boom", tool_call_id="toolu_1", status="error")
    body = body_for(claude().bind_tools([Weather]), history)
    assert body["system"] == "sys"
    assert body["messages"] == [
        {"role": "user", "content": "weather in Paris?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "need the tool", "signature": "sig=="},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "Weather",
                    "input": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "boom",
                    "is_error": True,
                },
            ],
        },
    ]


def test_reasoning_details_are_sent_back() -> None:
    details = [{"type": "reasoning.text", "text": "hm", "index": 0}]
    msgs = [
        HumanMessage("a"),
        AIMessage("b", additional_kwargs={"reasoning_content": "hm", "reasoning_details": details}),
        HumanMessage("c"),
    ]
    body = body_for(ChatLunos(model="openai/o3-mini", api_key=KEY), msgs)
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "b",
        "reasoning_content": "hm",
        "reasoning_details": details,
    }


MULTIMODAL = [
    {"type": "text", "text": "describe"},
    {"type": "image", "url": "https://example.com/a.png"},
    {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
    {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG_B64}", "detail": "low"},
    },
    {"type": "image", "source_type": "base64", "data": PNG_B64, "mime_type": "image/png"},
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
    {"type": "file", "base64": PDF_B64, "mime_type": "application/pdf", "filename": "d.pdf"},
    {
        "type": "file",
        "file": {"filename": "e.pdf", "file_data": f"data:application/pdf;base64,{PDF_B64}"},
    },
    {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": PDF_B64},
    },
]


def test_multimodal_blocks_chat_route() -> None:
    content = [
        *MULTIMODAL,
        {"type": "audio", "base64": WAV_B64, "mime_type": "audio/wav"},
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "mp3"}},
    ]
    parts = body_for(chat(), [HumanMessage(content)])["messages"][0]["content"]
    png_url = f"data:image/png;base64,{PNG_B64}"
    pdf_url = f"data:application/pdf;base64,{PDF_B64}"
    assert parts == [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        {"type": "image_url", "image_url": {"url": png_url}},
        {"type": "image_url", "image_url": {"url": png_url, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": png_url}},
        {"type": "image_url", "image_url": {"url": png_url}},
        {"type": "file", "file": {"filename": "d.pdf", "file_data": pdf_url}},
        {"type": "file", "file": {"filename": "e.pdf", "file_data": pdf_url}},
        {"type": "file", "file": {"filename": "document.pdf", "file_data": pdf_url}},
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "mp3"}},
    ]


def test_multimodal_blocks_messages_route() -> None:
    parts = body_for(claude(), [HumanMessage(MULTIMODAL)])["messages"][0]["content"]
    png = {"type": "base64", "media_type": "image/png", "data": PNG_B64}
    pdf = {"type": "base64", "media_type": "application/pdf", "data": PDF_B64}
    assert parts == [
        {"type": "text", "text": "describe"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "image", "source": png},
        {"type": "image", "source": png},
        {"type": "image", "source": png},
        {"type": "image", "source": png},
        {"type": "document", "source": pdf, "title": "d.pdf"},
        {"type": "document", "source": pdf, "title": "e.pdf"},
        {"type": "document", "source": pdf},
    ]


def test_audio_on_messages_route_is_a_clear_error() -> None:
    with pytest.raises(LunosInputError, match="Audio"):
        body_for(
            claude(),
            [HumanMessage([{"type": "audio", "base64": WAV_B64, "mime_type": "audio/wav"}])],
        )


def test_unknown_block_is_a_clear_error() -> None:
    with pytest.raises(LunosInputError) as info:
        body_for(chat(), [HumanMessage([{"type": "hologram"}])])
    assert info.value.param == "messages[0].content[0]"


def test_structured_output_bodies() -> None:
    body = body_for(chat().with_structured_output(Weather).first, "x")  # type: ignore[attr-defined]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Weather",
            "schema": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    }
    body = body_for(chat().with_structured_output(Weather, method="json_mode").first, "x")  # type: ignore[attr-defined]
    assert body["response_format"] == {"type": "json_object"}
    body = body_for(claude().with_structured_output(Weather).first, "x")  # type: ignore[attr-defined]
    assert body["tool_choice"] == {"type": "tool", "name": "Weather"}
    body = body_for(claude().with_structured_output(Weather, method="json_schema").first, "x")  # type: ignore[attr-defined]
    assert body["output_config"]["format"]["type"] == "json_schema"


def test_anthropic_style_history_on_chat_route() -> None:
    msgs = [
        HumanMessage("pick"),
        AIMessage(
            [
                {"type": "text", "text": "Hmm"},
                {"type": "tool_use", "id": "foo", "name": "Weather", "input": {"city": "Rome"}},
            ]
        ),
        HumanMessage(
            [
                {
                    "type": "tool_result",
                    "tool_use_id": "foo",
                    "content": [{"type": "text", "text": "warm"}],
                },
                {"type": "text", "text": "and now?"},
            ]
        ),
    ]
    body = body_for(chat().bind_tools([Weather]), msgs)
    assert body["messages"][1]["tool_calls"][0]["id"] == "foo"
    assert body["messages"][2] == {
        "role": "tool",
        "tool_call_id": "foo",
        "content": [{"type": "text", "text": "warm"}],
    }
    assert body["messages"][3] == {
        "role": "user",
        "content": [{"type": "text", "text": "and now?"}],
    }
