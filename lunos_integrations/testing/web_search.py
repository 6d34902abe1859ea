"""The local server's web-search server tool: deterministic results and their citations.

Why: Lunos answers a request that offers ``{"type": "web_search", ...}`` (chat route) or an
Anthropic ``web_search_*`` server tool (messages route) "with citations when available",
and a client must surface them. This module makes the fake model do the same, offline and
reproducibly, so the citation path of both routes (whole replies and streams) is
exercised end to end. Stdlib only, no I/O.

Behaviour: when the request offers a web-search tool and the answer is text (no function
tool call), the server "searches" for the last user text and returns
``max_results`` (chat ``parameters.max_results``, messages ``max_uses``; default 2, at
most 5) results at ``https://search.example/<slug>/<n>``, each cited over the whole
answer text:

* chat: ``message.annotations`` entries ``{"type": "url_citation", "url_citation": {url,
  title, content, start_index, end_index}}``; streams send them in one ``delta.annotations``
  before the finish chunk;
* messages: a ``server_tool_use`` block (``name: "web_search"``, ``input: {"query"}``), a
  ``web_search_tool_result`` block listing the results, and ``citations``
  (``web_search_result_location``) on the text block; streams send the call input as
  ``input_json_delta`` fragments and each citation as a ``citations_delta``;
  ``usage.server_tool_use.web_search_requests`` is 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Search", "search_for"]

_DEFAULT_RESULTS = 2
_MAX_RESULTS = 5
_SLUG_RE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Search:
    """One fake web search: the query, its results, and the id of the server-tool call."""

    query: str
    results: tuple[tuple[str, str, str], ...]  # (url, title, snippet)
    call_id: str

    # ------------------------------------------------------------------ chat route

    def chat_annotations(self, text: str) -> list[dict[str, Any]]:
        """``message.annotations`` for an answer ``text`` (each result cites all of it)."""
        return [
            {
                "type": "url_citation",
                "url_citation": {
                    "url": url,
                    "title": title,
                    "content": snippet,
                    "start_index": 0,
                    "end_index": len(text),
                },
            }
            for url, title, snippet in self.results
        ]

    # ------------------------------------------------------------------ messages route

    def lead_blocks(self) -> list[dict[str, Any]]:
        """The ``server_tool_use`` and ``web_search_tool_result`` blocks before the text."""
        return [
            {
                "type": "server_tool_use",
                "id": self.call_id,
                "name": "web_search",
                "input": {"query": self.query},
            },
            {
                "type": "web_search_tool_result",
                "tool_use_id": self.call_id,
                "content": [
                    {
                        "type": "web_search_result",
                        "url": url,
                        "title": title,
                        "encrypted_content": f"enc-{n}",
                        "page_age": None,
                    }
                    for n, (url, title, _) in enumerate(self.results)
                ],
            },
        ]

    def block_citations(self) -> list[dict[str, Any]]:
        """``citations`` of the answer's text block."""
        return [
            {
                "type": "web_search_result_location",
                "url": url,
                "title": title,
                "cited_text": snippet,
                "encrypted_index": f"idx-{n}",
            }
            for n, (url, title, snippet) in enumerate(self.results)
        ]

    def usage(self) -> dict[str, Any]:
        return {"server_tool_use": {"web_search_requests": 1}}

    def server_block_events(self, block: dict[str, Any], index: int) -> list[dict[str, Any]]:
        """Stream events of one lead block: start, input fragments (calls), stop."""
        if block["type"] == "server_tool_use":
            start = {**block, "input": {}}
            text = json.dumps(block["input"])
            middle = len(text) // 2
            deltas = [
                {"type": "input_json_delta", "partial_json": part}
                for part in (text[:middle], text[middle:])
            ]
        else:
            start, deltas = block, []
        events: list[dict[str, Any]] = [
            {"type": "content_block_start", "index": index, "content_block": start}
        ]
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
        return events


def _tool(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search"):
            return tool
    return None


def _count(tool: Mapping[str, Any]) -> int:
    params = tool.get("parameters")
    value = params.get("max_results") if isinstance(params, Mapping) else None
    if value is None:
        value = tool.get("max_uses")
    if type(value) is not int or value < 1:
        return _DEFAULT_RESULTS
    return min(value, _MAX_RESULTS)


def _query(body: Mapping[str, Any]) -> str:
    """The last user turn's text (string content or its text parts), as the search query."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = [
                str(p.get("text", ""))
                for p in content
                if isinstance(p, Mapping) and p.get("type") == "text"
            ]
            return " ".join(t for t in texts if t)
    return ""


def search_for(body: Mapping[str, Any], answer: str | None, call_number: int) -> Search | None:
    """The search to attach to a reply, or ``None`` (no web-search tool, or no text answer).

    ``call_number`` makes the server-tool call id unique per request (the router's counter).
    """
    tool = _tool(body)
    if tool is None or not answer:
        return None
    query = _query(body)
    slug = _SLUG_RE.sub("-", query.lower()).strip("-")[:40] or "query"
    results = tuple(
        (
            f"https://search.example/{slug}/{n + 1}",
            f"Result {n + 1} for {query}"[:120],
            f"Snippet {n + 1} about {query}"[:200],
        )
        for n in range(_count(tool))
    )
    return Search(query=query, results=results, call_id=f"srvtoolu_local{call_number}")
