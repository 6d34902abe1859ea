"""LangChain v1 content blocks for ChatLunos messages (``model_provider="lunos"``).

``AIMessage.content_blocks`` picks a translator by ``response_metadata["model_provider"]``.
ChatLunos registers its own instead of borrowing ``"openai"`` / ``"anthropic"``, because
its messages keep one shape on both routes (``content`` is the reply text; reasoning,
citations, server-tool blocks and images sit in ``additional_kwargs``), and neither core
translator reads that shape: the OpenAI one drops ``reasoning_content`` and images, the
Anthropic one sees a string and returns only its text. This one yields the standard
blocks those translators produce for ChatOpenAI / ChatAnthropic replies — ``reasoning``
(with the Anthropic ``signature`` in ``extras``), ``text`` with ``citation`` annotations,
``tool_call`` / ``tool_call_chunk`` / ``invalid_tool_call``, ``image``, and
``server_tool_call`` / ``server_tool_result`` (converted by core's Anthropic translator, so
web-search results look exactly as they do for ChatAnthropic).

Messages whose ``content`` is already a list (a v1 history, or one built by hand) are left
to core's best-effort parsing, which understands lists.
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import anthropic as anthropic_blocks
from langchain_core.messages.block_translators import register_translator

__all__ = [
    "ANNOTATIONS_KEY",
    "MODEL_PROVIDER",
    "SERVER_TOOL_BLOCKS_KEY",
    "citation_to_v1",
    "translate_content",
    "translate_content_chunk",
]

#: ``response_metadata["model_provider"]`` of every ChatLunos message and chunk.
MODEL_PROVIDER = "lunos"
#: ``additional_kwargs`` key of the reply's citations (flat dicts, see ``citation_dict``).
ANNOTATIONS_KEY = "annotations"
#: ``additional_kwargs`` key of Messages-route server-tool blocks, verbatim.
SERVER_TOOL_BLOCKS_KEY = "server_tool_blocks"

_Block = dict[str, Any]
"""A standard block under construction; the public functions cast the finished list (the
TypedDicts of core make every optional key a separate type error otherwise)."""

# Citation keys with a standard field; the rest go to ``extras``.
_CITATION_FIELDS = ("url", "title", "start_index", "end_index", "cited_text")
_CITATION_KINDS = frozenset(
    (
        "url_citation",
        "web_search_result_location",
        "char_location",
        "page_location",
        "content_block_location",
        "search_result_location",
    )
)


def citation_to_v1(entry: dict[str, Any]) -> _Block:
    """One stored citation dict as a standard ``citation`` annotation.

    Types that are not citations of a source stay ``non_standard_annotation`` (with the
    dict as ``value``), as core's own translators do.
    """
    if entry.get("type") not in _CITATION_KINDS:
        return {"type": "non_standard_annotation", "value": dict(entry)}
    out: dict[str, Any] = {"type": "citation"}
    for key in _CITATION_FIELDS:
        if entry.get(key) is not None:
            out[key] = entry[key]
    # Like core's translators: the wire type is not kept (additional_kwargs has it).
    extras = {k: v for k, v in entry.items() if k != "type" and k not in _CITATION_FIELDS}
    if extras:
        out["extras"] = extras
    return out


def _reasoning(kwargs: dict[str, Any]) -> list[_Block]:
    thinking = kwargs.get("thinking_blocks")
    if isinstance(thinking, list) and thinking:
        blocks: list[_Block] = []
        for item in thinking:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "redacted_thinking":
                value = {"type": "redacted_thinking", "data": item.get("data", "")}
                blocks.append({"type": "non_standard", "value": value})
                continue
            block: dict[str, Any] = {"type": "reasoning", "reasoning": item.get("thinking", "")}
            if item.get("signature"):
                block["extras"] = {"signature": item["signature"]}
            blocks.append(block)
        return blocks
    text = kwargs.get("reasoning_content")
    if isinstance(text, str) and text:
        return [{"type": "reasoning", "reasoning": text}]
    return []


def _server_tool_blocks(kwargs: dict[str, Any]) -> list[_Block]:
    raw = kwargs.get(SERVER_TOOL_BLOCKS_KEY)
    if not isinstance(raw, list) or not raw:
        return []
    blocks = [b for b in raw if isinstance(b, dict)]
    # Core's Anthropic translator knows every server-tool block type; it reads content.
    converted = anthropic_blocks.translate_content(AIMessage(content=list(blocks)))
    return cast("list[_Block]", converted)


def _text(text: str, kwargs: dict[str, Any]) -> list[_Block]:
    annotations = kwargs.get(ANNOTATIONS_KEY)
    if isinstance(annotations, list) and annotations:
        block: _Block = {
            "type": "text",
            "text": text,
            "annotations": [citation_to_v1(a) for a in annotations if isinstance(a, dict)],
        }
        return [block]
    return [{"type": "text", "text": text}] if text else []


def _images(kwargs: dict[str, Any]) -> list[_Block]:
    urls = kwargs.get("images")
    if not isinstance(urls, list):
        return []
    blocks: list[_Block] = []
    for url in urls:
        if not isinstance(url, str):
            continue
        if url.startswith("data:") and ";base64," in url:
            head, data = url[5:].split(";base64,", 1)
            blocks.append({"type": "image", "base64": data, "mime_type": head.split(";")[0]})
        else:
            blocks.append({"type": "image", "url": url})
    return blocks


def _invalid_calls(message: AIMessage) -> list[_Block]:
    return [
        {
            "type": "invalid_tool_call",
            "id": call.get("id"),
            "name": call.get("name"),
            "args": call.get("args"),
            "error": call.get("error"),
        }
        for call in message.invalid_tool_calls
    ]


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    """Standard blocks of a whole ChatLunos reply."""
    if not isinstance(message.content, str):
        raise NotImplementedError  # list content: core's best-effort parsing handles it
    kwargs = message.additional_kwargs
    blocks = _reasoning(kwargs)
    blocks += _server_tool_blocks(kwargs)
    blocks += _text(message.content, kwargs)
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_call", "name": call["name"], "args": call["args"], "id": call.get("id")}
        )
    blocks += _invalid_calls(message)
    blocks += _images(kwargs)
    return cast("list[types.ContentBlock]", blocks)


def translate_content_chunk(message: AIMessageChunk) -> list[types.ContentBlock]:
    """Standard blocks of one streamed chunk (or of chunks merged so far)."""
    if not isinstance(message.content, str):
        raise NotImplementedError
    if message.chunk_position == "last" and message.tool_calls:
        # Chunks merged into a whole message: calls are complete.
        return translate_content(message)
    kwargs = message.additional_kwargs
    blocks = _reasoning(kwargs)
    blocks += _server_tool_blocks(kwargs)
    blocks += _text(message.content, kwargs)
    for chunk in message.tool_call_chunks:
        block: _Block = {
            "type": "tool_call_chunk",
            "id": chunk.get("id"),
            "name": chunk.get("name"),
            "args": chunk.get("args"),
        }
        if chunk.get("index") is not None:
            # A string of its own: core numbers v1 stream blocks by type changes, and an
            # integer tool-call ordinal would collide with (and merge into) the reasoning
            # or text block that got the same number.
            block["index"] = f"lc_tc_{chunk['index']}"
        blocks.append(block)
    blocks += _images(kwargs)
    return cast("list[types.ContentBlock]", blocks)


register_translator(MODEL_PROVIDER, translate_content, translate_content_chunk)
