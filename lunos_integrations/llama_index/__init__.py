"""LlamaIndex integration: ``LunosLLM`` (chat, tools, agents) and ``LunosEmbedding``.

Importing this package imports LlamaIndex (that is its job) but nothing from LangChain.
``LunosEmbedding`` and the usage event handler are resolved lazily so that using only the
LLM does not import their modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .llm import LunosLLM
from .tools import InvalidToolCallError

if TYPE_CHECKING:
    from .embedding import LunosEmbedding
    from .events import LunosUsageEventHandler, attach_usage_handler

_LAZY = {
    "LunosEmbedding": ".embedding",
    "LunosUsageEventHandler": ".events",
    "attach_usage_handler": ".events",
}

__all__ = [
    "InvalidToolCallError",
    "LunosEmbedding",
    "LunosLLM",
    "LunosUsageEventHandler",
    "attach_usage_handler",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value
