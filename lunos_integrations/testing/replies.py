"""Encode a :class:`~.fake_model.ModelTurn` as chat-completions or Anthropic wire replies.

Why separate from the fake model: the same generation is served four ways (chat JSON, chat
SSE, messages JSON, messages SSE), and the stream encoders must split content the way real
providers do (text in small pieces, tool arguments as several JSON fragments) so client-side
accumulation code is exercised.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .fake_model import ModelTurn
from .sse import SSEFrame, json_frame
from .web_search import Search

TEXT_PIECE = 4
"""Characters of text / reasoning per streamed delta."""
ARGS_PIECE = 8
"""Characters of tool-call argument JSON per streamed fragment."""


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# ---------------------------------------------------------------------------- chat


def _chat_usage(turn: ModelTurn, report_cost: bool) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "prompt_tokens": turn.prompt_tokens,
        "completion_tokens": turn.completion_tokens,
        "total_tokens": turn.prompt_tokens + turn.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": turn.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": turn.reasoning_tokens},
    }
    if report_cost and turn.cost is not None:
        usage["cost"] = turn.cost
    return usage


def _chat_finish(turn: ModelTurn) -> str:
    return "stop" if turn.finish == "stop_sequence" else turn.finish


def chat_completion_json(
    turn: ModelTurn,
    model_id: str,
    completion_id: str,
    report_cost: bool,
    search: Search | None = None,
) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": turn.text}
    if search is not None:
        message["annotations"] = search.chat_annotations(turn.text or "")
    if turn.reasoning is not None:
        message[turn.reasoning_field] = turn.reasoning
        if turn.reasoning_field == "reasoning":
            message["reasoning_details"] = [_reasoning_detail(turn.reasoning)]
    if turn.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json},
            }
            for c in turn.tool_calls
        ]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model_id,
        "provider": model_id.split("/", 1)[0],
        "choices": [
            {"index": 0, "message": message, "finish_reason": _chat_finish(turn), "logprobs": None}
        ],
        "usage": _chat_usage(turn, report_cost),
    }


def _reasoning_detail(text: str) -> dict[str, Any]:
    return {"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}


def chat_completion_frames(
    turn: ModelTurn,
    model_id: str,
    completion_id: str,
    report_cost: bool,
    include_usage: bool,
    search: Search | None = None,
) -> list[SSEFrame]:
    """The ``chat.completion.chunk`` stream, ending with ``data: [DONE]``."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> SSEFrame:
        return json_frame(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    frames = [chunk({"role": "assistant", "content": ""})]
    if turn.reasoning is not None:
        for piece in _pieces(turn.reasoning, TEXT_PIECE):
            delta: dict[str, Any] = {turn.reasoning_field: piece}
            if turn.reasoning_field == "reasoning":
                delta["reasoning_details"] = [_reasoning_detail(piece)]
            frames.append(chunk(delta))
    if turn.text:
        frames.extend(chunk({"content": piece}) for piece in _pieces(turn.text, TEXT_PIECE))
    for index, call in enumerate(turn.tool_calls):
        frames.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        for piece in _pieces(call.arguments_json, ARGS_PIECE):
            frames.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    if search is not None:
        frames.append(chunk({"annotations": search.chat_annotations(turn.text or "")}))
    frames.append(chunk({}, _chat_finish(turn)))
    if include_usage:
        frames.append(
            json_frame(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model_id,
                    "choices": [],
                    "usage": _chat_usage(turn, report_cost),
                }
            )
        )
    frames.append(SSEFrame(data="[DONE]", terminator=True))
    return frames


def chat_error_frame(error: Mapping[str, Any]) -> SSEFrame:
    """A mid-stream error as OpenAI-compatible gateways send it: ``data: {"error": {...}}``."""
    return json_frame({"error": dict(error)})


# ---------------------------------------------------------------------------- messages

_STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "stop_sequence": "stop_sequence",
}


def _messages_usage(turn: ModelTurn) -> dict[str, Any]:
    creation = 0 if turn.cached_tokens else turn.system_tokens
    return {
        "input_tokens": turn.prompt_tokens - turn.cached_tokens - creation,
        "output_tokens": turn.completion_tokens,
        "cache_read_input_tokens": turn.cached_tokens,
        "cache_creation_input_tokens": creation,
    }


def _content_blocks(turn: ModelTurn, search: Search | None = None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if turn.reasoning is not None:
        blocks.append({"type": "thinking", "thinking": turn.reasoning, "signature": turn.signature})
    if search is not None:
        blocks.extend(search.lead_blocks())
    if turn.text is not None and (turn.text or not turn.tool_calls):
        text: dict[str, Any] = {"type": "text", "text": turn.text}
        if search is not None:
            text["citations"] = search.block_citations()
        blocks.append(text)
    blocks.extend(
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
        for c in turn.tool_calls
    )
    return blocks


def message_json(
    turn: ModelTurn, model_id: str, message_id: str, search: Search | None = None
) -> dict[str, Any]:
    """The non-streaming Anthropic ``message`` object."""
    usage = _messages_usage(turn)
    if search is not None:
        usage.update(search.usage())
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model_id,
        "content": _content_blocks(turn, search),
        "stop_reason": _STOP_REASON[turn.finish],
        "stop_sequence": turn.stop_sequence,
        "usage": usage,
    }


def message_frames(
    turn: ModelTurn, model_id: str, message_id: str, search: Search | None = None
) -> list[SSEFrame]:
    """The Anthropic event stream: message_start … message_stop."""
    usage = _messages_usage(turn)
    frames = [
        json_frame(
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model_id,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
            event="message_start",
        )
    ]

    def event(payload: dict[str, Any]) -> SSEFrame:
        return json_frame(payload, event=str(payload["type"]))

    for index, block in enumerate(_content_blocks(turn, search)):
        btype = block["type"]
        if search is not None and btype in ("server_tool_use", "web_search_tool_result"):
            frames.extend(event(e) for e in search.server_block_events(block, index))
            continue
        if btype == "thinking":
            start: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": p}
                for p in _pieces(block["thinking"], TEXT_PIECE)
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif btype == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"], TEXT_PIECE)]
            if block.get("citations"):
                start["citations"] = []
                cites = [{"type": "citations_delta", "citation": c} for c in block["citations"]]
                deltas = cites + deltas
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            args = next(c.arguments_json for c in turn.tool_calls if c.id == block["id"])
            deltas = [{"type": "input_json_delta", "partial_json": ""}]
            deltas += [
                {"type": "input_json_delta", "partial_json": p} for p in _pieces(args, ARGS_PIECE)
            ]
        frames.append(
            event({"type": "content_block_start", "index": index, "content_block": start})
        )
        if index == 0:
            frames.append(event({"type": "ping"}))
        frames.extend(
            event({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
        )
        frames.append(event({"type": "content_block_stop", "index": index}))
    frames.append(
        event(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": _STOP_REASON[turn.finish],
                    "stop_sequence": turn.stop_sequence,
                },
                "usage": {
                    "output_tokens": turn.completion_tokens,
                    **(search.usage() if search is not None else {}),
                },
            }
        )
    )
    frames.append(json_frame({"type": "message_stop"}, event="message_stop", terminator=True))
    return frames


def messages_error_frame(error: Mapping[str, Any]) -> SSEFrame:
    """A mid-stream Anthropic ``error`` event."""
    return json_frame({"type": "error", "error": dict(error)}, event="error")
