"""LlamaIndex tools ↔ neutral tool specs, tool choice, and ``ToolSelection`` extraction.

Why these rules:

* ``strict`` is sent only when asked for (LlamaIndex's OpenAI class always writes it and
  forces ``additionalProperties: false``, which changes schemas behind the user's back).
* ``tool_choice`` accepts every spelling users bring from LlamaIndex, OpenAI and Anthropic
  (``"auto"``, ``"none"``, ``"required"``, ``"any"``, a tool name, ``True``/``False``,
  ``{"type": "function", "function": {"name": ...}}``, ``{"type": "tool", "name": ...}``) and
  rejects anything else with :class:`~..errors.LunosInputError` naming ``tool_choice``.
* Arguments that are not valid JSON are never turned into ``{}``: extracting tool calls
  from a *complete* reply with such a call raises :class:`InvalidToolCallError`. While a
  stream is still running, partial JSON is parsed leniently (that is what partial means).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json

from ..errors import LunosError, LunosInputError
from ..wire.types import NamedToolChoice, ToolChoice, ToolSpec
from .messages_out import INVALID_TOOL_CALLS_KEY

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "InvalidToolCallError",
    "resolve_tool_choice",
    "to_tool_spec",
    "to_tool_specs",
    "tool_selections",
]

_SIMPLE_CHOICES: dict[str, ToolChoice] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
    "any": "required",
}


class InvalidToolCallError(LunosError, ValueError):
    """The model called a tool with arguments that are not a JSON object.

    ``calls`` lists ``{"id", "name", "arguments", "error"}`` for each bad call, so the raw
    text is available for logging or a retry prompt.
    """

    def __init__(self, message: str, calls: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.calls = calls


def to_tool_spec(tool: BaseTool | ToolSpec | dict[str, Any], strict: bool | None) -> ToolSpec:
    """One tool in neutral form: a LlamaIndex tool, a ``ToolSpec``, or an OpenAI tool dict."""
    if isinstance(tool, ToolSpec):
        return tool
    if isinstance(tool, dict):
        fn = tool.get("function") if tool.get("type") == "function" else tool
        if not isinstance(fn, dict) or not fn.get("name"):
            raise LunosInputError(
                "A tool given as a dict must look like {'type': 'function', 'function': "
                "{'name': ..., 'parameters': {...}}}.",
                param="tools",
            )
        params = fn.get("parameters") or fn.get("input_schema")
        return ToolSpec(
            name=str(fn["name"]),
            description=str(fn.get("description") or ""),
            parameters=params if isinstance(params, dict) else {"type": "object", "properties": {}},
            strict=fn.get("strict", strict),
        )
    metadata = getattr(tool, "metadata", None)
    if metadata is None:
        raise LunosInputError(
            f"Unsupported tool {type(tool).__name__}: pass LlamaIndex tools (FunctionTool, "
            "QueryEngineTool...), ToolSpec objects or OpenAI tool dicts.",
            param="tools",
        )
    fn = metadata.to_openai_tool(skip_length_check=True)["function"]
    return ToolSpec(
        name=fn["name"],
        description=fn.get("description") or "",
        parameters=fn["parameters"],
        strict=strict,
    )


def to_tool_specs(tools: Sequence[Any], strict: bool | None) -> list[ToolSpec]:
    return [to_tool_spec(t, strict) for t in tools]


def resolve_tool_choice(choice: Any, tool_required: bool = False) -> ToolChoice | None:
    """Normalise a user's ``tool_choice`` (``None`` + ``tool_required`` → ``"required"``)."""
    if choice is None:
        return "required" if tool_required else None
    if isinstance(choice, NamedToolChoice):
        return choice
    if isinstance(choice, bool):
        return "required" if choice else "none"
    if isinstance(choice, str):
        simple = _SIMPLE_CHOICES.get(choice)
        if simple is not None:
            return simple
        if choice.strip():
            return NamedToolChoice(name=choice)
    if isinstance(choice, dict):
        kind = choice.get("type")
        fn = choice.get("function")
        if kind == "function" and isinstance(fn, dict) and fn.get("name"):
            return NamedToolChoice(name=str(fn["name"]))
        if kind == "tool" and choice.get("name"):
            return NamedToolChoice(name=str(choice["name"]))
        if isinstance(kind, str) and kind in _SIMPLE_CHOICES:
            return _SIMPLE_CHOICES[kind]
    raise LunosInputError(
        f"Unsupported tool_choice {choice!r}; use 'auto', 'none', 'required', 'any', a tool "
        "name, True/False, or an OpenAI/Anthropic tool_choice dict.",
        param="tool_choice",
    )


def tool_selections(response: ChatResponse, error_on_no_tool_call: bool) -> list[ToolSelection]:
    """The tool calls in ``response`` as ``ToolSelection`` s (see module docstring)."""
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if not blocks:
        if error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got 0 tool calls.")
        return []
    invalid = response.message.additional_kwargs.get(INVALID_TOOL_CALLS_KEY)
    if invalid:
        names = ", ".join(repr(c.get("name")) for c in invalid)
        details = "; ".join(str(c.get("error")) for c in invalid)
        raise InvalidToolCallError(
            f"The model called {names} with arguments that are not a JSON object: {details}",
            list(invalid),
        )
    selections = []
    for block in blocks:
        kwargs = block.tool_kwargs
        if isinstance(kwargs, str):
            kwargs = _partial_arguments(kwargs)
        selections.append(
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=kwargs,
            )
        )
    return selections


def _partial_arguments(text: str) -> dict[str, Any]:
    """Arguments of a call that is still streaming: complete JSON, else best-effort partial."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = parse_partial_json(text)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def keep_first_tool_call(response: ChatResponse) -> None:
    """LlamaIndex's ``allow_parallel_tool_calls=False`` contract: one call per reply."""
    blocks = response.message.blocks
    calls = [b for b in blocks if isinstance(b, ToolCallBlock)]
    if len(calls) <= 1:
        return
    logger.info("Keeping the first of %d tool calls (allow_parallel_tool_calls=False)", len(calls))
    first = calls[0]
    response.message.blocks = [b for b in blocks if not isinstance(b, ToolCallBlock) or b is first]
    kwargs = response.message.additional_kwargs
    if isinstance(kwargs.get("tool_calls"), list):
        kwargs["tool_calls"] = kwargs["tool_calls"][:1]
