"""LangChain integration: :class:`ChatLunos` (chat) and :class:`LunosEmbeddings`.

``LunosEmbeddings`` is resolved lazily so importing the chat model does not import the
embeddings module (and vice versa).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .chat_models import ChatLunos

if TYPE_CHECKING:
    from .embeddings import LunosEmbeddings

__all__ = ["ChatLunos", "LunosEmbeddings"]


def __getattr__(name: str) -> Any:
    if name == "LunosEmbeddings":
        value = importlib.import_module(".embeddings", __name__).LunosEmbeddings
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
