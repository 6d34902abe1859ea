"""Neutral replies (:class:`ChatResult`, :class:`ChatDelta`) → LangChain messages.

Conventions (the same on both routes, so code does not care which route answered):

* ``content`` is the reply text as a string, like ChatOpenAI, so existing code and
  ``.text`` keep working.
* Reasoning text is in ``additional_kwargs["reasoning_content"]`` (the convention core
  turns into a standard ``reasoning`` content block in ``content_blocks``);
  ``additional_kwargs["reasoning_details"]`` keeps OpenRouter-style details and
  ``additional_kwargs["thinking_blocks"]`` keeps signed Anthropic thinking blocks, so
  both can be sent back verbatim on the next turn.
* ``response_metadata["model_provider"]`` is ``"lunos"`` on every message and chunk, so
  ``content_blocks`` uses the translator in :mod:`.content_blocks` (standard reasoning,
  citation, tool-call, image and server-tool blocks; ``output_version="v1"`` builds on it).
* Citations are in ``additional_kwargs["annotations"]`` (flat dicts, one per source) and
  Messages-route server-tool blocks in ``additional_kwargs["server_tool_blocks"]``.
* Streams: per-chunk work is only text / reasoning / tool-call fragments. Everything that
  must appear exactly once (usage, model name, finish reason, id, cost) goes into one
  final chunk, because LangChain concatenates string metadata when it merges chunks.
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk
from langchain_core.outputs import ChatResult as LCResult

from ..wire.accumulate import add_citations, merge_reasoning_details
from ..wire.citations import citation_dict
from ..wire.types import ChatDelta, ChatResult, Citation, ReasoningPart, Usage
from .content_blocks import ANNOTATIONS_KEY, MODEL_PROVIDER, SERVER_TOOL_BLOCKS_KEY

__all__ = ["StreamState", "result_to_chat_result", "to_usage_metadata"]


def to_usage_metadata(usage: Usage) -> UsageMetadata:
    """LangChain usage; detail dicts only carry the counts the server actually reported."""
    # cast: core's TypedDict lists the detail keys as required for type checkers, but
    # omitting them is how "not reported" is expressed (and what core itself does).
    meta = cast(
        "UsageMetadata",
        {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        },
    )
    if usage.cache_read_tokens or usage.cache_creation_tokens:
        details = InputTokenDetails()
        if usage.cache_read_tokens:
            details["cache_read"] = usage.cache_read_tokens
        if usage.cache_creation_tokens:
            details["cache_creation"] = usage.cache_creation_tokens
        meta["input_token_details"] = details
    if usage.reasoning_tokens:
        meta["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    return meta


def _reasoning_kwargs(parts: list[ReasoningPart], out: dict[str, Any]) -> None:
    text = "".join(p.text for p in parts if p.text)
    if text:
        out["reasoning_content"] = text
    details: list[dict[str, Any]] = []
    for p in parts:
        if p.details:
            details.extend(p.details)
    if details:
        out["reasoning_details"] = details
    if any(p.signature or p.redacted_data is not None for p in parts):
        blocks: list[dict[str, Any]] = []
        for i, p in enumerate(parts):
            if p.redacted_data is not None:
                blocks.append({"type": "redacted_thinking", "data": p.redacted_data, "index": i})
            else:
                block: dict[str, Any] = {"type": "thinking", "thinking": p.text, "index": i}
                if p.signature:
                    block["signature"] = p.signature
                blocks.append(block)
        out["thinking_blocks"] = blocks


def _metadata(
    model: str | None,
    fallback_model: str,
    finish: str | None,
    rid: str | None,
    provider: str | None,
    fingerprint: str | None,
    request_id: str | None,
    cost: float | None,
    api: str,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"model_name": model or fallback_model, "finish_reason": finish}
    if rid:
        meta["id"] = rid
    if provider:
        meta["provider"] = provider
    if fingerprint:
        meta["system_fingerprint"] = fingerprint
    if request_id:
        meta["request_id"] = request_id
    if cost is not None:
        meta["cost"] = cost
    meta["api"] = api
    meta["model_provider"] = MODEL_PROVIDER
    return meta


def result_to_chat_result(result: ChatResult, requested_model: str, api: str) -> LCResult:
    """A complete reply as LangChain's ``ChatResult`` (one generation)."""
    additional: dict[str, Any] = {}
    if result.reasoning:
        _reasoning_kwargs(result.reasoning, additional)
    if result.images:
        additional["images"] = list(result.images)
    if result.citations:
        additional[ANNOTATIONS_KEY] = [citation_dict(c) for c in result.citations]
    if result.server_tool_blocks:
        additional[SERVER_TOOL_BLOCKS_KEY] = [dict(b) for b in result.server_tool_blocks]
    usage = result.usage
    meta = _metadata(
        result.model,
        requested_model,
        result.finish_reason,
        result.id,
        result.provider,
        result.system_fingerprint,
        result.request_id,
        usage.cost if usage else None,
        api,
    )
    raw = result.raw
    if result.rate_limit_wait_s:  # held by the rate governor (README "Rate limits")
        meta["rate_limit_wait_s"] = round(result.rate_limit_wait_s, 3)
    if api == "messages" and isinstance(raw, dict):
        meta["stop_reason"] = raw.get("stop_reason")
        if raw.get("stop_sequence") is not None:
            meta["stop_sequence"] = raw["stop_sequence"]
    message = AIMessage(
        content=result.text,
        additional_kwargs=additional,
        response_metadata=meta,
        tool_calls=[
            {"name": tc.name, "args": tc.arguments, "id": tc.id, "type": "tool_call"}
            for tc in result.tool_calls
        ],
        invalid_tool_calls=[
            {
                "name": tc.name,
                "args": tc.raw_arguments,
                "id": tc.id,
                "error": tc.error,
                "type": "invalid_tool_call",
            }
            for tc in result.invalid_tool_calls
        ],
        usage_metadata=to_usage_metadata(usage) if usage is not None else None,
        id=result.id,
    )
    llm_output: dict[str, Any] = {"model_name": meta["model_name"]}
    if usage is not None:
        llm_output["token_usage"] = {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        }
    gen_info = {"finish_reason": result.finish_reason} if result.finish_reason else None
    return LCResult(
        generations=[ChatGeneration(message=message, generation_info=gen_info)],
        llm_output=llm_output,
    )


