"""lookup_model / alookup_model: shapes, caching, sharing one fetch, never raising."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import warnings

import pytest

from lunos_integrations import catalog
from lunos_integrations.catalog import LunosCatalogWarning, alookup_model, lookup_model
from lunos_integrations.client import LunosClient
from lunos_integrations.testing import Delay, ErrorReply, JSONReply, RawReply
from lunos_integrations.testing.server import LocalLunosServer

from .conftest import make_client, model_requests


@pytest.mark.parametrize("shape", ["array", "data", "data_models"])
def test_lookup_in_every_catalog_shape(shape: str) -> None:
    with LocalLunosServer(catalog_shape=shape) as srv, make_client(srv) as client:  # type: ignore[arg-type]
        info = lookup_model(client, "google/gemini-2.5-flash")
        assert info is not None
        assert info.id == "google/gemini-2.5-flash"
        assert info.provider == "google"
        assert info.context_window == 1048576
        assert info.max_output_tokens == 65535
        # 0.30 / 2.50 per 1M with a 10 % discount
        assert info.input_price_per_million == pytest.approx(0.27)
        assert info.output_price_per_million == pytest.approx(2.25)
        assert "video" in info.input_modalities
        assert info.supported_parameters is not None and "tools" in info.supported_parameters
        assert lookup_model(client, "openai/o3-mini").supports_reasoning is True  # type: ignore[union-attr]
        assert model_requests(srv) == 1


def test_unknown_model_is_none_without_refetch(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    assert lookup_model(client, "nobody/no-such-model") is None
    assert lookup_model(client, "nobody/no-such-model") is None
    assert lookup_model(client, "openai/gpt-4o") is not None
    assert model_requests(lunos_server) == 1


def test_older_shapes_parse_through_lookup(
    lunos_server: LocalLunosServer, client: LunosClient
) -> None:
    """Version 1 (``{status, data: {models}}`` with ``pricing``) and version 2 (capabilities)."""
    body = {
        "status": "success",
        "data": {
            "models": [
                {
                    "id": "deepseek/deepseek-r1-0528",
                    "name": "DeepSeek R1-0528",
                    "parameters": {"context": 163840, "max_output_tokens": 163840},
                    "provider": "deepseek",
                    "pricePerMillionTokens": {"input": 0.45, "output": 1.9},
                    "capabilities": ["text-generation"],
                    "status": "available",
                }
            ]
        },
    }
    lunos_server.enqueue(JSONReply(body), path="/models")
    info = lookup_model(client, "deepseek/deepseek-r1-0528")
    assert info is not None
    assert info.context_window == 163840
    assert info.input_price_per_million == pytest.approx(0.45)
    assert info.supported_parameters is None  # nothing listed: nothing will be gated


def test_ttl_expiry_refetches(client: LunosClient, lunos_server: LocalLunosServer) -> None:
    catalog.configure_catalog_cache(ttl=0)
    lookup_model(client, "openai/gpt-4o")
    lookup_model(client, "openai/gpt-4o")
    assert model_requests(lunos_server) == 2


def test_cache_is_per_base_url() -> None:
    with (
        LocalLunosServer() as a,
        LocalLunosServer() as b,
        make_client(a) as ca,
        make_client(b) as cb,
    ):
        lookup_model(ca, "openai/gpt-4o")
        lookup_model(cb, "openai/gpt-4o")
        lookup_model(ca, "openai/gpt-4o")
        assert (model_requests(a), model_requests(b)) == (1, 1)


def test_fifty_threads_share_one_fetch(client: LunosClient, lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(Delay(0.3), path="/models")  # keep the first fetch in flight
    barrier = threading.Barrier(50)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(lookup_model(client, "openai/gpt-4o-mini"))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 50
    assert all(r is not None and r.id == "openai/gpt-4o-mini" for r in results)  # type: ignore[attr-defined]
    assert model_requests(lunos_server) == 1


async def test_fifty_tasks_share_one_fetch(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    lunos_server.enqueue(Delay(0.3), path="/models")
    results = await asyncio.gather(
        *(alookup_model(client, "openai/gpt-4o-mini") for _ in range(50))
    )
    assert all(r is not None and r.id == "openai/gpt-4o-mini" for r in results)
    assert model_requests(lunos_server) == 1
    assert await alookup_model(client, "openai/gpt-4o") is not None
    assert model_requests(lunos_server) == 1


async def test_cancelled_caller_does_not_cancel_shared_fetch(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    lunos_server.enqueue(Delay(0.3), path="/models")
    first = asyncio.create_task(alookup_model(client, "openai/gpt-4o"))
    second = asyncio.create_task(alookup_model(client, "openai/gpt-4o"))
    await asyncio.sleep(0.05)
    first.cancel()
    info = await second
    assert info is not None and info.id == "openai/gpt-4o"
    assert model_requests(lunos_server) == 1


@pytest.mark.parametrize(
    "reply",
    [
        ErrorReply(500),
        ErrorReply(401),
        RawReply(200, b"<html>proxy</html>", content_type="text/html"),
        JSONReply({"unexpected": True}),
    ],
    ids=["500", "401", "html", "wrong-shape"],
)
def test_broken_catalog_warns_once_and_is_negatively_cached(
    client: LunosClient, lunos_server: LocalLunosServer, reply: object
) -> None:
    lunos_server.enqueue(reply, path="/models")  # type: ignore[arg-type]
    with pytest.warns(LunosCatalogWarning, match="could not be used") as record:
        assert lookup_model(client, "openai/gpt-4o") is None
        assert lookup_model(client, "openai/gpt-4o") is None
    ours = [w for w in record if issubclass(w.category, LunosCatalogWarning)]
    assert len(ours) == 1
    assert model_requests(lunos_server) == 1  # no retry on every call
    assert lunos_server.api_key not in str(record[0].message)


def test_retry_after_negative_ttl_and_recovery(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    catalog.configure_catalog_cache(negative_ttl=0)
    lunos_server.enqueue(ErrorReply(503), path="/models")
    with pytest.warns(LunosCatalogWarning):
        assert lookup_model(client, "openai/gpt-4o") is None
    assert lookup_model(client, "openai/gpt-4o") is not None
    assert model_requests(lunos_server) == 2


def test_stale_catalog_served_while_endpoint_fails(
    client: LunosClient, lunos_server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lookup_model(client, "openai/gpt-4o") is not None
    later = time.monotonic() + catalog.DEFAULT_TTL + 1
    monkeypatch.setattr(catalog.CACHE, "clock", lambda: later)
    lunos_server.enqueue(ErrorReply(500), path="/models")
    with pytest.warns(LunosCatalogWarning, match="last good catalog"):
        info = lookup_model(client, "openai/gpt-4o")
    assert info is not None and info.id == "openai/gpt-4o"


def test_unreachable_catalog_never_raises() -> None:
    client = LunosClient(
        api_key="sk-test-unreachable", base_url="http://127.0.0.1:9/v1", max_retries=0
    )
    with pytest.warns(LunosCatalogWarning) as record:
        assert lookup_model(client, "openai/gpt-4o") is None
        assert asyncio.run(alookup_model(client, "openai/gpt-4o")) is None
    ours = [w for w in record if issubclass(w.category, LunosCatalogWarning)]
    assert len(ours) == 1
    assert "sk-test-unreachable" not in str(ours[0].message)


async def test_async_broken_catalog_warns_once(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    lunos_server.enqueue(ErrorReply(500), path="/models")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        results = await asyncio.gather(*(alookup_model(client, "openai/gpt-4o") for _ in range(10)))
    assert results == [None] * 10
    assert [w.category for w in record if w.category is not ResourceWarning] == [
        LunosCatalogWarning
    ]
    assert model_requests(lunos_server) == 1


def test_import_does_no_io() -> None:
    code = (
        "import sys, lunos_integrations.catalog as c, lunos_integrations.pricing, "
        "lunos_integrations.usage\n"
        "assert c.CACHE.fetches == 0 and c.CACHE.peek('https://api.lunos.tech/v1') is None\n"
        "assert 'langchain_core' not in sys.modules and 'llama_index' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_configure_rejects_bad_values() -> None:
    from lunos_integrations.errors import LunosInputError

    with pytest.raises(LunosInputError) as info:
        catalog.configure_catalog_cache(ttl=-1)
    assert info.value.param == "ttl"
