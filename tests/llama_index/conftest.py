"""Fixtures for the LlamaIndex adapter tests: LunosLLM against the real local server.

``Settings.tokenizer`` is replaced with a whitespace splitter for the whole package so that
no test depends on tiktoken data being downloadable (there is no internet in CI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from llama_index.core import Settings

from lunos_integrations.llama_index import LunosLLM
from lunos_integrations.testing import LocalLunosServer

#: (api, model) pairs used to run the same test over both Lunos routes.
ROUTES = [
    pytest.param(("chat_completions", "openai/gpt-4o-mini"), id="chat_completions"),
    pytest.param(("messages", "anthropic/claude-sonnet-4"), id="messages"),
]


def _split_tokenizer(text: str) -> list[str]:
    return text.split()


@pytest.fixture(autouse=True, scope="session")
def _local_tokenizer() -> Iterator[None]:
    previous = Settings._tokenizer
    Settings.tokenizer = _split_tokenizer
    yield
    Settings._tokenizer = previous


@pytest.fixture
def make_llm(lunos_server: LocalLunosServer) -> Iterator[Callable[..., LunosLLM]]:
    """Build LunosLLMs pointed at the per-test server; closes them afterwards."""
    made: list[LunosLLM] = []

    def make(**kwargs: Any) -> LunosLLM:
        kwargs.setdefault("api_key", lunos_server.api_key)
        kwargs.setdefault("base_url", lunos_server.base_url)
        kwargs.setdefault("max_retries", 0)
        llm = LunosLLM(**kwargs)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        llm.close()


@pytest.fixture(params=ROUTES)
def route_llm(request: pytest.FixtureRequest, make_llm: Callable[..., LunosLLM]) -> LunosLLM:
    """One LunosLLM per route (chat completions with GPT-4o mini, messages with Claude)."""
    api, model = request.param
    return make_llm(api=api, model=model)


def _chat_bodies(server: LocalLunosServer) -> list[dict[str, Any]]:
    return [
        r.json
        for r in server.requests
        if r.path.endswith(("/chat/completions", "/messages")) and isinstance(r.json, dict)
    ]


@pytest.fixture
def bodies(lunos_server: LocalLunosServer) -> Callable[[], list[dict[str, Any]]]:
    """``bodies()``: JSON bodies of the chat requests (either route) so far, oldest first.

    (This folder has no ``__init__.py``: a package named ``llama_index`` here would shadow
    the real one, so helpers are fixtures rather than importable functions.)
    """
    return lambda: _chat_bodies(lunos_server)
