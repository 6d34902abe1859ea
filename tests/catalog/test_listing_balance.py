"""list_models / alist_models and get_balance / aget_balance: typed results, typed errors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from lunos_integrations import aget_balance, alist_models, catalog, get_balance, list_models
from lunos_integrations.catalog import Balance, lookup_model
from lunos_integrations.catalog.listing import parse_balance
from lunos_integrations.client import LunosClient
from lunos_integrations.errors import (
    APIConnectionError,
    APIResponseValidationError,
    AuthenticationError,
    LunosInputError,
)
from lunos_integrations.testing import ErrorReply, JSONReply
from lunos_integrations.testing.server import LocalLunosServer

from .conftest import model_requests


def test_list_models_returns_typed_models(client: LunosClient) -> None:
    models = list_models(client=client)
    ids = {m.id for m in models}
    assert {"openai/gpt-4o", "deepseek/deepseek-r1", "openai/text-embedding-3-small"} <= ids
    gpt = next(m for m in models if m.id == "openai/gpt-4o")
    assert gpt.name == "GPT-4o"
    assert gpt.input_price_per_million == 2.5 and gpt.output_price_per_million == 10.0


def test_list_filters_are_sent_as_query(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    models = list_models(["text", "image"], "text", client=client)
    query = lunos_server.requests[-1].query
    assert query == {"input": "text,image", "output": "text"}
    assert models and all("image" in m.input_modalities for m in models)
    assert {m.id for m in list_models(input="audio", client=client)} == {"google/gemini-2.5-flash"}


def test_unfiltered_listing_refreshes_lookup_cache(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    list_models(client=client)
    assert lookup_model(client, "openai/gpt-4o") is not None
    assert model_requests(lunos_server) == 1


def test_list_models_from_client_kwargs(lunos_server: LocalLunosServer) -> None:
    models = list_models(api_key=lunos_server.api_key, base_url=lunos_server.base_url)
    assert len(models) == 7


async def test_alist_models(client: LunosClient, lunos_server: LocalLunosServer) -> None:
    models = await alist_models(output="embedding", client=client)
    assert [m.id for m in models] == ["openai/text-embedding-3-small"]
    assert lunos_server.requests[-1].query == {"output": "embedding"}


@pytest.mark.parametrize("shape", ["array", "data", "data_models"])
async def test_alist_models_every_shape(shape: str) -> None:
    with LocalLunosServer(catalog_shape=shape) as srv:  # type: ignore[arg-type]
        models = await alist_models(api_key=srv.api_key, base_url=srv.base_url)
    assert len(models) == 7


def test_list_models_raises_typed_errors(
    client: LunosClient, lunos_server: LocalLunosServer
) -> None:
    lunos_server.enqueue(ErrorReply(401), path="/models")
    with pytest.raises(AuthenticationError):
        list_models(client=client)
    lunos_server.enqueue(JSONReply({"nope": 1}), path="/models")
    with pytest.raises(APIResponseValidationError):
        list_models(client=client)
    with pytest.raises(APIConnectionError):
        list_models(api_key="sk-x-unreachable", base_url="http://127.0.0.1:9/v1", max_retries=0)


@pytest.mark.parametrize("bad", [5, [1], "", [" , "], {"text": 1}])
def test_bad_filters_name_the_parameter(client: LunosClient, bad: object) -> None:
    with pytest.raises(LunosInputError) as info:
        list_models(input=bad, client=client)  # type: ignore[arg-type]
    assert info.value.param == "input"
    with pytest.raises(LunosInputError) as info:
        list_models(output=bad, client=client)  # type: ignore[arg-type]
    assert info.value.param == "output"


def test_client_and_kwargs_are_exclusive(client: LunosClient) -> None:
    with pytest.raises(LunosInputError) as info:
        list_models(client=client, api_key="sk-other")
    assert info.value.param == "client"


def test_get_balance(client: LunosClient) -> None:
    balance = get_balance(client=client)
    assert isinstance(balance, Balance)
    assert balance.balance == 10.5
    assert balance.alert_balance == 1.0
    assert balance.alert_enabled is True
    assert balance.balance_low is False
    assert balance.email
    assert isinstance(balance.updated_at, datetime)


async def test_aget_balance_and_auth_error(lunos_server: LocalLunosServer) -> None:
    balance = await aget_balance(api_key=lunos_server.api_key, base_url=lunos_server.base_url)
    assert balance.balance == 10.5
    with pytest.raises(AuthenticationError):
        await aget_balance(api_key="sk-wrong-key-123", base_url=lunos_server.base_url)


def test_parse_balance_envelopes() -> None:
    documented = {
        "success": True,
        "message": "Balance retrieved successfully",
        "data": {
            "balance": 10.5,
            "email": "user@example.com",
            "alertBalance": 1.0,
            "enableAlert": 1,
            "updatedAt": "2024-01-15T10:30:00.000Z",
            "isAlertEnabled": True,
            "isBalanceLow": False,
        },
    }
    b = parse_balance(documented)
    assert b == Balance(
        balance=10.5,
        email="user@example.com",
        alert_balance=1.0,
        alert_enabled=True,
        balance_low=False,
        updated_at=datetime(2024, 1, 15, 10, 30, tzinfo=timezone.utc),
    )
    # bare object, legacy flag only, low balance derived from the alert threshold
    legacy = parse_balance({"balance": "0.5", "alertBalance": 1, "enableAlert": 0})
    assert (legacy.balance, legacy.alert_enabled, legacy.balance_low) == (0.5, False, True)
    with pytest.raises(APIResponseValidationError, match="no numeric 'balance'"):
        parse_balance({"data": {"email": "x"}})
    with pytest.raises(APIResponseValidationError, match="Missing or invalid"):
        parse_balance({"success": False, "message": "Missing or invalid secret key"})


def test_top_level_names_resolve() -> None:
    import lunos_integrations

    assert lunos_integrations.ModelInfo is catalog.ModelInfo
    assert lunos_integrations.get_balance is get_balance
