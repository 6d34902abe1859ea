"""Decoding half of the Messages codec: replies, the stream decoder, usage.

Kept apart from the encoder (:mod:`.messages` re-exports everything here). Values are read
through the strict helpers of :mod:`._common`: whatever JSON arrives, the result is a valid
neutral object or a :class:`~lunos_integrations.errors.WireFormatError` naming the route,
the field and what arrived (a numeric ``tool_use`` id or name included, which would
otherwise reach a framework's own validation). JSON ``null`` means "absent"; unknown event,
block and delta types are skipped, because the API keeps adding them.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import WireFormatError
from ._common import (
    describe,
    dumps_received,
    to_float,
    want_count,
    want_dict,
    want_number,
    want_str,
    wrong_type,
)
from .citations import decode_block_citations, decode_citation
from .tool_args import parse_tool_arguments
from .types import (
    ChatDelta,
    ChatResult,
    Citation,
    InvalidToolCall,
    ReasoningPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["MessagesStreamDecoder", "decode_response", "decode_usage", "normalize_stop_reason"]

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def normalize_stop_reason(reason: Any) -> str | None:
    """Anthropic ``stop_reason`` → the OpenAI ``finish_reason`` vocabulary (others kept)."""
    if not isinstance(reason, str) or not reason:
        return None  # "" is "not yet" on some servers, never a reason
    return _STOP_REASONS.get(reason, reason)


_REPLY = "Messages response"


def is_server_tool_block(kind: str | None) -> bool:
    """A block the server's own tools produced (web search, code execution, MCP).

    ``server_tool_use`` / ``mcp_tool_use`` are the calls, ``*_tool_result`` their results
    (``web_search_tool_result`` ...). They are kept verbatim: the caller did not run
    them, so they are neither tool calls to execute nor text.
    """
    if not kind:
        return False
    return kind in ("server_tool_use", "mcp_tool_use") or kind.endswith("_tool_result")


def decode_usage(obj: Any, where: str = "usage") -> Usage | None:
    """Neutral usage from an Anthropic ``usage`` object; input tokens include the cache.

    Counts of the wrong type (arrays, booleans, negative numbers...) are a WireFormatError.
    """
    obj = want_dict(obj, where)
    if not obj:
        return None
    base = want_count(obj.get("input_tokens"), f"{where}.input_tokens") or 0
    cache_read = want_count(obj.get("cache_read_input_tokens"), f"{where}.cache_read_input_tokens")
    key = "cache_creation_input_tokens"
    cache_creation = want_count(obj.get(key), f"{where}.{key}") or 0
    output = want_count(obj.get("output_tokens"), f"{where}.output_tokens") or 0
    cost = obj.get("cost")
    total_in = base + (cache_read or 0) + cache_creation
    return Usage(
        input_tokens=total_in,
        output_tokens=output,
        total_tokens=total_in + output,
        cache_read_tokens=cache_read or 0,
        cache_creation_tokens=cache_creation,
        cost=to_float(cost) if isinstance(cost, str) else want_number(cost, f"{where}.cost"),
    )


def decode_response(body: Any) -> ChatResult:
    """Decode a non-streamed Messages API reply (``raw=body`` keeps ``stop_reason`` etc.).

    A reply without a ``content`` array is malformed (``WireFormatError``); an empty array
    with a stop reason is a valid empty answer.
    """
    if not isinstance(body, dict):
        raise WireFormatError(
            f"Expected a Messages API JSON object, got {type(body).__name__}: {describe(body)}"
        )
    if body.get("type") == "error":
        err = body.get("error")
        detail = err.get("message") if isinstance(err, dict) else err
        raise WireFormatError(f"Messages API returned an error object: {describe(detail)}")
    content = body.get("content")
    if not isinstance(content, list):
        what = "no 'content'" if "content" not in body else f"'content': {describe(content, 80)}"
        raise WireFormatError(
            f"{_REPLY} has no 'content' list ({what}); a reply needs one (an empty answer has "
            "[]). "
            f"Body: {describe(body)}"
        )

    texts: list[str] = []
    reasoning: list[ReasoningPart] = []
    tool_calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    citations: list[Citation] = []
    server_blocks: list[dict[str, Any]] = []
    offset = 0
    for j, block in enumerate(content):
        where = f"{_REPLY} content[{j}]"
        if not isinstance(block, dict):
            raise wrong_type(where, "an object", block)
        kind = want_str(block.get("type"), f"{where}.type")
        if kind == "text":
            text = want_str(block.get("text"), f"{where}.text") or ""
            texts.append(text)
            if block.get("citations"):
                citations.extend(
                    decode_block_citations(
                        block["citations"], f"{where}.citations", offset, offset + len(text)
                    )
                )
            offset += len(text)
        elif is_server_tool_block(kind):
            server_blocks.append(dict(block))
        elif kind == "thinking":
            reasoning.append(
                ReasoningPart(
                    text=want_str(block.get("thinking"), f"{where}.thinking") or "",
                    signature=want_str(block.get("signature"), f"{where}.signature") or None,
                )
            )
        elif kind == "redacted_thinking":
            data = want_str(block.get("data"), f"{where}.data")
            reasoning.append(ReasoningPart(redacted_data=data or ""))
        elif kind == "tool_use":
            call_id, name, args = _tool_use(block, where)
            parsed = parse_tool_arguments(call_id, name, args)
            if isinstance(parsed, ToolCall):
                tool_calls.append(parsed)
            else:
                invalid.append(parsed)

    return ChatResult(
        text="".join(texts),
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        reasoning=reasoning,
        finish_reason=normalize_stop_reason(
            want_str(body.get("stop_reason"), f"{_REPLY} stop_reason")
        ),
        usage=decode_usage(body.get("usage"), f"{_REPLY} usage"),
        id=want_str(body.get("id"), f"{_REPLY} id"),
        model=want_str(body.get("model"), f"{_REPLY} model"),
        provider=want_str(body.get("provider"), f"{_REPLY} provider"),
        citations=citations,
        server_tool_blocks=server_blocks,
        raw=body,
    )


def _tool_use(block: dict[str, Any], where: str) -> tuple[str, str, dict[str, Any] | None]:
    """``(id, name, input)`` of a ``tool_use`` block; id and name must be strings."""
    call_id = block.get("id")
    if not isinstance(call_id, str):
        raise wrong_type(f"{where}.id", "a string (the tool call id)", call_id)
    name = block.get("name")
    if not isinstance(name, str):
        raise wrong_type(f"{where}.name", "a string (the tool name)", name)
    return call_id, name, want_dict(block.get("input"), f"{where}.input")


class MessagesStreamDecoder:
    """Turns the Anthropic SSE event sequence into neutral :class:`ChatDelta` objects.

    One instance per stream. :meth:`feed` returns ``None`` for events that carry nothing
    (ping, block stops, ``message_stop``, unknown or ``error`` events; the transport raises
    errors itself). Usage is emitted exactly once, on ``message_delta``, combining the
    input counts from ``message_start`` with the output count (a stream that never sends
    ``message_delta`` gets it on ``message_stop`` instead). Known events whose fields have
    the wrong JSON type raise :class:`WireFormatError`; unknown events, block types and
    delta types are skipped (the API adds new ones).
    """

    __slots__ = (
        "_blocks",
        "_cites",
        "_finished",
        "_server",
        "_start_usage",
        "_text_len",
        "_text_start",
        "_tool_count",
        "_usage_sent",
    )

    def __init__(self) -> None:
        self._start_usage: dict[str, Any] = {}
        self._blocks: dict[int, int] = {}  # content block index -> tool ordinal
        self._tool_count = 0
        self._usage_sent = False
        self._finished = False
        # Citations arrive inside a text block (citations_delta) but cite the whole
        # block, whose span in the reply is known only at its content_block_stop.
        self._text_len = 0
        self._text_start: dict[int, int] = {}
        self._cites: dict[int, list[Citation]] = {}
        # Server-tool call blocks being streamed: index -> (block, input JSON fragments).
        self._server: dict[int, tuple[dict[str, Any], list[str]]] = {}

    @property
    def finished(self) -> bool:
        """True once ``message_stop`` has been seen."""
        return self._finished

    def feed(self, event: str | None, data: Any) -> ChatDelta | None:
        """Decode one SSE event (``event:`` name, parsed ``data:`` JSON or its text)."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise WireFormatError(
                    f"Messages stream event {event!r} has invalid JSON data: {describe(data)}"
                ) from exc
        if not isinstance(data, dict):
            if event in ("ping", "message_stop", "content_block_stop", "error"):
                if event == "message_stop":
                    return self._stop()
                return None
            raise WireFormatError(
                f"Messages stream event {event!r} carries no JSON object: {describe(data)}"
            )
        kind = event or data.get("type")
        where = f"Messages stream event {kind!r}" if isinstance(kind, str) else "Messages stream"

        if kind == "content_block_delta":
            return self._block_delta(data, where)
        if kind == "content_block_start":
            return self._block_start(data, where)
        if kind == "message_start":
            msg = want_dict(data.get("message"), f"{where} message") or {}
            usage = want_dict(msg.get("usage"), f"{where} message.usage")
            if usage:
                decode_usage(usage, f"{where} message.usage")  # check it now, not at the end
                self._start_usage = usage
            return ChatDelta(
                id=want_str(msg.get("id"), f"{where} message.id"),
                model=want_str(msg.get("model"), f"{where} message.model"),
            )
        if kind == "message_delta":
            d = want_dict(data.get("delta"), f"{where} delta")
            out = ChatDelta()
            if d:
                reason = want_str(d.get("stop_reason"), f"{where} delta.stop_reason")
                out.finish_reason = normalize_stop_reason(reason)
            final = want_dict(data.get("usage"), f"{where} usage")
            if not self._usage_sent:
                out.usage = self._combined_usage(final, f"{where} usage")
                self._usage_sent = True
            return out
        if kind == "message_stop":
            return self._stop()
        if kind == "content_block_stop" and (self._cites or self._server):
            return self._block_stop(self._index(data, where))
        return None  # ping, content_block_stop, error, unknown

    def _block_stop(self, index: int | None) -> ChatDelta | None:
        """Citations of a finished text block / a finished server-tool call block."""
        key = -1 if index is None else index
        cites = self._cites.pop(key, None)
        if cites:
            start = self._text_start.get(key, 0)
            for c in cites:
                c.start_index, c.end_index = start, self._text_len
            return ChatDelta(citations=tuple(cites))
        pending = self._server.pop(key, None)
        if pending is not None:
            block, fragments = pending
            if fragments:
                block["input"] = _json_value("".join(fragments))
            return ChatDelta(server_tool_blocks=(block,))
        return None

    def _stop(self) -> ChatDelta | None:
        self._finished = True
        if not self._usage_sent and self._start_usage:
            self._usage_sent = True
            return ChatDelta(usage=self._combined_usage(None, "Messages stream usage"))
        return None

    def _combined_usage(self, final: dict[str, Any] | None, where: str) -> Usage | None:
        merged = dict(self._start_usage)
        if final:
            for key, value in final.items():
                if value is not None:
                    merged[key] = value
        return decode_usage(merged, where)

    @staticmethod
    def _index(data: dict[str, Any], where: str) -> int | None:
        index = data.get("index")
        if index is None or (type(index) is int and index >= 0):
            return index
        raise wrong_type(f"{where} index", "a non-negative integer", index)

    def _block_start(self, data: dict[str, Any], where: str) -> ChatDelta | None:
        index = self._index(data, where)
        block = data.get("content_block")
        if not isinstance(block, dict):
            raise wrong_type(f"{where} content_block", "an object", block)
        where = f"{where} content_block"
        kind = want_str(block.get("type"), f"{where}.type")
        if kind == "text":
            text = want_str(block.get("text"), f"{where}.text")
            key = -1 if index is None else index
            self._text_start[key] = self._text_len
            initial = block.get("citations")
            if initial:
                cited = decode_block_citations(initial, f"{where}.citations", 0, 0)
                self._cites.setdefault(key, []).extend(cited)
            if text:
                self._text_len += len(text)
                return ChatDelta(text=text)
            return None
        if kind is not None and is_server_tool_block(kind):
            copy = dict(block)
            if kind.endswith("_tool_result"):  # sent whole
                return ChatDelta(server_tool_blocks=(copy,))
            self._server[-1 if index is None else index] = (copy, [])
            return None
        if kind == "thinking":
            thinking = want_str(block.get("thinking"), f"{where}.thinking")
            signature = want_str(block.get("signature"), f"{where}.signature")
            if thinking or signature:
                return ChatDelta(
                    reasoning_text=thinking or "", reasoning_signature=signature or None
                )
            return None
        if kind == "redacted_thinking":
            data_ = want_str(block.get("data"), f"{where}.data")
            return ChatDelta(redacted_reasoning=data_ or "")
        if kind == "tool_use":
            call_id, name, initial = _tool_use(block, where)
            ordinal = self._tool_count
            self._tool_count += 1
            if index is not None:
                self._blocks[index] = ordinal
            args = dumps_received(initial, f"{where}.input") if initial else ""
            return ChatDelta(
                tool_calls=[ToolCallDelta(index=ordinal, id=call_id, name=name, arguments=args)]
            )
        return None

    def _block_delta(self, data: dict[str, Any], where: str) -> ChatDelta | None:
        index = self._index(data, where)
        d = data.get("delta")
        if not isinstance(d, dict):
            raise wrong_type(f"{where} delta", "an object", d)
        where = f"{where} delta"
        kind = want_str(d.get("type"), f"{where}.type")
        if kind == "text_delta":
            text = want_str(d.get("text"), f"{where}.text")
            if text:
                self._text_len += len(text)
                return ChatDelta(text=text)
            return None
        if kind == "input_json_delta":
            partial = want_str(d.get("partial_json"), f"{where}.partial_json")
            server = self._server.get(-1 if index is None else index) if self._server else None
            if server is not None:
                if partial:
                    server[1].append(partial)
                return None
            ordinal = self._blocks.get(index) if index is not None else None
            if ordinal is None:
                ordinal = max(self._tool_count - 1, 0)
            return ChatDelta(tool_calls=[ToolCallDelta(index=ordinal, arguments=partial or "")])
        if kind == "thinking_delta":
            thinking = want_str(d.get("thinking"), f"{where}.thinking")
            return ChatDelta(reasoning_text=thinking) if thinking else None
        if kind == "signature_delta":
            signature = want_str(d.get("signature"), f"{where}.signature")
            return ChatDelta(reasoning_signature=signature) if signature else None
        if kind == "citations_delta":
            cited = decode_citation(d.get("citation"), f"{where}.citation", 0, 0)
            self._cites.setdefault(-1 if index is None else index, []).append(cited)
            return None
        return None  # future delta types


def _json_value(text: str) -> Any:
    """The streamed ``input`` of a server-tool call; what is not JSON is kept as text
    (the server ran the tool already, so a bad fragment is information, not an error)."""
    try:
        return json.loads(text)
    except ValueError:
        return text
