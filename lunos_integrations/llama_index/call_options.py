"""Per-call options of :class:`~.llm.LunosLLM`, mapped onto the neutral request.

LlamaIndex passes options two ways: ``additional_kwargs`` on the instance and keyword
arguments on each call. Both land here. Keys that are request fields are set on the
:class:`~..wire.types.ChatRequest`, so each route's codec encodes them its own way;
header keys become per-call headers; anything else is sent verbatim in the JSON body
(``extra_body``), never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import LunosInputError
from ..wire.server_tools import is_server_tool
from ..wire.types import OPTION_FIELDS, ChatRequest
from . import structured
from .tools import resolve_tool_choice, to_tool_specs

__all__ = ["apply_call_options"]

_DIRECT_FIELDS = frozenset((*OPTION_FIELDS, "parallel_tool_calls"))
_HEADER_KEYS = ("extra_headers", "headers")


def apply_call_options(req: ChatRequest, options: Mapping[str, Any]) -> dict[str, str] | None:
    """Apply per-call kwargs / ``additional_kwargs`` to ``req``; returns per-call headers."""
    headers: dict[str, str] | None = None
    extra: dict[str, Any] | None = None
    for key, value in options.items():
        if value is None:
            continue
        if key in _DIRECT_FIELDS:
            setattr(req, key, value)
        elif key == "model":
            if not isinstance(value, str) or not value.strip():
                raise LunosInputError("model must be a non-empty model id.", param="model")
            req.model = value
        elif key == "stop":
            req.stop = [value] if isinstance(value, str) else list(value)
        elif key == "tools":
            server = [t for t in value if is_server_tool(t)]
            req.tools = to_tool_specs([t for t in value if not is_server_tool(t)], None)
            req.server_tools = server or None
        elif key == "tool_choice":
            req.tool_choice = resolve_tool_choice(value)
        elif key == "response_format":
            req.response_format = structured.to_response_format(value)
        elif key == "stream_options":
            if isinstance(value, dict) and "include_usage" in value:
                req.include_usage = bool(value["include_usage"])
        elif key in ("stream_usage", "include_usage"):
            req.include_usage = bool(value)
        elif key == "extra_body":
            if not isinstance(value, dict):
                raise LunosInputError("extra_body must be a dict.", param="extra_body")
            extra = {**(extra or {}), **value}
        elif key in _HEADER_KEYS:
            if not isinstance(value, Mapping):
                raise LunosInputError(f"{key} must be a mapping.", param=key)
            headers = {**(headers or {}), **{str(k): str(v) for k, v in value.items()}}
        else:
            if extra is None:
                extra = {}
            extra[key] = value
    if extra:
        req.extra_body = extra
    return headers
