"""Shared connection setup for the cookbook recipes.

Why: every recipe must run on a fresh machine with no network and no account, and the same
file must work unchanged against the real API. :func:`connection` decides once:

* ``LUNOS_API_KEY`` set → the real Lunos API (``LUNOS_BASE_URL`` / ``LUNOS_APP_ID`` are
  honoured as usual); the returned keyword arguments are empty, so the classes read the
  environment exactly as they would in your own code.
* ``LUNOS_API_KEY`` unset → an embedded :class:`~lunos_integrations.testing.LocalLunosServer`
  on 127.0.0.1 with a deterministic fake model, announced with one clear line, and stopped
  when the process exits. Answers then come from that fake model (it echoes the question,
  calls offered tools with arguments taken from the prompt, fills JSON schemas), so the
  recipes show the *plumbing* — streaming, usage, cost, tools, routes — not model quality.

Recipes only pass ``**conn.kwargs`` (``base_url`` and ``api_key``) to ``ChatLunos``,
``LunosLLM``, ``LunosEmbedding``... and use the model ids below. Set
``LUNOS_COOKBOOK_MODEL`` to try another chat model against the real API.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lunos_integrations.testing import LocalLunosServer

#: Chat model used by most recipes (any model id of the Lunos catalog works).
CHAT_MODEL = os.environ.get("LUNOS_COOKBOOK_MODEL", "openai/gpt-4o-mini")
#: Anthropic model for the Messages-route recipe.
CLAUDE_MODEL = "anthropic/claude-sonnet-4"
#: Embedding model for the RAG recipe.
EMBEDDING_MODEL = "openai/text-embedding-3-small"


@dataclass
class Connection:
    """Where the recipe talks to: ``kwargs`` go straight into the Lunos classes."""

    offline: bool
    kwargs: dict[str, Any] = field(default_factory=dict)
    server: LocalLunosServer | None = None

    @property
    def base_url(self) -> str:
        if self.server is not None:
            return self.server.base_url
        from lunos_integrations.config import BASE_URL_ENV, DEFAULT_BASE_URL

        return os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL


_current: list[Connection] = []


def connection() -> Connection:
    """The recipe's connection: real API when ``LUNOS_API_KEY`` is set, else a local server.

    Called once per recipe (later calls return the same connection), so the offline notice
    is printed exactly once.
    """
    if _current:
        return _current[0]
    if os.environ.get("LUNOS_API_KEY"):
        conn = Connection(offline=False)
        print(f"LUNOS_API_KEY is set: running against the Lunos API at {conn.base_url}")
    else:
        from lunos_integrations.testing import LocalLunosServer

        server = LocalLunosServer().start()
        atexit.register(server.stop)
        conn = Connection(
            offline=True,
            kwargs={"base_url": server.base_url, "api_key": server.api_key},
            server=server,
        )
        print(
            "LUNOS_API_KEY is not set: running offline against the local Lunos-compatible "
            f"server at {server.base_url} (answers come from its deterministic fake model)"
        )
    _current.append(conn)
    return conn


def section(title: str) -> None:
    """Print a recipe section header (keeps the output easy to scan)."""
    print(f"\n== {title} ==")