def _fast_builder(cls: type[Any]) -> Any:
    """A constructor for ``cls`` that skips validation *and* default resolution.

    Text chunks are built hundreds of times per stream from values this module already
    checked; pydantic's validation, and even ``model_construct``'s per-field default
    lookup, dominated the per-chunk cost. Defaults are resolved once here; mutable ones
    (lists / dicts) are re-created for every instance so nothing is shared.
    """
    proto = cls.model_construct()
    # Field order as declared (so reprs / dumps look like validated instances).
    base: dict[str, Any] = {k: proto.__dict__.get(k) for k in cls.model_fields}
    fresh = tuple((k, type(v)) for k, v in base.items() if isinstance(v, (list, dict)))
    has_extra = proto.__pydantic_extra__ is not None
    new = cls.__new__
    set_attr = object.__setattr__

    def build(fields_set: set[str], values: dict[str, Any]) -> Any:
        d = base.copy()
        for key, factory in fresh:
            d[key] = factory()
        d.update(values)
        obj = new(cls)  # type: ignore[call-overload]
        set_attr(obj, "__dict__", d)
        set_attr(obj, "__pydantic_fields_set__", fields_set)
        set_attr(obj, "__pydantic_extra__", {} if has_extra else None)
        set_attr(obj, "__pydantic_private__", None)
        return obj

    return build


_build_chunk = _fast_builder(AIMessageChunk)
_build_gen = _fast_builder(ChatGenerationChunk)


def _text_chunk(text: str, message_id: str | None) -> ChatGenerationChunk:
    """A plain text chunk. It carries the response id when one is known, like the final
    chunk, so every chunk of one answer has the same id (LangChain would otherwise stamp
    its own run id on these and the provider id only on the last one)."""
    meta = {"model_provider": MODEL_PROVIDER}
    if message_id is None:
        message = _build_chunk(
            {"content", "response_metadata"}, {"content": text, "response_metadata": meta}
        )
    else:
        message = _build_chunk(
            {"content", "id", "response_metadata"},
            {"content": text, "id": message_id, "response_metadata": meta},
        )
    gen: ChatGenerationChunk = _build_gen({"message", "text"}, {"message": message, "text": text})
    return gen


