"""``bind_tools`` support: LangChain tools → neutral :class:`ToolSpec`, and tool_choice.

Tools are converted once, when they are bound, so each call only copies ready objects.
Every LangChain tool form is accepted (``BaseTool``, functions, Pydantic models,
TypedDicts, OpenAI-format dicts, Anthropic-format dicts with ``input_schema`` and
``cache_control``). Lunos server tools such as ``{"type": "web_search", ...}`` are kept
verbatim and merged into the chat-route ``tools`` list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from ..errors import LunosInputError
from ..wire.server_tools import is_server_tool
from ..wire.types import NamedToolChoice, ToolChoice, ToolSpec

__all__ = ["BoundTools", "convert_tool_choice", "convert_tools", "format_tools"]

ToolLike = dict[str, Any] | type | Callable[..., Any] | BaseTool


class BoundTools:
    """The converted tools of one ``bind_tools`` call (function tools + server tools)."""

    __slots__ = ("server_tools", "specs")

    def __init__(self, specs: list[ToolSpec], server_tools: list[dict[str, Any]]) -> None:
        self.specs = specs
        self.server_tools = server_tools

    def __repr__(self) -> str:  # shows in traces / bound kwargs
        names = [s.name for s in self.specs] + [str(t.get("type")) for t in self.server_tools]
        return f"BoundTools({names})"


def format_tools(tools: Sequence[ToolLike], *, strict: bool | None = None) -> list[dict[str, Any]]:
    """JSON-ready OpenAI-format tool dicts (what ``bind_tools`` binds, visible in traces).

    Anthropic ``cache_control`` is kept as an extra top-level key; server tools verbatim.
    """
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if is_server_tool(tool):
            out.append(dict(tool))  # type: ignore[arg-type]
            continue
        try:
            formatted = convert_to_openai_tool(tool, strict=strict)
        except Exception as exc:
            raise LunosInputError(
                f"Tool {i} ({tool!r:.80}) cannot be converted to a function tool: {exc}",
                param=f"tools[{i}]",
            ) from exc
        if isinstance(tool, dict) and tool.get("cache_control"):
            formatted = {**formatted, "cache_control": tool["cache_control"]}
        out.append(formatted)
    return out


def convert_tools(tools: Sequence[ToolLike], *, strict: bool | None = None) -> BoundTools:
    """Convert tools for a request; raises :class:`LunosInputError` naming the bad one."""
    specs: list[ToolSpec] = []
    server: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if is_server_tool(tool):
            server.append(dict(tool))  # type: ignore[arg-type]
            continue
        if (
            isinstance(tool, dict)
            and tool.get("type") == "function"
            and isinstance(tool.get("function"), dict)
        ):
            formatted: dict[str, Any] = tool
        else:
            formatted = format_tools([tool], strict=strict)[0]
        fn = formatted["function"]
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            raise LunosInputError("Every tool needs a name.", param=f"tools[{i}].name")
        cache = formatted.get("cache_control") or (
            tool.get("cache_control") if isinstance(tool, dict) else None
        )
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        specs.append(
            ToolSpec(
                name=fn["name"],
                description=fn.get("description") or "",
                parameters=params,
                strict=fn.get("strict", strict),
                cache_control=cache,
            )
        )
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise LunosInputError(f"Duplicate tool names: {sorted(dupes)}.", param="tools")
    return BoundTools(specs, server)


def convert_tool_choice(choice: Any, tools: BoundTools) -> ToolChoice | None:
    """Map LangChain's tool_choice vocabulary to the neutral one.

    ``"auto"``/``"none"`` pass through; ``"any"``, ``"required"`` and ``True`` mean "call
    some tool"; a tool name (or an OpenAI / Anthropic choice dict) forces that tool;
    ``None``/``False`` leave the choice to the model.
    """
    if choice is None or choice is False:
        return None
    if choice is True:
        if len(tools.specs) == 1:
            return NamedToolChoice(tools.specs[0].name)
        return "required"
    if isinstance(choice, str):
        if choice in ("auto", "none"):
            return choice  # type: ignore[return-value]
        if choice in ("any", "required"):
            return "required"
        return _named(choice, tools)
    if isinstance(choice, dict):
        kind = choice.get("type")
        fn = choice.get("function")
        if kind == "function" and isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return _named(fn["name"], tools)
        if kind == "tool" and isinstance(choice.get("name"), str):
            return _named(choice["name"], tools)
        if kind == "auto" or kind == "none":
            return "auto" if kind == "auto" else "none"
        if kind in ("any", "required"):
            return "required"
    raise LunosInputError(
        f"Unsupported tool_choice {choice!r}; use 'auto', 'none', 'any', 'required', a tool "
        "name, True, or a {'type': 'function', 'function': {'name': ...}} dict.",
        param="tool_choice",
    )


def _named(name: str, tools: BoundTools) -> NamedToolChoice:
    if name not in {s.name for s in tools.specs}:
        raise LunosInputError(
            f"tool_choice names {name!r}, which is not among the bound tools "
            f"{[s.name for s in tools.specs]}.",
            param="tool_choice",
        )
    return NamedToolChoice(name)
