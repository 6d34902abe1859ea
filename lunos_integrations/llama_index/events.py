"""LlamaIndex-native usage and cost tracking through the instrumentation dispatcher.

``LunosUsageEventHandler`` listens for ``LLMChatEndEvent`` / ``LLMCompletionEndEvent`` and
reads the usage LunosLLM puts on every response (``raw["usage"]``, OpenAI-shaped, with
``cost``; or the same counts in ``additional_kwargs``). For streams LlamaIndex emits the end
event once, with the last chunk, which is the one carrying usage. Attach it with
:func:`attach_usage_handler` (or ``get_dispatcher().add_event_handler(handler)``).

The handler owns its own :class:`~lunos_integrations.usage.UsageTracker` and never feeds
``track_usage()``'s trackers, so using both cannot double count.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMCompletionEndEvent
from llama_index_instrumentation import get_dispatcher
from pydantic import PrivateAttr

from ..usage import UsageTracker
from ..wire.types import Usage

__all__ = ["LunosUsageEventHandler", "attach_usage_handler", "usage_from_response"]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _num(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _as_dict(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        out = dump()
        return out if isinstance(out, Mapping) else {}
    return {}


def usage_from_response(response: Any) -> tuple[Usage | None, str | None]:
    """``(usage, model)`` from a ChatResponse / CompletionResponse, or ``(None, None)``."""
    raw = _as_dict(getattr(response, "raw", None))
    extra = _as_dict(getattr(response, "additional_kwargs", None))
    if not extra:
        message = getattr(response, "message", None)
        extra = _as_dict(getattr(message, "additional_kwargs", None))
    model = raw.get("model") or extra.get("model")
    u = _as_dict(raw.get("usage"))
    if u:
        prompt = _as_dict(u.get("prompt_tokens_details"))
        completion = _as_dict(u.get("completion_tokens_details"))
        inputs = _int(u.get("prompt_tokens", u.get("input_tokens")))
        outputs = _int(u.get("completion_tokens", u.get("output_tokens")))
        usage = Usage(
            input_tokens=inputs,
            output_tokens=outputs,
            total_tokens=_int(u.get("total_tokens")) or inputs + outputs,
            cache_read_tokens=_int(prompt.get("cached_tokens")),
            cache_creation_tokens=_int(prompt.get("cache_creation_tokens")),
            reasoning_tokens=_int(completion.get("reasoning_tokens")),
            cost=_num(u.get("cost", extra.get("cost"))),
        )
        return usage, str(model) if model else None
    if "prompt_tokens" in extra or "completion_tokens" in extra:
        inputs, outputs = _int(extra.get("prompt_tokens")), _int(extra.get("completion_tokens"))
        usage = Usage(
            input_tokens=inputs,
            output_tokens=outputs,
            total_tokens=_int(extra.get("total_tokens")) or inputs + outputs,
            cache_read_tokens=_int(extra.get("cached_tokens")),
            cache_creation_tokens=_int(extra.get("cache_creation_tokens")),
            reasoning_tokens=_int(extra.get("reasoning_tokens")),
            cost=_num(extra.get("cost")),
        )
        return usage, str(model) if model else None
    return None, None


class LunosUsageEventHandler(BaseEventHandler):
    """Totals requests, tokens and USD per model from LlamaIndex LLM end events."""

    app_id: str | None = None
    _usage: UsageTracker = PrivateAttr(default_factory=UsageTracker)

    @property
    def usage(self) -> UsageTracker:
        """The totals collected so far."""
        return self._usage

    @classmethod
    def class_name(cls) -> str:
        return "LunosUsageEventHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if not isinstance(event, (LLMChatEndEvent, LLMCompletionEndEvent)):
            return
        usage, model = usage_from_response(event.response)
        if usage is not None:
            self.usage.record(model or "unknown", self.app_id, usage)


def attach_usage_handler(app_id: str | None = None) -> LunosUsageEventHandler:
    """Create a handler and register it on LlamaIndex's root dispatcher."""
    handler = LunosUsageEventHandler(app_id=app_id)
    get_dispatcher().add_event_handler(handler)
    return handler
