"""Decoding of tool-call arguments, shared by both routes and the stream accumulator."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._common import json_type
from .types import InvalidToolCall, ToolCall

__all__ = ["parse_tool_arguments"]


def parse_tool_arguments(
    call_id: str | None, name: str | None, raw: str | Mapping[str, Any] | None
) -> ToolCall | InvalidToolCall:
    """Turn a tool call's raw ``arguments`` into a :class:`ToolCall` or :class:`InvalidToolCall`.

    * ``None``, ``""`` (or only whitespace) and the JSON literal ``null`` mean "no
      arguments" → ``{}``. Models send all of these for zero-argument tools.
    * A JSON object (as text, or an already-decoded mapping) → :class:`ToolCall`.
    * Malformed JSON, or JSON that is not an object (a list, a number, a string) →
      :class:`InvalidToolCall` carrying the raw text and a readable error. Arguments are
      never silently coerced.
    * A call without a tool name cannot be executed → :class:`InvalidToolCall`.

    A missing ``call_id`` becomes ``""`` on a valid call (some providers omit it).
    """
    if raw is None:
        arguments: Any = {}
        raw_text: str | None = None
    elif isinstance(raw, Mapping):
        arguments = dict(raw)
        raw_text = None
    elif isinstance(raw, str):
        raw_text = raw
        if not raw.strip():
            arguments = {}
        else:
            try:
                arguments = json.loads(raw)
            except RecursionError:
                return InvalidToolCall(
                    id=call_id,
                    name=name,
                    raw_arguments=raw,
                    error=f"Tool call arguments for {name!r} are nested too deeply to decode.",
                )
            except json.JSONDecodeError as exc:
                return InvalidToolCall(
                    id=call_id,
                    name=name,
                    raw_arguments=raw,
                    error=(
                        f"Tool call arguments for {name!r} are not valid JSON: "
                        f"{exc.msg} (line {exc.lineno}, column {exc.colno})."
                    ),
                )
            if arguments is None:
                arguments = {}
    else:
        raw_text = _dumps(raw)
        arguments = raw

    if not isinstance(arguments, dict):
        return InvalidToolCall(
            id=call_id,
            name=name,
            raw_arguments=raw_text,
            error=(
                f"Tool call arguments for {name!r} must be a JSON object, "
                f"got {json_type(arguments)}."
            ),
        )
    if not name:
        return InvalidToolCall(
            id=call_id,
            name=name,
            raw_arguments=raw_text if raw_text is not None else _dumps(arguments),
            error="Tool call has no function name.",
        )
    return ToolCall(id=call_id or "", name=name, arguments=arguments)


def _dumps(value: Any) -> str:
    """JSON text of already-decoded arguments, for error reports (never raises)."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return f"<{type(value).__name__} that cannot be shown as JSON>"
