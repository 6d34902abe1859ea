"""Citations and server-tool blocks through the route codecs (golden JSON, both routes).

Each case feeds a reply (or a stream) in one documented wire shape to the route decoder
and compares the neutral result with ``golden/citations/<case>.json``; regenerate with
``UPDATE_GOLDEN=1`` and review the diff. Streams are also checked against the whole reply
they stand for: a streamed answer must carry exactly the citations of the same answer sent
without streaming.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from lunos_integrations.errors import WireFormatError
from lunos_integrations.wire import chat_completions, messages
from lunos_integrations.wire.accumulate import StreamAccumulator
from lunos_integrations.wire.citations import citation_dict
from lunos_integrations.wire.types import ChatResult

from .helpers import assert_golden

TEXT = "Paris hosts the 2024 Olympics. The Seine was cleaned."
OPENAI_NESTED = [
    {
        "type": "url_citation",
        "url_citation": {
            "url": "https://example.org/olympics",
            "title": "Olympics",
            "start_index": 0,
            "end_index": 30,
        },
    }
]
OPENROUTER_FLAT = [
    {
        "type": "url_citation",
        "url": "https://example.org/seine",
        "title": "Seine",
        "content": "The river was cleaned for the games.",
        "start_index": 31,
        "end_index": 53,
    },
    {"type": "file_citation", "file_id": "file_1", "index": 3},
]


def _chat_reply(annotations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "openai/gpt-4o",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": TEXT, "annotations": annotations},
                "finish_reason": "stop",
            }
        ],
    }


def _chat_chunks(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-1",
            "model": "openai/gpt-4o",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    return [
        chunk({"role": "assistant", "content": TEXT[:30]}),
        chunk({"content": TEXT[30:]}),
        # OpenRouter sends the annotations on a content chunk and again on the finish one.
        chunk({"annotations": annotations}),
        chunk({"annotations": annotations}, "stop"),
    ]


SERVER_USE = {
    "type": "server_tool_use",
    "id": "srvtoolu_1",
    "name": "web_search",
    "input": {"query": "paris olympics"},
}
SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [
        {
            "type": "web_search_result",
            "url": "https://example.org/olympics",
            "title": "Olympics",
            "encrypted_content": "EnC0",
            "page_age": "2 days ago",
        }
    ],
}
WEB_CITATION = {
    "type": "web_search_result_location",
    "url": "https://example.org/olympics",
    "title": "Olympics",
    "cited_text": "Paris hosted the games in 2024.",
    "encrypted_index": "EnCi",
}
DOC_CITATION = {
    "type": "char_location",
    "cited_text": "The Seine was cleaned",
    "document_index": 0,
    "document_title": "Report",
    "start_char_index": 10,
    "end_char_index": 31,
}


def _messages_reply() -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "anthropic/claude-sonnet-4",
        "content": [
            SERVER_USE,
            SEARCH_RESULT,
            {"type": "text", "text": "Paris hosts the 2024 Olympics.", "citations": [WEB_CITATION]},
            {"type": "text", "text": " "},
            {"type": "text", "text": "The Seine was cleaned.", "citations": [DOC_CITATION]},
        ],
        "stop_reason": "end_turn",
        "usage": {
            "input_tokens": 10,
            "output_tokens": 12,
            "server_tool_use": {"web_search_requests": 1},
        },
    }


def _messages_events() -> list[tuple[str, dict[str, Any]]]:
    def ev(kind: str, **data: Any) -> tuple[str, dict[str, Any]]:
        return kind, {"type": kind, **data}

    def delta(index: int, **d: Any) -> tuple[str, dict[str, Any]]:
        return ev("content_block_delta", index=index, delta=d)

    return [
        ev(
            "message_start",
            message={
                "id": "msg_1",
                "model": "anthropic/claude-sonnet-4",
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        ),
        ev("content_block_start", index=0, content_block={**SERVER_USE, "input": {}}),
        delta(0, type="input_json_delta", partial_json='{"query": "paris'),
        delta(0, type="input_json_delta", partial_json=' olympics"}'),
        ev("content_block_stop", index=0),
        ev("content_block_start", index=1, content_block=SEARCH_RESULT),
        ev("content_block_stop", index=1),
        ev(
            "content_block_start",
            index=2,
            content_block={"type": "text", "text": "", "citations": []},
        ),
        delta(2, type="citations_delta", citation=WEB_CITATION),
        delta(2, type="text_delta", text="Paris hosts "),
        delta(2, type="text_delta", text="the 2024 Olympics."),
        ev("content_block_stop", index=2),
        ev("content_block_start", index=3, content_block={"type": "text", "text": " "}),
        ev("content_block_stop", index=3),
        ev("content_block_start", index=4, content_block={"type": "text", "text": ""}),
        delta(4, type="citations_delta", citation=DOC_CITATION),
        delta(4, type="text_delta", text="The Seine was cleaned."),
        ev("content_block_stop", index=4),
        ev("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 12}),
        ev("message_stop"),
    ]


def _view(result: ChatResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "citations": [dataclasses.asdict(c) for c in result.citations],
        "as_dicts": [citation_dict(c) for c in result.citations],
        "server_tool_blocks": result.server_tool_blocks,
    }


def _chat_stream(annotations: list[dict[str, Any]]) -> ChatResult:
    decoder = chat_completions.ChunkDecoder()
    acc = StreamAccumulator()
    for chunk in _chat_chunks(annotations):
        acc.add(decoder.feed(chunk))
    return acc.result()


def _messages_stream() -> ChatResult:
    decoder = messages.MessagesStreamDecoder()
    acc = StreamAccumulator()
    for event, data in _messages_events():
        delta = decoder.feed(event, data)
        if delta is not None:
            acc.add(delta)
    return acc.result()


@pytest.mark.parametrize(
    ("case", "annotations"),
    [("chat_openai_nested", OPENAI_NESTED), ("chat_openrouter_flat", OPENROUTER_FLAT)],
)
def test_chat_annotations_golden(case: str, annotations: list[dict[str, Any]]) -> None:
    whole = chat_completions.decode_response(_chat_reply(annotations))
    assert_golden(f"citations/{case}", _view(whole))
    streamed = _chat_stream(annotations)
    assert _view(streamed) == _view(whole)  # repeated annotations counted once


def test_chat_offsets_point_into_the_text() -> None:
    whole = chat_completions.decode_response(_chat_reply(OPENAI_NESTED + OPENROUTER_FLAT[:1]))
    spans = [whole.text[c.start_index : c.end_index] for c in whole.citations]  # type: ignore[misc]
    assert spans == ["Paris hosts the 2024 Olympics.", "The Seine was cleaned."]


def test_messages_citations_and_server_tools_golden() -> None:
    whole = messages.decode_response(_messages_reply())
    assert_golden("citations/messages_web_search", _view(whole))
    assert whole.tool_calls == []  # the server ran the search: nothing for the caller to run
    assert [whole.text[c.start_index : c.end_index] for c in whole.citations] == [  # type: ignore[misc]
        "Paris hosts the 2024 Olympics.",
        "The Seine was cleaned.",
    ]


def test_messages_stream_equals_whole_reply() -> None:
    streamed = _messages_stream()
    whole = messages.decode_response(_messages_reply())
    assert _view(streamed) == _view(whole)
    assert streamed.tool_calls == [] and streamed.invalid_tool_calls == []


def test_messages_stream_tool_call_after_server_tool_keeps_its_arguments() -> None:
    """A function tool_use after a streamed server_tool_use gets its own fragments."""
    decoder = messages.MessagesStreamDecoder()
    acc = StreamAccumulator()
    events = [
        *_messages_events()[:5],
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 5,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {},
                },
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 5,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 5}),
    ]
    for event, data in events:
        delta = decoder.feed(event, data)
        if delta is not None:
            acc.add(delta)
    result = acc.result()
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert result.server_tool_blocks[0]["input"] == {"query": "paris olympics"}


@pytest.mark.parametrize(
    ("annotations", "field"),
    [
        ("not a list", "annotations"),
        (["not an object"], "annotations[0]"),
        ([{"type": "url_citation", "url_citation": {"url": 7}}], "url_citation.url"),
        ([{"type": "url_citation", "url_citation": "x"}], "url_citation"),
        ([{"type": "url_citation", "url": "u", "start_index": -1}], "start_index"),
    ],
)
def test_malformed_annotations_are_typed_errors(annotations: Any, field: str) -> None:
    with pytest.raises(WireFormatError, match=field.replace("[", r"\[").replace("]", r"\]")):
        chat_completions.decode_response(_chat_reply(annotations))


def test_malformed_messages_citation_is_a_typed_error() -> None:
    body = _messages_reply()
    body["content"][2]["citations"] = [{"type": "web_search_result_location", "url": 1}]
    with pytest.raises(WireFormatError, match=r"content\[2\]\.citations\[0\]\.url"):
        messages.decode_response(body)


def test_no_annotations_means_no_citations() -> None:
    body = _chat_reply([])
    del body["choices"][0]["message"]["annotations"]
    assert chat_completions.decode_response(body).citations == []
    assert chat_completions.decode_chunk(_chat_chunks([])[0]).citations == ()