class StreamState:
    """Per-stream bookkeeping; turns deltas into chunks and builds the final chunk."""

    __slots__ = (
        "_block",
        "_citations",
        "_details",
        "api",
        "fingerprint",
        "finish",
        "id",
        "images",
        "model",
        "provider",
        "request_id",
        "requested_model",
        "usage",
    )

    def __init__(self, requested_model: str, api: str) -> None:
        self.requested_model = requested_model
        self.api = api
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.id: str | None = None
        self.model: str | None = None
        self.provider: str | None = None
        self.fingerprint: str | None = None
        self.request_id: str | None = None
        self.images: list[str] = []
        self._details: list[dict[str, Any]] = []
        self._citations: list[Citation] = []
        self._block = 0  # index of the open Anthropic thinking block

    def chunk(self, delta: ChatDelta) -> ChatGenerationChunk | None:
        """The chunk for one delta, or ``None`` when it only carried metadata."""
        # Metadata: remembered, emitted once at the end.
        if delta.id and self.id is None:
            self.id = delta.id
        if delta.request_id:
            self.request_id = delta.request_id
        if delta.model:
            self.model = delta.model
        if delta.provider:
            self.provider = delta.provider
        if delta.system_fingerprint:
            self.fingerprint = delta.system_fingerprint
        if delta.finish_reason:
            self.finish = delta.finish_reason
        if delta.usage is not None:
            self.usage = delta.usage  # the latest report wins: never counted twice
        if delta.images:
            self.images.extend(delta.images)
        if delta.reasoning_details:
            merge_reasoning_details(self._details, delta.reasoning_details)

        text = delta.text
        if not (
            delta.tool_calls
            or delta.reasoning_text
            or delta.reasoning_signature
            or delta.redacted_reasoning is not None
            or delta.citations
            or delta.server_tool_blocks
        ):
            return _text_chunk(text, self.id) if text else None
        return self._rich_chunk(delta)

    def _rich_chunk(self, delta: ChatDelta) -> ChatGenerationChunk:
        additional: dict[str, Any] = {}
        if delta.reasoning_text:
            additional["reasoning_content"] = delta.reasoning_text
        if self.api == "messages":
            blocks: list[dict[str, Any]] = []
            if delta.reasoning_text:
                blocks.append(
                    {"type": "thinking", "thinking": delta.reasoning_text, "index": self._block}
                )
            if delta.reasoning_signature:
                blocks.append(
                    {
                        "type": "thinking",
                        "signature": delta.reasoning_signature,
                        "index": self._block,
                    }
                )
                self._block += 1
            if delta.redacted_reasoning is not None:
                blocks.append(
                    {
                        "type": "redacted_thinking",
                        "data": delta.redacted_reasoning,
                        "index": self._block,
                    }
                )
                self._block += 1
            if blocks:
                additional["thinking_blocks"] = blocks
        if delta.citations:
            # Only citations not sent yet: merged chunks concatenate these lists.
            seen = len(self._citations)
            add_citations(self._citations, delta.citations)
            if len(self._citations) > seen:
                additional[ANNOTATIONS_KEY] = [citation_dict(c) for c in self._citations[seen:]]
        if delta.server_tool_blocks:
            additional[SERVER_TOOL_BLOCKS_KEY] = [dict(b) for b in delta.server_tool_blocks]
        message = AIMessageChunk(
            content=delta.text,
            id=self.id,
            additional_kwargs=additional,
            response_metadata={"model_provider": MODEL_PROVIDER},
            tool_call_chunks=[
                {
                    "name": tc.name,
                    "args": tc.arguments,
                    "id": tc.id,
                    "index": tc.index,
                    "type": "tool_call_chunk",
                }
                for tc in delta.tool_calls
            ],
        )
        return ChatGenerationChunk(message=message)

    def final_chunk(self) -> ChatGenerationChunk:
        """The one chunk carrying usage, model name, finish reason, id and cost."""
        usage = self.usage
        meta = _metadata(
            self.model,
            self.requested_model,
            self.finish,
            self.id,
            self.provider,
            self.fingerprint,
            self.request_id,
            usage.cost if usage else None,
            self.api,
        )
        additional: dict[str, Any] = {}
        if self._details:
            additional["reasoning_details"] = self._details
        if self.images:
            additional["images"] = self.images
        message = AIMessageChunk(
            content="",
            additional_kwargs=additional,
            response_metadata=meta,
            usage_metadata=to_usage_metadata(usage) if usage is not None else None,
            id=self.id,
            chunk_position="last",
        )
        info = {"finish_reason": self.finish} if self.finish else None
        return ChatGenerationChunk(message=message, generation_info=info)
