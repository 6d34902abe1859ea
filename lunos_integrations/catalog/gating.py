"""The opt-in catalog pre-filter (``gate_parameters="catalog"``).

Why opt-in: the ``supportedParameters`` lists Lunos publishes are incomplete (lunos-api.md
§3.1/§10.3), so a name missing from one means *unknown*, not *rejected*; by default the
client sends what the user set and learns rejections from the server
(:mod:`lunos_integrations.parameters`). Users who know their catalog is complete can ask
for this pre-filter instead: optional parameters the model's entry does not list are
removed before sending, each with a one-time :class:`LunosUnsupportedParameterWarning` per
(model, parameter) (the warned set belongs to the :class:`~.shared.ModelCatalog`). Nothing
is filtered when the model or the catalog is unknown, or the entry lists no parameters.
``model``, ``messages`` and ``stream`` are never touched; ``extra_body`` is the caller's
verbatim escape hatch and is never filtered either.

Names follow the chat-completions vocabulary used by ``supportedParameters``. Catalogs
describe tools coarsely (just ``"tools"``) or finely (``"tool_choice"``,
``"parallel_tool_calls"`` too): ``tool_choice`` / ``parallel_tool_calls`` are kept when
their own name is listed, or when ``"tools"`` is listed and the catalog uses the coarse
vocabulary (neither fine name appears).

Pure functions: no I/O and no state.
"""

from __future__ import annotations

from typing import Any

from ..parameters import LunosUnsupportedParameterWarning
from ..wire.models import ModelInfo
from ..wire.types import ChatRequest

__all__ = ["LunosUnsupportedParameterWarning", "dropped_fields", "unsupported", "wire_name"]


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


def _allowed(names: tuple[str, ...], supported: tuple[str, ...]) -> bool:
    return any(name in supported for name in names)


def dropped_fields(request: ChatRequest, info: ModelInfo, api: str) -> dict[str, Any]:
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
    # ``stream_options`` is never pre-filtered, even here: no documented catalog lists
    # it, and dropping it loses usage and cost; only the server's 400 removes it.
    return drop


def wire_name(field: str) -> str:
    """The catalog / wire name of a ``ChatRequest`` field."""
    return "stream_options" if field == "include_usage" else field


#: Former name of :func:`dropped_fields`.
unsupported = dropped_fields
