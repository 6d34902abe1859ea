"""LangChain-native usage and cost tracking: a callback handler and ``get_lunos_callback()``.

For users who prefer LangChain's callback plumbing (``config={"callbacks": [handler]}``)
over :func:`lunos_integrations.track_usage`. The handler reads what every chat model reports
at the end of a call — ``usage_metadata`` on the message and ``response_metadata["cost"]``
/ ``["model_name"]`` — so it counts ChatLunos calls (invoke and streams: LangChain calls
``on_llm_end`` once per run with the aggregated message) and, without a cost, any other
chat model too.

The handler owns its own :class:`~lunos_integrations.usage.UsageTracker` and never feeds
the trackers of ``track_usage()``: each accumulator counts every call once, so using both
together cannot double count (just don't add their totals up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.tracers.context import register_configure_hook

from ..usage import UsageTracker
from ..wire.types import Usage

__all__ = ["LunosUsageCallbackHandler", "get_lunos_callback"]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _usage_from_message(message: Any) -> Usage | None:
    meta = getattr(message, "usage_metadata", None)
    if not isinstance(meta, dict):
        return None
    inputs = meta.get("input_token_details") or {}
    outputs = meta.get("output_token_details") or {}
    response = getattr(message, "response_metadata", None) or {}
    cost = response.get("cost")
    return Usage(
        input_tokens=_int(meta.get("input_tokens")),
        output_tokens=_int(meta.get("output_tokens")),
        total_tokens=_int(meta.get("total_tokens")),
        cache_read_tokens=_int(inputs.get("cache_read")),
        cache_creation_tokens=_int(inputs.get("cache_creation")),
        reasoning_tokens=_int(outputs.get("reasoning")),
        cost=float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )


class LunosUsageCallbackHandler(BaseCallbackHandler):
    """Totals requests, tokens and USD per model (and per ``app_id``) from ``on_llm_end``.

    ``handler.usage`` is a :class:`UsageTracker` (``total_cost``, ``by_model`` ...). The app
    id is the ``app_id`` given here (LangChain events do not carry the ``X-App-ID`` header).
    """

    raise_error: bool = False
    run_inline: bool = True

    def __init__(self, app_id: str | None = None) -> None:
        super().__init__()
        self.app_id = app_id
        self.usage = UsageTracker()

    def __repr__(self) -> str:
        return f"LunosUsageCallbackHandler({self.usage})"

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        llm_output = response.llm_output or {}
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                usage = _usage_from_message(message)
                if usage is None:
                    continue
                meta = getattr(message, "response_metadata", None) or {}
                model = meta.get("model_name") or llm_output.get("model_name") or "unknown"
                self.usage.record(str(model), self.app_id, usage)


_current: ContextVar[LunosUsageCallbackHandler | None] = ContextVar(
    "lunos_usage_callback", default=None
)
register_configure_hook(_current, inheritable=True)


@contextmanager
def get_lunos_callback(app_id: str | None = None) -> Iterator[LunosUsageCallbackHandler]:
    """Like ``get_openai_callback``: every LangChain chat call inside the block is counted."""
    handler = LunosUsageCallbackHandler(app_id)
    token = _current.set(handler)
    try:
        yield handler
    finally:
        _current.reset(token)
