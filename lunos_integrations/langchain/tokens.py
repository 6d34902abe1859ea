"""Offline token estimates for any model id.

Why an approximation: Lunos serves models from many vendors, each with its own tokenizer,
and exact counting would need per-vendor tokenizer files (tiktoken downloads them at run
time, which fails offline and raises for non-OpenAI ids). ``trim_messages`` and
summarisation middleware only need a stable, slightly pessimistic estimate, so this
module counts word pieces (about four characters per token for long words, one token per
punctuation mark or CJK character) and never raises.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

# one counting rule for the whole package (the spend guard reserves with it too)
from ..budget.tokens import PER_MESSAGE, PER_REPLY, estimate_text_tokens

__all__ = ["estimate_message_tokens", "estimate_text_tokens"]

#: Per-message framing (role markers) and per-reply priming, as OpenAI documents them.
_PER_MESSAGE = PER_MESSAGE
_PER_REPLY = PER_REPLY
#: A typical cost of one image / document / audio attachment when its size is unknown.
_ATTACHMENT_TOKENS = 85


def _content_tokens(content: Any) -> int:
    if isinstance(content, str):
        return estimate_text_tokens(content)
    if not isinstance(content, list):
        return estimate_text_tokens(str(content))
    total = 0
    for block in content:
        if isinstance(block, str):
            total += estimate_text_tokens(block)
        elif isinstance(block, dict):
            text = block.get("text")
            if not isinstance(text, str):
                text = block.get("reasoning") or block.get("thinking")
            if isinstance(text, str):
                total += estimate_text_tokens(text)
            elif block.get("type") not in ("tool_use", "tool_call"):
                total += _ATTACHMENT_TOKENS
    return total


def _json_tokens(value: Any) -> int:
    try:
        return estimate_text_tokens(json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return estimate_text_tokens(repr(value))


def estimate_message_tokens(
    messages: Sequence[BaseMessage], tools: Sequence[Any] | None = None
) -> int:
    """Estimated prompt tokens of a conversation (plus tool definitions, when given)."""
    total = _PER_REPLY
    for message in messages:
        try:
            total += _PER_MESSAGE + _content_tokens(message.content)
            if message.name:
                total += estimate_text_tokens(message.name)
            for call in getattr(message, "tool_calls", None) or ():
                total += estimate_text_tokens(str(call.get("name", ""))) + _json_tokens(
                    call.get("args", {})
                )
        except Exception:  # an estimate must never break the caller
            total += _PER_MESSAGE
    for tool in tools or ():
        try:
            from langchain_core.utils.function_calling import convert_to_openai_tool

            total += _json_tokens(convert_to_openai_tool(tool))
        except Exception:
            total += _json_tokens(tool) if isinstance(tool, dict) else _ATTACHMENT_TOKENS
    return total
