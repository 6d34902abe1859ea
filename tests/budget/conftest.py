"""Shared helpers for the spend-guard tests: a pricing local server and clients of it.

Every figure asserted here is either computed from the local server's catalog or read from
the server's own billing ledger (``server.router.billing``), never from a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lunos_integrations.budget.guard import WorstCase, prices_of
from lunos_integrations.budget.tokens import estimate_request_tokens
from lunos_integrations.catalog import shared_catalog
from lunos_integrations.client import LunosClient
from lunos_integrations.testing.catalog import default_models
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.wire.models import parse_model
from lunos_integrations.wire.types import ChatRequest, Message

MODEL = "openai/gpt-4o"


@pytest.fixture
def server() -> Iterator[LocalLunosServer]:
    """A local server that reports ``usage.cost`` (the figure the guard settles with)."""
    with LocalLunosServer(report_cost=True) as s:
        yield s


def make_client(server: LocalLunosServer, **kwargs: Any) -> LunosClient:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("catalog", shared_catalog)  # as the adapters wire it
    return LunosClient(api_key=server.api_key, base_url=server.base_url, **kwargs)


@pytest.fixture
def client(server: LocalLunosServer) -> Iterator[LunosClient]:
    c = make_client(server)
    yield c
    c.close()


def req(text: str = "hi", *, model: str = MODEL, max_tokens: int | None = 10) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", text)], max_tokens=max_tokens)


def catalog_entry(model: str) -> dict[str, Any]:
    return next(m for m in default_models() if m["id"] == model)


def worst_case(request: ChatRequest) -> float:
    """What the guard holds for ``request`` against the default catalog."""
    prices = prices_of(parse_model(catalog_entry(request.model)))
    assert prices is not None
    tokens = estimate_request_tokens(request)
    cap = request.max_tokens if request.max_tokens is not None else prices.output_cap
    return WorstCase(request.model, prices, tokens, tokens * prices.input, cap).amount


def chat_posts(server: LocalLunosServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")
