"""Assemble a stream of :class:`ChatDelta` objects into one :class:`ChatResult`.

Route-independent: both the chat-completions chunk decoder and the Messages stream decoder
produce ``ChatDelta``. The assembled result equals what the route's ``decode_response``
returns for the same reply sent without streaming (except ``raw``, which is ``None``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .tool_args import parse_tool_arguments
from .types import (
    ChatDelta,
    ChatResult,
    Citation,
    InvalidToolCall,
    ReasoningPart,
    ToolCall,
    Usage,
)

__all__ = ["StreamAccumulator", "add_citations", "merge_reasoning_details"]

# String fields of reasoning_details entries that arrive in fragments and concatenate.
_CONCAT_FIELDS = ("text", "summary", "data")


class _Reasoning:
    __slots__ = ("closed", "details", "redacted", "signature", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.signature: str | None = None
        self.redacted: str | None = None
        self.details: list[dict[str, Any]] | None = None
        self.closed = False


class _Tool:
    __slots__ = ("args", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.args: list[str] = []


def merge_reasoning_details(into: list[dict[str, Any]], fragments: list[dict[str, Any]]) -> None:
    """Merge streamed ``reasoning_details`` fragments into ``into`` (in place).

    A fragment whose ``index`` (and ``type``, when both have one) matches an existing entry
    extends it: ``text``/``summary``/``data`` concatenate, other keys take the newest
    non-null value. Fragments without an ``index`` are appended as they are. Input dicts
    are never mutated.
    """
    for frag in fragments:
        if not isinstance(frag, dict):
            continue
        idx = frag.get("index")
        target = None
        if idx is not None:
            for entry in reversed(into):
                if entry.get("index") == idx and (
                    entry.get("type") is None
                    or frag.get("type") is None
                    or entry.get("type") == frag.get("type")
                ):
                    target = entry
                    break
        if target is None:
            into.append(dict(frag))
            continue
        for key, value in frag.items():
            if value is None:
                continue
            if key in _CONCAT_FIELDS and isinstance(value, str):
                prev = target.get(key)
                target[key] = prev + value if isinstance(prev, str) else value
            else:
                target[key] = value


def add_citations(into: list[Citation], new: Iterable[Citation]) -> None:
    """Append streamed citations, skipping ones already held (in place).

    Some servers repeat the whole annotation list on several chunks (the last content
    chunk and the finish chunk); a citation equal in every field is the same citation.
    """
    for citation in new:
        if citation not in into:
            into.append(citation)


class StreamAccumulator:
    """Collects deltas; :meth:`result` can be called at any time (also mid-stream)."""

    __slots__ = (
        "_citations",
        "_finish_reason",
        "_id",
        "_images",
        "_model",
        "_provider",
        "_reasoning",
        "_server_blocks",
        "_system_fingerprint",
        "_text",
        "_tools",
        "_usage",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[_Reasoning] = []
        self._tools: dict[int, _Tool] = {}
        self._usage: Usage | None = None
        self._finish_reason: str | None = None
        self._id: str | None = None
        self._model: str | None = None
        self._provider: str | None = None
        self._system_fingerprint: str | None = None
        self._images: list[str] = []
        self._citations: list[Citation] = []
        self._server_blocks: list[dict[str, Any]] = []

    def _open_reasoning(self) -> _Reasoning:
        if self._reasoning:
            last = self._reasoning[-1]
            if not last.closed:
                return last
        part = _Reasoning()
        self._reasoning.append(part)
        return part

    def add(self, delta: ChatDelta) -> None:
        if delta.text:
            self._text.append(delta.text)
        if delta.redacted_reasoning is not None:
            part = _Reasoning()
            part.redacted = delta.redacted_reasoning
            part.closed = True
            self._reasoning.append(part)
        if delta.reasoning_text or delta.reasoning_details:
            part = self._open_reasoning()
            if delta.reasoning_text:
                part.text.append(delta.reasoning_text)
            if delta.reasoning_details:
                if part.details is None:
                    part.details = []
                merge_reasoning_details(part.details, delta.reasoning_details)
        if delta.reasoning_signature:
            # Anthropic sends the signature last; it closes the thinking block.
            part = self._open_reasoning()
            part.signature = (part.signature or "") + delta.reasoning_signature
            part.closed = True
        for frag in delta.tool_calls:
            tool = self._tools.get(frag.index)
            if tool is None:
                tool = self._tools[frag.index] = _Tool()
            if frag.id and not tool.id:
                tool.id = frag.id
            if frag.name and not tool.name:
                tool.name = frag.name
            if frag.arguments:
                tool.args.append(frag.arguments)
        if delta.usage is not None:
            self._usage = delta.usage
        if delta.finish_reason is not None:
            self._finish_reason = delta.finish_reason
        if delta.id is not None:
            self._id = delta.id
        if delta.model is not None:
            self._model = delta.model
        if delta.provider is not None:
            self._provider = delta.provider
        if delta.system_fingerprint is not None:
            self._system_fingerprint = delta.system_fingerprint
        if delta.images:
            self._images.extend(delta.images)
        if delta.citations:
            add_citations(self._citations, delta.citations)
        if delta.server_tool_blocks:
            self._server_blocks.extend(delta.server_tool_blocks)

    def result(self) -> ChatResult:
        tool_calls: list[ToolCall] = []
        invalid: list[InvalidToolCall] = []
        for index in sorted(self._tools):
            tool = self._tools[index]
            parsed = parse_tool_arguments(tool.id, tool.name, "".join(tool.args))
            if isinstance(parsed, ToolCall):
                tool_calls.append(parsed)
            else:
                invalid.append(parsed)
        reasoning = [
            ReasoningPart(
                text="".join(r.text),
                signature=r.signature,
                redacted_data=r.redacted,
                details=[dict(d) for d in r.details] if r.details else None,
            )
            for r in self._reasoning
        ]
        return ChatResult(
            text="".join(self._text),
            tool_calls=tool_calls,
            invalid_tool_calls=invalid,
            reasoning=reasoning,
            finish_reason=self._finish_reason,
            usage=self._usage,
            id=self._id,
            model=self._model,
            provider=self._provider,
            system_fingerprint=self._system_fingerprint,
            images=list(self._images),
            citations=list(self._citations),
            server_tool_blocks=list(self._server_blocks),
        )
