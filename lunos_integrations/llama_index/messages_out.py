"""Neutral results → LlamaIndex ``ChatResponse`` (whole replies and streamed chunks).

Why this shape:

* Token usage goes in two places. ``raw["usage"]`` is OpenAI-shaped (``prompt_tokens``,
  ``completion_tokens``, ``total_tokens``, ``*_tokens_details``) on *both* routes, because
  ``TokenCountingHandler`` and most observability handlers read exactly that; the flat
  ``additional_kwargs`` copy (plus ``cached_tokens``, ``reasoning_tokens``, ``cost``) is what
  LlamaIndex's own OpenAI integration exposes.
* Tool calls are ``ToolCallBlock`` s *and* OpenAI-shaped dicts in
  ``message.additional_kwargs["tool_calls"]``: LlamaIndex's structured-streaming helper
  only recognises a tool-call chunk by the latter.
* Citations (web search) are ``CitationBlock`` s after the text *and* flat dicts in
  ``message.additional_kwargs["annotations"]`` (what the server sent, nothing dropped);
  Messages-route server-tool blocks are in ``additional_kwargs["server_tool_blocks"]``.
* Streams are the hot path (one ``ChatResponse`` per chunk), so :class:`StreamState` keeps
  running totals and builds each chunk with ``model_construct`` (no re-validation of
  objects this module just created), parses tool arguments once, and only builds ``raw``
  once the finish reason or usage is known.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CitationBlock,
    ContentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from pydantic import BaseModel

from ..wire.accumulate import add_citations, merge_reasoning_details
from ..wire.citations import citation_dict
from ..wire.tool_args import parse_tool_arguments
from ..wire.types import (
    ChatDelta,
    ChatResult,
    Citation,
    InvalidToolCall,
    ReasoningPart,
    ToolCall,
    Usage,
)
from .messages_in import DETAILS_KEY, REDACTED_KEY, SIGNATURE_KEY

_M = TypeVar("_M", bound=BaseModel)

__all__ = [
    "ANNOTATIONS_KEY",
    "INVALID_TOOL_CALLS_KEY",
    "SERVER_TOOL_BLOCKS_KEY",
    "StreamState",
    "chat_response_from_result",
    "openai_usage",
    "usage_kwargs",
]

#: ``message.additional_kwargs`` key listing tool calls whose arguments were not valid JSON.
INVALID_TOOL_CALLS_KEY = "invalid_tool_calls"
#: ``message.additional_kwargs`` key of the reply's citations (flat dicts, one per source).
ANNOTATIONS_KEY = "annotations"
#: ``message.additional_kwargs`` key of Messages-route server-tool blocks, verbatim.
SERVER_TOOL_BLOCKS_KEY = "server_tool_blocks"

_ASSISTANT = MessageRole.ASSISTANT
_set = object.__setattr__


def _constructor(cls: type[_M]) -> Callable[..., _M]:
    """A trusted constructor for objects this module builds itself (the stream hot path).

    Callers pass *every* field. It does what ``model_construct`` does for these plain models
    (set ``__dict__`` and pydantic's bookkeeping slots) without its per-call field loop,
    which was most of the adapter's cost per streamed chunk. Models with post-init hooks or
    private attributes fall back to ``model_construct``, so a LlamaIndex upgrade cannot
    silently produce half-initialised objects.
    """
    if cls.__pydantic_post_init__ is not None or cls.__private_attributes__:
        return cls.model_construct
    new = cls.__new__

    def make(**values: Any) -> _M:
        obj = new(cls)
        _set(obj, "__dict__", values)
        _set(obj, "__pydantic_fields_set__", set(values))
        _set(obj, "__pydantic_extra__", None)
        _set(obj, "__pydantic_private__", None)
        return obj

    return make


_new_text = _constructor(TextBlock)
_new_thinking = _constructor(ThinkingBlock)
_new_tool = _constructor(ToolCallBlock)
_new_message = _constructor(ChatMessage)
_new_response = _constructor(ChatResponse)


# ---------------------------------------------------------------------------- usage


def usage_kwargs(usage: Usage) -> dict[str, Any]:
    """The flat token counts put in ``ChatResponse.additional_kwargs``."""
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cache_read_tokens,
        "cache_creation_tokens": usage.cache_creation_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }
    if usage.cost is not None:
        out["cost"] = usage.cost
    return out


def openai_usage(usage: Usage, original: Any = None) -> dict[str, Any]:
    """OpenAI-shaped usage for ``raw["usage"]``, keeping any extra keys the server sent.

    On the messages route ``original`` is Anthropic-shaped (``input_tokens`` excludes the
    cache); the normalised OpenAI keys are added next to it, so readers that look for
    ``prompt_tokens`` first get counts that mean the same on both routes.
    """
    out: dict[str, Any] = dict(original) if isinstance(original, dict) else {}
    out["prompt_tokens"] = usage.input_tokens
    out["completion_tokens"] = usage.output_tokens
    out["total_tokens"] = usage.total_tokens
    prompt_details = out.get("prompt_tokens_details")
    prompt_details = dict(prompt_details) if isinstance(prompt_details, dict) else {}
    prompt_details["cached_tokens"] = usage.cache_read_tokens
    if usage.cache_creation_tokens:
        prompt_details["cache_creation_tokens"] = usage.cache_creation_tokens
    out["prompt_tokens_details"] = prompt_details
    completion_details = out.get("completion_tokens_details")
    completion_details = dict(completion_details) if isinstance(completion_details, dict) else {}
    completion_details["reasoning_tokens"] = usage.reasoning_tokens
    out["completion_tokens_details"] = completion_details
    if usage.cost is not None:
        out["cost"] = usage.cost
    return out


# ---------------------------------------------------------------------------- whole replies


def _thinking_block(part: ReasoningPart, num_tokens: int | None) -> ThinkingBlock:
    info: dict[str, Any] = {}
    if part.signature:
        info[SIGNATURE_KEY] = part.signature
    if part.redacted_data:
        info[REDACTED_KEY] = part.redacted_data
    if part.details:
        info[DETAILS_KEY] = part.details
    return _new_thinking(
        block_type="thinking",
        content=part.text or None,
        num_tokens=num_tokens,
        additional_information=info,
    )


def _openai_tool_call(call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name or "", "arguments": arguments},
    }


def _invalid_entry(call: InvalidToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "name": call.name,
        "arguments": call.raw_arguments,
        "error": call.error,
    }


def _tool_parts(
    calls: list[ToolCall], invalid: list[InvalidToolCall]
) -> tuple[list[ToolCallBlock], dict[str, Any]]:
    """Tool-call blocks and the matching ``message.additional_kwargs`` entries."""
    blocks: list[ToolCallBlock] = []
    dicts: list[dict[str, Any]] = []
    for call in calls:
        blocks.append(
            _new_tool(
                block_type="tool_call",
                tool_call_id=call.id,
                tool_name=call.name,
                tool_kwargs=call.arguments,
            )
        )
        dicts.append(
            _openai_tool_call(call.id, call.name, json.dumps(call.arguments, ensure_ascii=False))
        )
    extra: dict[str, Any] = {}
    if invalid:
        for bad in invalid:
            raw = bad.raw_arguments or ""
            blocks.append(
                _new_tool(
                    block_type="tool_call",
                    tool_call_id=bad.id,
                    tool_name=bad.name or "",
                    tool_kwargs=raw,
                )
            )
            dicts.append(_openai_tool_call(bad.id, bad.name, raw))
        extra[INVALID_TOOL_CALLS_KEY] = [_invalid_entry(b) for b in invalid]
    if dicts:
        extra["tool_calls"] = dicts
    return blocks, extra


def _citation_block(citation: Citation, text: str) -> CitationBlock:
    """A ``CitationBlock``: the cited excerpt (else the cited span of the answer), the URL."""
    start, end = citation.start_index, citation.end_index
    cited = citation.cited_text or citation.content
    if cited is None and start is not None and end is not None:
        cited = text[start:end]
    location = {}
    if start is not None:
        location["start_index"] = start
    if end is not None:
        location["end_index"] = end
    return CitationBlock(
        cited_content=TextBlock(text=cited or ""),
        source=citation.url or "",
        title=citation.title or citation.url or "",
        additional_location_info=location,
    )


def _add_citations(
    citations: list[Citation],
    server_blocks: list[dict[str, Any]],
    text: str,
    blocks: list[ContentBlock],
    kwargs: dict[str, Any],
) -> None:
    """Citation blocks and the ``additional_kwargs`` entries of citations / server tools."""
    if citations:
        blocks.extend(_citation_block(c, text) for c in citations)
        kwargs[ANNOTATIONS_KEY] = [citation_dict(c) for c in citations]
    if server_blocks:
        kwargs[SERVER_TOOL_BLOCKS_KEY] = [dict(b) for b in server_blocks]


def response_kwargs(
    usage: Usage | None, model: str | None, finish: str | None, request_id: str | None
) -> dict[str, Any]:
    out = usage_kwargs(usage) if usage is not None else {}
    if model:
        out["model"] = model
    if finish:
        out["finish_reason"] = finish
    if request_id:
        out["request_id"] = request_id
    return out


def chat_response_from_result(result: ChatResult) -> ChatResponse:
    """One complete reply (non-streamed call) as a ``ChatResponse``."""
    usage = result.usage
    blocks: list[ContentBlock] = []
    reasoning_tokens = (
        usage.reasoning_tokens if usage is not None and usage.reasoning_tokens else None
    )
    single = len(result.reasoning) == 1
    for part in result.reasoning:
        blocks.append(_thinking_block(part, reasoning_tokens if single else None))
    if result.text:
        blocks.append(_new_text(block_type="text", text=result.text))
    for url in result.images:
        blocks.append(ImageBlock(url=url))
    message_kwargs: dict[str, Any] = {}
    if result.tool_calls or result.invalid_tool_calls:
        tool_blocks, message_kwargs = _tool_parts(result.tool_calls, result.invalid_tool_calls)
        blocks.extend(tool_blocks)
    if result.citations or result.server_tool_blocks:
        _add_citations(
            result.citations, result.server_tool_blocks, result.text, blocks, message_kwargs
        )

    raw: dict[str, Any] = dict(result.raw) if isinstance(result.raw, dict) else {}
    if usage is not None:
        raw["usage"] = openai_usage(usage, raw.get("usage"))
    if result.request_id:
        raw.setdefault("request_id", result.request_id)
    return _new_response(
        message=_new_message(role=_ASSISTANT, blocks=blocks, additional_kwargs=message_kwargs),
        raw=raw,
        delta=None,
        logprobs=None,
        additional_kwargs=response_kwargs(
            usage, result.model, result.finish_reason, result.request_id
        )
        | (
            {"rate_limit_wait_s": round(result.rate_limit_wait_s, 3)}
            if result.rate_limit_wait_s
            else {}
        ),
    )


# ---------------------------------------------------------------------------- streams


class _StreamTool:
    __slots__ = ("args", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.args = ""


class StreamState:
    """Running state of one stream; :meth:`step` turns each delta into a ``ChatResponse``.

    Every chunk carries the *accumulated* message (LlamaIndex convention) and ``delta`` =
    the new text. Tool arguments stay raw strings while they are still arriving and are
    parsed exactly once, when the finish reason (or usage) shows the calls are complete.
    """

    __slots__ = (
        "citations",
        "cite_parts",
        "details",
        "finish",
        "id",
        "images",
        "model",
        "plain",
        "raw",
        "redacted",
        "request_id",
        "server_blocks",
        "signature",
        "text",
        "thinking",
        "tool_extra",
        "tool_final",
        "tools",
        "usage",
        "usage_extra",
    )

    def __init__(self) -> None:
        self.text = ""
        self.thinking = ""
        self.signature: str | None = None
        self.redacted: str | None = None
        self.details: list[dict[str, Any]] | None = None
        self.tools: dict[int, _StreamTool] = {}
        self.tool_final: list[ToolCallBlock] | None = None
        self.tool_extra: dict[str, Any] | None = None
        self.usage: Usage | None = None
        self.usage_extra: dict[str, Any] | None = None
        self.finish: str | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.request_id: str | None = None
        self.images: list[str] = []
        self.citations: list[Citation] = []
        self.server_blocks: list[dict[str, Any]] = []
        #: Citation blocks + kwargs built once per change (not per chunk), like tool_final.
        self.cite_parts: tuple[list[ContentBlock], dict[str, Any]] | None = None
        self.raw: dict[str, Any] | None = None
        #: Nothing but text so far (and no finish/usage yet): the hot path applies.
        self.plain = True

    # -- accumulation -------------------------------------------------------------------

    def step(self, d: ChatDelta) -> ChatResponse:
        text = d.text
        if text:
            self.text += text
        if d.model and self.model is None:
            self.model = d.model
            self.id = d.id
        if d.request_id:
            self.request_id = d.request_id
        if (
            self.plain
            and not d.reasoning_text
            and not d.tool_calls
            and d.finish_reason is None
            and d.usage is None
            and d.reasoning_signature is None
            and d.redacted_reasoning is None
            and not d.reasoning_details
            and not d.images
            and not d.citations
            and not d.server_tool_blocks
        ):
            # Hot path: a text-only chunk of a text-only reply so far.
            message = _new_message(
                role=_ASSISTANT,
                blocks=[_new_text(block_type="text", text=self.text)],
                additional_kwargs={},
            )
            return _new_response(
                message=message, raw=None, delta=text, logprobs=None, additional_kwargs={}
            )
        return self._step_slow(d, text)

    def _step_slow(self, d: ChatDelta, text: str) -> ChatResponse:
        thinking_delta = d.reasoning_text
        if thinking_delta:
            self.thinking += thinking_delta
            self.plain = False
        if d.reasoning_signature is not None:
            self.signature = d.reasoning_signature
            self.plain = False
        if d.redacted_reasoning is not None:
            self.redacted = d.redacted_reasoning
            self.plain = False
        if d.reasoning_details:
            if self.details is None:
                self.details = []
            merge_reasoning_details(self.details, d.reasoning_details)
            self.plain = False
        if d.tool_calls:
            self._add_tools(d)
            self.plain = False
        if d.images:
            self.images.extend(d.images)
            self.plain = False
        if d.citations:
            add_citations(self.citations, d.citations)
            self.plain = False
            self.cite_parts = None
        if d.server_tool_blocks:
            self.server_blocks.extend(d.server_tool_blocks)
            self.plain = False
            self.cite_parts = None
        changed = False
        if d.finish_reason is not None:
            self.finish = d.finish_reason
            changed = True
        if d.usage is not None:
            self.usage = d.usage
            changed = True
        if d.model:
            self.model = d.model
        if d.id and self.id is None:
            self.id = d.id
        if changed:
            self.plain = False
            self._refresh_raw()

        extra = dict(self.usage_extra) if self.usage_extra is not None else {}
        if thinking_delta:
            extra["thinking_delta"] = thinking_delta
        return _new_response(
            message=self._message(),
            raw=self.raw,
            delta=text,
            logprobs=None,
            additional_kwargs=extra,
        )

    def needs_final(self) -> bool:
        """True when the stream ended with tool calls never marked complete."""
        return bool(self.tools) and self.tool_final is None

    def final(self) -> ChatResponse:
        """A closing chunk (``delta=""``) with parsed tool calls, for streams without a finish."""
        self._finalize_tools()
        return _new_response(
            message=self._message(),
            raw=self.raw,
            delta="",
            logprobs=None,
            additional_kwargs=dict(self.usage_extra or {}),
        )

    def _add_tools(self, d: ChatDelta) -> None:
        tools = self.tools
        for frag in d.tool_calls:
            slot = tools.get(frag.index)
            if slot is None:
                slot = tools[frag.index] = _StreamTool()
            if frag.id:
                slot.id = frag.id
            if frag.name:
                slot.name = frag.name
            if frag.arguments:
                slot.args += frag.arguments
        self.tool_final = None

    def _refresh_raw(self) -> None:
        if self.tools and (self.finish is not None or self.usage is not None):
            self._finalize_tools()
        raw: dict[str, Any] = {"id": self.id, "model": self.model, "finish_reason": self.finish}
        if self.usage is not None:
            raw["usage"] = openai_usage(self.usage)
        self.raw = raw
        self.usage_extra = response_kwargs(self.usage, self.model, self.finish, self.request_id)

    def _finalize_tools(self) -> None:
        calls: list[ToolCall] = []
        invalid: list[InvalidToolCall] = []
        for slot in self.tools.values():
            parsed = parse_tool_arguments(slot.id, slot.name, slot.args)
            if isinstance(parsed, ToolCall):
                calls.append(parsed)
            else:
                invalid.append(parsed)
        self.tool_final, self.tool_extra = _tool_parts(calls, invalid)

    # -- building -----------------------------------------------------------------------

    def _message(self) -> ChatMessage:
        blocks: list[ContentBlock] = []
        if self.thinking or self.signature or self.redacted or self.details:
            info: dict[str, Any] = {}
            if self.signature:
                info[SIGNATURE_KEY] = self.signature
            if self.redacted:
                info[REDACTED_KEY] = self.redacted
            if self.details:
                info[DETAILS_KEY] = self.details
            blocks.append(
                _new_thinking(
                    block_type="thinking",
                    content=self.thinking or None,
                    num_tokens=None,
                    additional_information=info,
                )
            )
        blocks.append(_new_text(block_type="text", text=self.text))
        for url in self.images:
            blocks.append(ImageBlock(url=url))
        kwargs: dict[str, Any] = {}
        if self.tools:
            if self.tool_final is not None:
                blocks.extend(self.tool_final)
                kwargs.update(self.tool_extra or {})
            else:
                dicts = []
                for slot in self.tools.values():
                    blocks.append(
                        _new_tool(
                            block_type="tool_call",
                            tool_call_id=slot.id,
                            tool_name=slot.name or "",
                            tool_kwargs=slot.args,
                        )
                    )
                    dicts.append(_openai_tool_call(slot.id, slot.name, slot.args))
                kwargs["tool_calls"] = dicts
        if self.citations or self.server_blocks:
            if self.cite_parts is None:
                parts: tuple[list[ContentBlock], dict[str, Any]] = ([], {})
                _add_citations(self.citations, self.server_blocks, self.text, *parts)
                self.cite_parts = parts
            blocks.extend(self.cite_parts[0])
            kwargs.update(self.cite_parts[1])
        return _new_message(role=_ASSISTANT, blocks=blocks, additional_kwargs=kwargs)
