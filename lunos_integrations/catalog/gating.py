"""Parameter gating: don't send what the model's catalog entry says it does not support.

Why: Lunos rejects a request carrying a parameter that is not in the model's
``supportedParameters`` (lunos-api.md §3.1), so e.g. ``temperature=0`` on an o-series model
would be a 400 deep inside a chain. When the catalog lists the model's parameters, optional
parameters it does not list are removed from the request, each with a one-time
:class:`LunosUnsupportedParameterWarning` per (model, parameter). Nothing is gated when the
model or the catalog is unknown, or the entry lists no parameters. ``model``, ``messages``
and ``stream`` are never touched; ``extra_body`` is the caller's verbatim escape hatch and
is never gated either. ``LunosClient(gate_parameters=False)`` turns all of this off.

Names follow the chat-completions vocabulary used by ``supportedParameters``. Catalogs
describe tools coarsely (just ``"tools"``) or finely (``"tool_choice"``,
``"parallel_tool_calls"`` too): ``tool_choice`` / ``parallel_tool_calls`` are kept when
their own name is listed, or when ``"tools"`` is listed and the catalog uses the coarse
vocabulary (neither fine name appears).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

from .._forksafe import ForkSafeLock
from ..wire.models import ModelInfo
from ..wire.types import ChatRequest

if TYPE_CHECKING:
    from ..client import LunosClient

__all__ = ["LunosUnsupportedParameterWarning", "agate_request", "gate_request", "unsupported"]


class LunosUnsupportedParameterWarning(UserWarning):
    """An optional parameter was dropped because the model's catalog entry does not list it."""


# ChatRequest field -> catalog names, any of which allows it.
_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("max_tokens", ("max_tokens", "max_completion_tokens")),
    ("temperature", ("temperature",)),
    ("top_p", ("top_p",)),
    ("top_k", ("top_k",)),
    ("stop", ("stop",)),
    ("seed", ("seed",)),
    ("frequency_penalty", ("frequency_penalty",)),
    ("presence_penalty", ("presence_penalty",)),
    ("tools", ("tools",)),
    ("response_format", ("response_format", "structured_outputs")),
    ("reasoning_effort", ("reasoning_effort",)),
    ("reasoning", ("reasoning",)),
    ("thinking", ("thinking", "reasoning")),
    ("user", ("user",)),
)
_TOOL_DETAIL = ("tool_choice", "parallel_tool_calls")

_warned: set[tuple[str, str]] = set()
_warned_lock = ForkSafeLock()


def _allowed(names: tuple[str, ...], supported: tuple[str, ...]) -> bool:
    return any(name in supported for name in names)


def unsupported(request: ChatRequest, info: ModelInfo, api: str) -> dict[str, Any]:
    """Fields of ``request`` to reset (field → its "unset" value) for ``info``'s parameters."""
    supported = info.supported_parameters
    if supported is None:
        return {}
    drop: dict[str, Any] = {}
    for field, names in _FIELDS:
        if field == "max_tokens" and api == "messages":
            continue  # required by the Messages API; the codec always sends it
        if getattr(request, field) is not None and not _allowed(names, supported):
            drop[field] = None
    fine_grained = any(name in supported for name in _TOOL_DETAIL)
    for field in _TOOL_DETAIL:
        if getattr(request, field) is None:
            continue
        ok = field in supported or (not fine_grained and "tools" in supported)
        if not ok or "tools" in drop:
            drop[field] = None
    if (
        api == "chat_completions"
        and request.stream
        and request.include_usage
        and "stream_options" not in supported
    ):
        drop["include_usage"] = False
    return drop


def _wire_name(field: str) -> str:
    return "stream_options" if field == "include_usage" else field


def _apply(request: ChatRequest, info: ModelInfo | None, api: str) -> ChatRequest:
    if info is None:
        return request
    drop = unsupported(request, info, api)
    if not drop:
        return request
    for field in drop:
        key = (info.id, _wire_name(field))
        with _warned_lock:
            first = key not in _warned
            _warned.add(key)
        if first:
            warnings.warn(
                f"Lunos model {info.id!r} does not list {_wire_name(field)!r} in its "
                "supportedParameters, so it was not sent (Lunos would reject it). "
                "Pass gate_parameters=False to send it anyway.",
                LunosUnsupportedParameterWarning,
                stacklevel=5,
            )
    return dataclasses.replace(request, **drop)


def gate_request(client: LunosClient, request: ChatRequest, api: str) -> ChatRequest:
    """``request`` without the parameters its model does not support (a copy if changed)."""
    from . import lookup_model

    return _apply(request, lookup_model(client, request.model), api)


async def agate_request(client: LunosClient, request: ChatRequest, api: str) -> ChatRequest:
    """Async :func:`gate_request` (shares the catalog fetch with concurrent callers)."""
    from . import alookup_model

    return _apply(request, await alookup_model(client, request.model), api)


def reset_warnings() -> None:
    """Forget which (model, parameter) pairs were warned about (tests)."""
    with _warned_lock:
        _warned.clear()
