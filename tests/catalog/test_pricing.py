"""Cost arithmetic against hand-computed figures, and cost on real calls."""

from __future__ import annotations

import pytest

from lunos_integrations.catalog import lookup_model
from lunos_integrations.client import LunosClient
from lunos_integrations.pricing import compute_cost
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.wire.models import ModelInfo, parse_model
from lunos_integrations.wire.types import ChatRequest, EmbeddingRequest, Message, Usage

from .conftest import make_client


def _model(prices: dict[str, float]) -> ModelInfo | None:
    return parse_model({"id": "x/m", "name": "M", "pricePerMillionTokens": prices})


def test_plain_cost() -> None:
    info = _model({"input": 2.5, "output": 10.0})
    # 1000 in * $2.50/M + 500 out * $10/M = 0.0025 + 0.005
    assert compute_cost(info, Usage(input_tokens=1000, output_tokens=500)) == pytest.approx(0.0075)


def test_discount_applies() -> None:
    info = _model({"input": 0.3, "output": 2.5, "discountPercentage": 10})
    # 2000 * 0.27/M + 1000 * 2.25/M = 0.00054 + 0.00225
    assert compute_cost(info, Usage(input_tokens=2000, output_tokens=1000)) == pytest.approx(
        0.00279
    )


def test_cached_tokens_at_input_price_without_cache_price() -> None:
    info = _model({"input": 2.5, "output": 10.0})
    usage = Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=200)
    # cached tokens are part of input_tokens and billed at the input price: same 0.0075
    assert compute_cost(info, usage) == pytest.approx(0.0075)


def test_cache_prices_from_catalog_with_discount() -> None:
    info = _model(
        {
            "input": 3.0,
            "output": 15.0,
            "cacheRead": 0.3,
            "cacheWrite": 3.75,
            "discountPercentage": 20,
        }
    )
    usage = Usage(
        input_tokens=10_000,
        output_tokens=1_000,
        cache_read_tokens=6_000,
        cache_creation_tokens=2_000,
    )
    # discounted: in 2.4, out 12, read 0.24, write 3.0
    # 2000*2.4 + 6000*0.24 + 2000*3.0 + 1000*12 = 4800 + 1440 + 6000 + 12000 = 24240 → /1e6
    assert compute_cost(info, usage) == pytest.approx(0.02424)


def test_reasoning_tokens_are_not_billed_twice() -> None:
    info = _model({"input": 1.1, "output": 4.4})
    usage = Usage(input_tokens=2, output_tokens=12, reasoning_tokens=5)
    assert compute_cost(info, usage) == pytest.approx((2 * 1.1 + 12 * 4.4) / 1e6)


def test_unknown_prices_give_none_not_zero() -> None:
    assert compute_cost(None, Usage(input_tokens=10, output_tokens=10)) is None
    assert compute_cost(_model({}), Usage(input_tokens=10)) is None
    assert compute_cost(_model({"input": 1.0}), Usage(input_tokens=10, output_tokens=1)) is None
    assert compute_cost(_model({"input": 1.0}), Usage(input_tokens=10)) == pytest.approx(1e-5)


def test_computed_cost_on_chat(client: LunosClient) -> None:
    result = client.chat(
        ChatRequest(model="google/gemini-2.5-flash", messages=[Message("user", "price me")])
    )
    usage = result.usage
    assert usage is not None and usage.cost is not None
    expected = (usage.input_tokens * 0.27 + usage.output_tokens * 2.25) / 1e6
    assert usage.cost == pytest.approx(expected)


def test_server_reported_cost_wins() -> None:
    with LocalLunosServer(report_cost=True) as srv, make_client(srv) as client:
        result = client.chat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "hi")]))
        assert result.usage is not None and result.usage.cost is not None
        raw_usage = (result.raw or {}).get("usage", {})
        assert result.usage.cost == raw_usage.get("cost")


def test_model_missing_from_catalog_costs_none(lunos_server: LocalLunosServer) -> None:
    models = [
        m for m in __import__("lunos_integrations.testing.catalog", fromlist=["x"]).default_models()
    ]
    with LocalLunosServer(models=models) as srv, make_client(srv) as client:
        lookup_model(client, "openai/gpt-4o")
        srv.router.models = [m for m in srv.router.models]  # catalog already cached
        from lunos_integrations import catalog

        cached = catalog.CACHE.peek(client.config.base_url)
        assert cached is not None
        catalog.CACHE.store(
            client.config.base_url, [m for k, m in cached.items() if k != "openai/gpt-4o-mini"]
        )
        result = client.chat(
            ChatRequest(model="openai/gpt-4o-mini", messages=[Message("user", "hi")])
        )
        assert result.usage is not None and result.usage.cost is None


async def test_computed_cost_async_and_streams(client: LunosClient) -> None:
    req = ChatRequest(model="openai/gpt-4o", messages=[Message("user", "stream me please")])
    usages = [d.usage async for d in client.astream_chat(req) if d.usage is not None]
    assert len(usages) == 1 and usages[0].cost is not None
    u = usages[0]
    assert u.cost == pytest.approx((u.input_tokens * 2.5 + u.output_tokens * 10.0) / 1e6)
    result = await client.achat(ChatRequest(model="openai/gpt-4o", messages=[Message("user", "x")]))
    assert result.usage is not None and result.usage.cost is not None


def test_embedding_cost(client: LunosClient) -> None:
    result = client.embed(EmbeddingRequest(model="openai/text-embedding-3-small", input=["a b c"]))
    assert result.usage is not None
    assert result.usage.cost == pytest.approx(result.usage.input_tokens * 0.02 / 1e6)
