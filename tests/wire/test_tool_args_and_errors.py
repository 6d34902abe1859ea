"""parse_tool_arguments, and inputs rejected before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations.errors import LunosInputError
from lunos_integrations.wire import chat_completions, messages, parse_tool_arguments
from lunos_integrations.wire.types import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    InvalidToolCall,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolSpec,
)


@pytest.mark.parametrize("raw", [None, "", "   ", "null", {}])
def test_empty_arguments(raw: Any) -> None:
    assert parse_tool_arguments("id", "f", raw) == ToolCall(id="id", name="f", arguments={})


def test_object_arguments() -> None:
    assert parse_tool_arguments("id", "f", '{"a": [1, "é"]}') == ToolCall(
        "id", "f", {"a": [1, "é"]}
    )
    assert parse_tool_arguments(None, "f", {"a": 1}) == ToolCall("", "f", {"a": 1})


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("{", "not valid JSON"),
        ("[1]", "an array"),
        ("3", "a number"),
        ('"s"', "a string"),
        ("true", "a boolean"),
        ([1], "an array"),
    ],
)
def test_invalid_arguments(raw: Any, fragment: str) -> None:
    result = parse_tool_arguments("id", "f", raw)
    assert isinstance(result, InvalidToolCall)
    assert result.id == "id" and result.name == "f"
    assert fragment in result.error
    assert result.raw_arguments is not None


def test_missing_name_is_invalid() -> None:
    result = parse_tool_arguments("id", None, "{}")
    assert isinstance(result, InvalidToolCall) and "no function name" in result.error


# --------------------------------------------------------------------------- input errors

BOTH = [chat_completions.encode_request, messages.encode_request]
TOOL = ToolSpec(name="f", parameters={"type": "object", "properties": {}})


def _req(*msgs: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(
        model=kw.pop("model", "m"), messages=list(msgs) or [Message("user", "hi")], **kw
    )


CASES_BOTH = [
    (_req(model=""), "model"),
    (_req(model="  "), "model"),
    (ChatRequest(model="m", messages=[]), "messages"),
    (_req(Message("user", "a"), Message("robot", "x")), "messages[1].role"),  # type: ignore[arg-type]
    (_req(Message("user", [TextPart("a"), ImagePart()])), "messages[0].content[1]"),
    (_req(Message("user", [ImagePart(url="data:image/png,notbase64")])), "messages[0].content[0]"),
    (_req(Message("user", [ImagePart(url="data:;base64,AAAA")])), "messages[0].content[0]"),
    (_req(Message("user", [ImagePart(data="????")])), "messages[0].content[0]"),
    (_req(Message("user", [FilePart(mime_type="application/pdf")])), "messages[0].content[0]"),
    (
        _req(Message("system", [ImagePart(url="https://x/y.png")]), Message("user", "hi")),
        "messages[0].content[0]",
    ),
    (_req(Message("tool", "r")), "messages[0].tool_call_id"),
    (_req(tools=[TOOL], tool_choice=NamedToolChoice("g")), "tool_choice"),
    (_req(tool_choice="required"), "tool_choice"),
    (_req(tools=[TOOL], tool_choice="sometimes"), "tool_choice"),
    (_req(tools=[ToolSpec(name="")]), "tools[0].name"),
    (_req(response_format=ResponseFormat(type="json_schema")), "response_format"),
]


@pytest.mark.parametrize("encode", BOTH, ids=["chat_completions", "messages"])
@pytest.mark.parametrize(("req", "param"), CASES_BOTH)
def test_bad_input_on_both_routes(encode: Any, req: ChatRequest, param: str) -> None:
    with pytest.raises(LunosInputError) as exc:
        encode(req)
    assert exc.value.param == param
    assert str(exc.value)


CASES_CHAT = [
    (_req(Message("assistant", [ImagePart(url="https://x/y.png")])), "messages[0].content"),
    (_req(Message("user", [AudioPart(data="", format="wav")])), "messages[0].content[0]"),
    (_req(Message("user", [AudioPart(data="AAAA", format="")])), "messages[0].content[0]"),
    (_req(thinking={"type": "sometimes"}), "thinking"),
    (_req(response_format=ResponseFormat(type="xml")), "response_format"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("req", "param"), CASES_CHAT)
def test_bad_input_chat_completions(req: ChatRequest, param: str) -> None:
    with pytest.raises(LunosInputError) as exc:
        chat_completions.encode_request(req)
    assert exc.value.param == param


CASES_MESSAGES = [
    (
        _req(Message("user", [AudioPart(data="AAAA", format="wav")])),
        "messages[0].content[0]",
        "chat_completions",
    ),
    (
        _req(Message("user", [ImagePart(data="AAAA", mime_type="image/bmp")])),
        "messages[0].content[0]",
        "JPEG",
    ),
    (
        _req(Message("user", [FilePart(data="AAAA", mime_type="text/csv")])),
        "messages[0].content[0]",
        "PDF only",
    ),
    (_req(Message("system", "only a system prompt")), "messages", "user or assistant"),
    (_req(seed=1), "seed", "not supported"),
    (_req(frequency_penalty=0.1), "frequency_penalty", "not supported"),
    (_req(presence_penalty=0.1), "presence_penalty", "not supported"),
    (_req(temperature=1.5), "temperature", "between 0 and 1"),
    (
        _req(response_format=ResponseFormat(type="json_object")),
        "response_format",
        "function calling",
    ),
    (_req(reasoning_effort="minimal"), "reasoning_effort", "low"),
    (
        _req(max_tokens=1000, thinking={"type": "enabled", "budget_tokens": 2000}),
        "max_tokens",
        "budget_tokens",
    ),
    (
        _req(
            tools=[TOOL],
            tool_choice="required",
            thinking={"type": "enabled", "budget_tokens": 1024},
        ),
        "tool_choice",
        "thinking",
    ),
    (
        _req(tools=[ToolSpec(name="f", parameters={"type": "array"})]),
        "tools[0].parameters",
        "object",
    ),
]


@pytest.mark.parametrize(("req", "param", "hint"), CASES_MESSAGES)
def test_bad_input_messages(req: ChatRequest, param: str, hint: str) -> None:
    with pytest.raises(LunosInputError) as exc:
        messages.encode_request(req)
    assert exc.value.param == param
    assert hint in str(exc.value)


def test_audio_and_json_object_are_fine_on_chat_completions() -> None:
    body = chat_completions.encode_request(
        _req(
            Message("user", [AudioPart(data="data:audio/mpeg;base64,AAAA", format="audio/mpeg")]),
            response_format=ResponseFormat(type="json_object"),
        )
    )
    assert body["messages"][0]["content"][0]["input_audio"] == {"data": "AAAA", "format": "mp3"}
