"""``list_models`` and ``get_balance``: the account-level calls, typed and raising.

Unlike :func:`~lunos_integrations.catalog.lookup_model` (which must never break a chat),
these are what a user calls on purpose, so failures raise the usual typed errors
(:class:`~lunos_integrations.errors.AuthenticationError`, ``APIConnectionError`` ...).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import APIResponseValidationError, LunosInputError
from ..wire._common import describe, to_float
from ..wire.models import PATH as MODELS_PATH
from ..wire.models import ModelInfo
from .cache import decode_catalog
from .state import CACHE

if TYPE_CHECKING:
    from ..client import LunosClient

__all__ = [
    "BALANCE_PATH",
    "Balance",
    "aget_balance",
    "alist_models",
    "get_balance",
    "list_models",
    "parse_balance",
]

BALANCE_PATH = "/balance"
Modalities = str | Sequence[str] | None


def _modality_param(value: Modalities, name: str) -> str | None:
    """``"text,image"`` or ``["text", "image"]`` → ``"text,image"`` (lunos-api.md §2.2)."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if isinstance(items, (bytes, Mapping)) or not isinstance(items, Sequence):
        raise LunosInputError(
            f"{name} must be a modality string or a list of them, got {type(value).__name__}",
            param=name,
        )
    parts: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise LunosInputError(
                f"{name} must contain strings, got {type(item).__name__}", param=name
            )
        parts.extend(p.strip() for p in item.split(",") if p.strip())
    if not parts:
        raise LunosInputError(f"{name} must name at least one modality", param=name)
    return ",".join(parts)


def _query(input: Modalities, output: Modalities) -> dict[str, str] | None:
    params: dict[str, str] = {}
    wanted_in = _modality_param(input, "input")
    wanted_out = _modality_param(output, "output")
    if wanted_in:
        params["input"] = wanted_in
    if wanted_out:
        params["output"] = wanted_out
    return params or None


def _client_for(
    client: LunosClient | None, client_kwargs: dict[str, Any]
) -> tuple[LunosClient, bool]:
    """The caller's client, or a new one from ``client_kwargs`` / environment (owned: True)."""
    if client is not None:
        if client_kwargs:
            raise LunosInputError(
                f"pass either client= or client settings, not both (got {sorted(client_kwargs)})",
                param="client",
            )
        return client, False
    from ..client import LunosClient

    return LunosClient(**client_kwargs), True


@contextmanager
def _using(client: LunosClient | None, client_kwargs: dict[str, Any]) -> Iterator[LunosClient]:
    """The caller's client, or a temporary one that is closed afterwards."""
    used, owned = _client_for(client, client_kwargs)
    try:
        yield used
    finally:
        if owned:
            used.close()


@asynccontextmanager
async def _ausing(
    client: LunosClient | None, client_kwargs: dict[str, Any]
) -> AsyncIterator[LunosClient]:
    used, owned = _client_for(client, client_kwargs)
    try:
        yield used
    finally:
        if owned:
            await used.aclose()


def list_models(
    input: Modalities = None,
    output: Modalities = None,
    *,
    client: LunosClient | None = None,
    **client_kwargs: Any,
) -> list[ModelInfo]:
    """Every model of the catalog (``GET /v1/models``), optionally filtered by modality.

    ``input`` / ``output`` are modality names (``"image"``, ``["text", "image"]``); the
    server keeps models supporting all of them. ``client`` is a
    :class:`~lunos_integrations.client.LunosClient`; without one, a temporary client is
    built from ``client_kwargs`` (``api_key=``, ``base_url=`` ...) and ``LUNOS_*`` variables.
    An unfiltered listing also refreshes the cache behind ``lookup_model``.
    """
    params = _query(input, output)
    with _using(client, client_kwargs) as c:
        with c.observation("models", "models") as observation:
            response = c.transport.request(
                "GET", MODELS_PATH, params=params, observation=observation
            )
            models = decode_catalog(response, c.transport.secrets)
        if params is None:
            CACHE.store(c.config.base_url, models)
        return models


async def alist_models(
    input: Modalities = None,
    output: Modalities = None,
    *,
    client: LunosClient | None = None,
    **client_kwargs: Any,
) -> list[ModelInfo]:
    """Async :func:`list_models`."""
    params = _query(input, output)
    async with _ausing(client, client_kwargs) as c:
        with c.observation("models", "models") as observation:
            response = await c.transport.arequest(
                "GET", MODELS_PATH, params=params, observation=observation
            )
            models = decode_catalog(response, c.transport.secrets)
        if params is None:
            CACHE.store(c.config.base_url, models)
        return models


# --------------------------------------------------------------------------- balance


@dataclass(frozen=True, slots=True)
class Balance:
    """The account balance (``GET /v1/balance``, lunos-api.md §6.1).

    ``balance`` is in the account's billing unit (USD per the SDK docs, "credits" in older
    docs). ``balance_low`` is the server's flag, or derived from ``alert_balance`` when the
    server did not send one.
    """

    balance: float
    email: str | None = None
    alert_balance: float | None = None
    alert_enabled: bool | None = None
    balance_low: bool | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    return None


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_balance(body: Any, *, status_code: int = 200) -> Balance:
    """A :class:`Balance` from the ``{"success", "data": {...}}`` envelope or a bare object."""
    if isinstance(body, dict) and body.get("success") is False:
        message = body.get("message") or body.get("error") or "success: false"
        raise APIResponseValidationError(
            f"Lunos balance request failed: {message}", status_code=status_code
        )
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        data = body
    if not isinstance(data, dict):
        raise APIResponseValidationError(
            f"Balance response is not a JSON object: {describe(body)}", status_code=status_code
        )
    amount = to_float(data.get("balance"))
    if amount is None:
        raise APIResponseValidationError(
            f"Balance response has no numeric 'balance': {describe(body)}",
            status_code=status_code,
        )
    alert_balance = to_float(data.get("alertBalance"))
    alert_enabled = _flag(data.get("isAlertEnabled"))
    if alert_enabled is None:
        alert_enabled = _flag(data.get("enableAlert"))
    low = _flag(data.get("isBalanceLow"))
    if low is None and alert_balance is not None:
        low = amount <= alert_balance
    email = data.get("email")
    return Balance(
        balance=amount,
        email=email if isinstance(email, str) else None,
        alert_balance=alert_balance,
        alert_enabled=alert_enabled,
        balance_low=low,
        updated_at=_timestamp(data.get("updatedAt")),
        raw=dict(data),
    )


def get_balance(*, client: LunosClient | None = None, **client_kwargs: Any) -> Balance:
    """The account balance; raises typed errors (401 → ``AuthenticationError`` ...)."""
    with _using(client, client_kwargs) as c, c.observation("balance", "balance") as observation:
        response = c.transport.request("GET", BALANCE_PATH, observation=observation)
        return parse_balance(response.data, status_code=response.status_code)


async def aget_balance(*, client: LunosClient | None = None, **client_kwargs: Any) -> Balance:
    """Async :func:`get_balance`."""
    async with _ausing(client, client_kwargs) as c:
        with c.observation("balance", "balance") as observation:
            response = await c.transport.arequest("GET", BALANCE_PATH, observation=observation)
            return parse_balance(response.data, status_code=response.status_code)
