"""Which tool dicts are provider-run server tools, for both adapters alike.

A server tool (``{"type": "web_search", ...}``, Anthropic's ``web_search_20250305`` ...) is
sent verbatim after the function tools (``ChatRequest.server_tools``); anything that
looks like a function tool (a ``function`` key, a schema) is converted instead. One rule
here, so LangChain's ``bind_tools`` and LlamaIndex's ``tools=`` agree on every dict.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_server_tool"]


def is_server_tool(tool: Any) -> bool:
    """True for a provider-run tool dict, to be sent as it is, never reshaped."""
    if not isinstance(tool, dict):
        return False
    kind = tool.get("type")
    return (
        isinstance(kind, str)
        and kind != "function"
        and "function" not in tool
        and (("input_schema" not in tool and "parameters" not in tool) or kind == "web_search")
    )
