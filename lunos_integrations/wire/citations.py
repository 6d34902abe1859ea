"""Citations (web-search sources and document passages) ⇄ the neutral :class:`Citation`.

Why a module of its own: both routes carry citations, in different shapes, and both
framework adapters show them; keeping the decoding and the one dict form here means a
new shape is learnt in one place. Pure functions, no I/O.

Shapes read:

* chat-completions ``message.annotations`` / ``delta.annotations`` entries,
  ``{"type": "url_citation", "url_citation": {"url", "title", "start_index",
  "end_index", "content"}}`` (OpenAI style) or with those keys flat on the entry
  (OpenRouter style);
* Messages-route ``citations`` on ``text`` blocks (``web_search_result_location``,
  ``char_location``, ``page_location`` ...) and the ``citation`` of a streamed
  ``citations_delta``.

Entries of an unknown ``type`` are kept (``kind`` = that type, the other keys in
``extras``), never dropped; entries whose known fields have the wrong JSON type are a
:class:`~lunos_integrations.errors.WireFormatError` like any other malformed field.
"""

from __future__ import annotations

from typing import Any

from ._common import want_count, want_list, want_str, wrong_type
from .types import Citation

__all__ = [
    "citation_dict",
    "decode_annotations",
    "decode_block_citations",
    "decode_citation",
]

# Keys of a url_citation that map onto Citation fields.
_URL_FIELDS = frozenset(("url", "title", "start_index", "end_index", "content", "cited_text"))
# Keys of an Anthropic citation that map onto Citation fields (the rest go to extras).
_BLOCK_FIELDS = frozenset(("type", "url", "title", "document_title", "cited_text"))


def _extras(entry: dict[str, Any], known: frozenset[str]) -> dict[str, Any] | None:
    extra = {k: v for k, v in entry.items() if k not in known and v is not None}
    return extra or None


def decode_annotations(raw: Any, where: str) -> list[Citation]:
    """Citations from a chat-completions ``annotations`` array (``[]`` when absent)."""
    items = want_list(raw, where)
    if not items:
        return []
    out: list[Citation] = []
    for j, entry in enumerate(items):
        here = f"{where}[{j}]"
        if type(entry) is not dict:
            raise wrong_type(here, "an object", entry)
        kind = want_str(entry.get("type"), f"{here}.type") or "url_citation"
        if kind != "url_citation":
            rest = {k: v for k, v in entry.items() if k != "type"}
            out.append(Citation(kind=kind, extras=rest or None))
            continue
        inner = entry.get("url_citation")
        if inner is None:
            fields, base = entry, f"{here}"  # OpenRouter style: the fields are flat
            known = _URL_FIELDS | {"type"}
        elif type(inner) is dict:
            fields, base = inner, f"{here}.url_citation"
            known = _URL_FIELDS
        else:
            raise wrong_type(f"{here}.url_citation", "an object", inner)
        extras = _extras(fields, known)
        if fields is inner:
            outer = _extras(entry, frozenset(("type", "url_citation")))
            if outer:
                extras = {**(extras or {}), **outer}
        out.append(
            Citation(
                kind=kind,
                url=want_str(fields.get("url"), f"{base}.url"),
                title=want_str(fields.get("title"), f"{base}.title"),
                start_index=want_count(fields.get("start_index"), f"{base}.start_index"),
                end_index=want_count(fields.get("end_index"), f"{base}.end_index"),
                cited_text=want_str(fields.get("cited_text"), f"{base}.cited_text"),
                content=want_str(fields.get("content"), f"{base}.content"),
                extras=extras,
            )
        )
    return out


def decode_citation(entry: Any, where: str, start: int, end: int) -> Citation:
    """One Messages-route citation, spanning ``start:end`` of the reply text.

    The route cites whole text blocks, so the span is that block's place in the joined
    reply text (the caller knows it); ``document_title`` (document citations) becomes
    ``title``; location keys (``encrypted_index``, ``start_char_index`` ...) stay in
    ``extras`` as sent.
    """
    if type(entry) is not dict:
        raise wrong_type(where, "an object", entry)
    title = want_str(entry.get("title"), f"{where}.title")
    if title is None:
        title = want_str(entry.get("document_title"), f"{where}.document_title")
    return Citation(
        kind=want_str(entry.get("type"), f"{where}.type") or "citation",
        url=want_str(entry.get("url"), f"{where}.url"),
        title=title,
        start_index=start,
        end_index=end,
        cited_text=want_str(entry.get("cited_text"), f"{where}.cited_text"),
        extras=_extras(entry, _BLOCK_FIELDS),
    )


def decode_block_citations(raw: Any, where: str, start: int, end: int) -> list[Citation]:
    """The ``citations`` array of one Messages-route text block (``[]`` when absent)."""
    items = want_list(raw, where)
    if not items:
        return []
    return [decode_citation(c, f"{where}[{j}]", start, end) for j, c in enumerate(items)]


def citation_dict(citation: Citation) -> dict[str, Any]:
    """The one dict form both adapters expose (flat, like OpenAI's Responses annotations).

    ``{"type": <wire type>, "url", "title", "start_index", "end_index", "cited_text",
    "content"}`` with unset fields left out and ``extras`` merged in last (keys the wire
    had that no field holds), so the dict says everything the server said.
    """
    out: dict[str, Any] = {"type": citation.kind}
    if citation.url is not None:
        out["url"] = citation.url
    if citation.title is not None:
        out["title"] = citation.title
    if citation.start_index is not None:
        out["start_index"] = citation.start_index
    if citation.end_index is not None:
        out["end_index"] = citation.end_index
    if citation.cited_text is not None:
        out["cited_text"] = citation.cited_text
    if citation.content is not None:
        out["content"] = citation.content
    if citation.extras:
        for key, value in citation.extras.items():
            out.setdefault(key, value)
    return out
