"""Lunos as a first-class model provider for LangChain and LlamaIndex.

``import lunos_integrations`` is cheap: it imports neither LangChain nor LlamaIndex (nor
even httpx). The framework classes resolve lazily on first attribute access, so
``from lunos_integrations import ChatLunos`` loads only LangChain, and
``from lunos_integrations import LunosLLM`` only LlamaIndex.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .catalog import ModelInfo as ModelInfo
    from .catalog import aget_balance as aget_balance
    from .catalog import alist_models as alist_models
    from .catalog import get_balance as get_balance
    from .catalog import list_models as list_models
    from .client import LunosClient as LunosClient
    from .config import LunosConfig as LunosConfig
    from .errors import APIConnectionError as APIConnectionError
    from .errors import APIStatusError as APIStatusError
    from .errors import APITimeoutError as APITimeoutError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import LunosError as LunosError
    from .errors import RateLimitError as RateLimitError
    from .langchain import ChatLunos as ChatLunos
    from .langchain import LunosEmbeddings as LunosEmbeddings
    from .llama_index import LunosEmbedding as LunosEmbedding
    from .llama_index import LunosLLM as LunosLLM
    from .usage import track_usage as track_usage

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "ChatLunos": "lunos_integrations.langchain",
    "LunosEmbeddings": "lunos_integrations.langchain",
    "LunosLLM": "lunos_integrations.llama_index",
    "LunosEmbedding": "lunos_integrations.llama_index",
    "LunosClient": "lunos_integrations.client",
    "LunosConfig": "lunos_integrations.config",
    "ModelInfo": "lunos_integrations.catalog",
    "list_models": "lunos_integrations.catalog",
    "alist_models": "lunos_integrations.catalog",
    "get_balance": "lunos_integrations.catalog",
    "aget_balance": "lunos_integrations.catalog",
    "track_usage": "lunos_integrations.usage",
    "LunosError": "lunos_integrations.errors",
    "APIConnectionError": "lunos_integrations.errors",
    "APITimeoutError": "lunos_integrations.errors",
    "APIStatusError": "lunos_integrations.errors",
    "AuthenticationError": "lunos_integrations.errors",
    "RateLimitError": "lunos_integrations.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lunos_integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
