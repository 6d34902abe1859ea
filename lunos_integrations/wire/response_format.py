"""``response_format`` as users write it (OpenAI's dict) to the neutral :class:`ResponseFormat`.

Both adapters accept the OpenAI form per call, and each route's codec then writes it its
own way (``response_format`` on the chat route, ``output_config.format`` on the messages
route). Reading the dict is the same for every framework, so it happens once, here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import LunosInputError
from .types import ResponseFormat

__all__ = ["response_format_from_openai"]


def response_format_from_openai(value: Mapping[str, Any]) -> ResponseFormat:
    """``{"type": "text" | "json_object"}`` or ``{"type": "json_schema", "json_schema":
    {"name": ..., "schema": {...}, "strict": ...}}`` (the fields may also sit beside
    ``type``, as some clients flatten them) to a :class:`ResponseFormat`.

    Anything else raises :class:`LunosInputError` naming ``response_format`` and the forms
    that work, rather than sending a body the server can only refuse.
    """
    kind = value.get("type")
    if kind in ("text", "json_object"):
        return ResponseFormat(type=kind)
    if kind != "json_schema":
        raise LunosInputError(
            f"Unknown response_format type {kind!r}; use text, json_object or json_schema.",
            param="response_format",
        )
    nested = value.get("json_schema")
    spec: Mapping[str, Any] = nested if isinstance(nested, Mapping) else value
    schema = spec.get("schema")
    if not isinstance(schema, Mapping):
        raise LunosInputError(
            "response_format json_schema needs json_schema.schema, a JSON schema object: "
            "{'type': 'json_schema', 'json_schema': {'name': ..., 'schema': {...}}}.",
            param="response_format",
        )
    name, strict = spec.get("name"), spec.get("strict")
    return ResponseFormat(
        type="json_schema",
        name=name if isinstance(name, str) else None,
        schema=dict(schema),
        strict=strict if isinstance(strict, bool) else None,
    )
