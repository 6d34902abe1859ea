"""Golden request bodies for both chat routes, each validated against the published schema.

Regenerate with ``UPDATE_GOLDEN=1 pytest tests/wire`` and review the diff by eye.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from lunos_integrations.wire import chat_completions, messages
from lunos_integrations.wire.types import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolSpec,
)

from .helpers import assert_golden, assert_schema_valid

PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)
PDF_B64 = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"
WAV_B64 = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAESsAACJWAAACABAAZGF0YQAAAAA="

MODEL = "anthropic/claude-sonnet-4"

WEATHER = ToolSpec(
    name="get_weather",
    description="Current weather for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city"],
    },
)
TIME = ToolSpec(
    name="get_time",
    description="Current local time for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    strict=True,
)


def _user(text: str) -> Message:
    return Message(role="user", content=text)


def plain() -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[_user("Hello")])


def system_multiturn() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[
            Message(role="system", content="You are terse."),
            Message(role="system", content="Answer in English."),
            _user("Hi, I am Ana."),
            Message(role="assistant", content="Hello Ana.", name="helper"),
            Message(role="user", content="What is my name?", name="ana"),
        ],
    )


def content_parts() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[
            Message(
                role="user",
                content=[
                    TextPart("Describe these."),
                    ImagePart(url="https://example.com/a.png", detail="high"),
                    ImagePart(data=PNG_B64, mime_type="image/png"),
                    ImagePart(url=f"data:image/png;base64,{PNG_B64}"),
                    ImagePart(data=PNG_B64),  # MIME type sniffed from the bytes
                    FilePart(url="https://example.com/doc.pdf", filename="doc.pdf"),
                    FilePart(data=PDF_B64, filename="report.pdf"),
                ],
            )
        ],
    )


def audio_part() -> ChatRequest:
    return ChatRequest(
        model="openai/gpt-4o-audio-preview",
        messages=[
            Message(
                role="user",
                content=[TextPart("Transcribe."), AudioPart(data=WAV_B64, format="wav")],
            )
        ],
    )


def _tools(choice: object = None, parallel: bool | None = None) -> Callable[[], ChatRequest]:
    def build() -> ChatRequest:
        return ChatRequest(
            model=MODEL,
            messages=[_user("Weather and time in Paris?")],
            tools=[WEATHER, TIME],
            tool_choice=choice,  # type: ignore[arg-type]
            parallel_tool_calls=parallel,
        )

    return build


def tool_round_trip() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[
            _user("Weather and time in Paris?"),
            Message(
                role="assistant",
                content="Let me check.",
                tool_calls=[
                    ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"}),
                    ToolCall(id="call_2", name="get_time", arguments={"city": "Paris"}),
                ],
            ),
            Message(role="tool", tool_call_id="call_1", content="18°C, sunny"),
            Message(role="tool", tool_call_id="call_2", content="clock unavailable", is_error=True),
            _user("Thanks. And tomorrow?"),
        ],
        tools=[WEATHER, TIME],
    )


def tool_only_call() -> ChatRequest:
    """An assistant turn with tool calls and no text; a tool result given as parts."""
    return ChatRequest(
        model=MODEL,
        messages=[
            _user("Weather in Oslo?"),
            Message(
                role="assistant",
                tool_calls=[ToolCall(id="call_9", name="get_weather", arguments={})],
            ),
            Message(role="tool", tool_call_id="call_9", content=[TextPart("-3°C, snow")]),
        ],
        tools=[WEATHER],
    )


def reasoning_sent_back() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[
            _user("Weather in Paris?"),
            Message(
                role="assistant",
                content="",
                reasoning=[
                    ReasoningPart(
                        text="I should call get_weather.",
                        signature="sig-1",
                        details=[
                            {
                                "type": "reasoning.text",
                                "text": "I should call get_weather.",
                                "signature": "sig-1",
                                "format": "anthropic-claude-v1",
                                "index": 0,
                            }
                        ],
                    ),
                    ReasoningPart(
                        redacted_data="b3BhcXVl",
                        details=[{"type": "reasoning.encrypted", "data": "b3BhcXVl", "index": 1}],
                    ),
                ],
                tool_calls=[ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})],
            ),
            Message(role="tool", tool_call_id="call_1", content="18°C"),
        ],
        tools=[WEATHER],
    )


def response_format_json_schema() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[_user("Weather report for Paris as JSON.")],
        response_format=ResponseFormat(
            type="json_schema",
            schema={
                "title": "Weather Report",
                "type": "object",
                "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
                "required": ["city", "temp_c"],
                "additionalProperties": False,
            },
            strict=True,
        ),
    )


def response_format_json_object() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[_user("Reply with a JSON object.")],
        response_format=ResponseFormat(type="json_object"),
    )


def stream_include_usage() -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[_user("Hello")], stream=True)


def stream_no_usage() -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[_user("Hello")], stream=True, include_usage=False)


def sampling() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[_user("Count to ten.")],
        max_tokens=256,
        temperature=0.2,
        top_p=0.9,
        stop=["\n\n", "END"],
    )


def extras() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[_user("Summarise the PDF.")],
        top_k=40,
        fallback_model="openai/gpt-4o-mini",
        observability=True,
        user="user-42",
        extra_body={"top_k": 20, "plugins": [{"id": "file-parser", "pdf": {"engine": "native"}}]},
    )


def penalties_seed() -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=[_user("Write a haiku.")],
        seed=7,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
    )


def reasoning_effort() -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[_user("Prove it.")], reasoning_effort="high")


def cache_control() -> ChatRequest:
    eph = {"type": "ephemeral"}
    return ChatRequest(
        model=MODEL,
        messages=[
            Message(
                role="system", content=[TextPart("Long shared instructions.", cache_control=eph)]
            ),
            Message(
                role="user",
                content=[TextPart("A long document.", cache_control=eph), TextPart("Question?")],
            ),
        ],
        tools=[
            ToolSpec(
                name="lookup",
                description="Look something up.",
                parameters={"type": "object", "properties": {"q": {"type": "string"}}},
                cache_control=eph,
            )
        ],
    )


BOTH = [
    plain,
    system_multiturn,
    content_parts,
    _tools(),
    _tools("auto", parallel=False),
    _tools("none"),
    _tools("required"),
    _tools(NamedToolChoice("get_time")),
    tool_round_trip,
    tool_only_call,
    reasoning_sent_back,
    response_format_json_schema,
    stream_include_usage,
    sampling,
    extras,
    reasoning_effort,
    cache_control,
]
CHAT_ONLY = [audio_part, response_format_json_object, stream_no_usage, penalties_seed]
TOOL_NAMES = {
    0: "tools_no_choice",
    1: "tools_auto_no_parallel",
    2: "tools_none",
    3: "tools_required",
    4: "tools_named",
}


def _named(cases: list[Callable[[], ChatRequest]]) -> list[tuple[str, Callable[[], ChatRequest]]]:
    out = []
    tool_i = 0
    for case in cases:
        if case.__name__ == "build":
            out.append((TOOL_NAMES[tool_i], case))
            tool_i += 1
        else:
            out.append((case.__name__, case))
    return out


@pytest.mark.parametrize(
    ("name", "build"), _named(BOTH + CHAT_ONLY), ids=lambda v: v if isinstance(v, str) else ""
)
def test_chat_completions_golden(name: str, build: Callable[[], ChatRequest]) -> None:
    body = chat_completions.encode_request(build())
    assert_schema_valid("chat_completions", body)
    assert_golden(f"chat_completions/{name}", body)


@pytest.mark.parametrize(
    ("name", "build"), _named(BOTH), ids=lambda v: v if isinstance(v, str) else ""
)
def test_messages_golden(name: str, build: Callable[[], ChatRequest]) -> None:
    body = messages.encode_request(build())
    assert_schema_valid("messages", body)
    assert_golden(f"messages/{name}", body)
