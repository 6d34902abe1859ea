"""LangChain messages → the neutral :class:`~lunos_integrations.wire.types.Message` list.

Accepts every content shape LangChain users actually send: plain strings, LangChain v1
standard blocks (``image``/``file``/``audio`` with ``url``/``base64``/``mime_type``), the
older v0 blocks (``source_type``), OpenAI chat blocks (``image_url``, ``input_audio``,
``file``) and Anthropic blocks (``image``/``document`` with ``source``, ``tool_use``,
``tool_result``, ``thinking``). The route codecs then write whichever wire form the
chosen route needs, so one conversation works on both routes.

Anything that cannot be represented raises :class:`LunosInputError` naming the message
and block, instead of being dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from ..errors import LunosInputError
from ..wire.types import (
    AudioPart,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    ReasoningPart,
    Role,
    TextPart,
    ToolCall,
)

__all__ = ["convert_messages"]

_CHAT_ROLES: dict[str, Role] = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}
_REASONING_TYPES = frozenset(("reasoning", "thinking", "redacted_thinking"))
_TOOL_CALL_TYPES = frozenset(("tool_use", "tool_call"))


def convert_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """Convert a LangChain conversation; one LangChain message may yield several turns."""
    out: list[Message] = []
    for i, msg in enumerate(messages):
        param = f"messages[{i}]"
        if isinstance(msg, AIMessage):
            out.append(_assistant(msg, param))
        elif isinstance(msg, HumanMessage):
            _user(msg.content, msg.name, param, out)
        elif isinstance(msg, SystemMessage):
            out.append(Message(role="system", content=_parts(msg.content, param)))
        elif isinstance(msg, ToolMessage):
            out.append(
                Message(
                    role="tool",
                    content=_parts(msg.content, param),
                    tool_call_id=msg.tool_call_id,
                    is_error=msg.status == "error",
                )
            )
        elif isinstance(msg, ChatMessage):
            role = _CHAT_ROLES.get(msg.role.lower())
            if role is None or role == "tool":
                raise LunosInputError(
                    f"ChatMessage role {msg.role!r} is not supported; use user, assistant or "
                    "system (or a ToolMessage for tool results).",
                    param=f"{param}.role",
                )
            if role == "user":
                _user(msg.content, msg.name, param, out)
            else:
                out.append(Message(role=role, content=_parts(msg.content, param), name=msg.name))
        elif isinstance(msg, FunctionMessage):
            raise LunosInputError(
                "FunctionMessage (legacy function calling) is not supported; use ToolMessage.",
                param=param,
            )
        else:
            raise LunosInputError(f"Unsupported message type {type(msg).__name__}.", param=param)
    return out


# --------------------------------------------------------------------------- user turns


def _user(content: Any, name: str | None, param: str, out: list[Message]) -> None:
    """A human turn; Anthropic-style ``tool_result`` blocks become tool turns before it."""
    if isinstance(content, str):
        out.append(Message(role="user", content=content, name=name))
        return
    rest: list[Any] = []
    for j, block in enumerate(content):
        if isinstance(block, dict) and block.get("type") == "tool_result":
            tool_id = block.get("tool_use_id")
            if not isinstance(tool_id, str) or not tool_id:
                raise LunosInputError(
                    "A tool_result block needs its tool_use_id.",
                    param=f"{param}.content[{j}].tool_use_id",
                )
            inner = block.get("content", "")
            out.append(
                Message(
                    role="tool",
                    content=_parts(inner, f"{param}.content[{j}].content"),
                    tool_call_id=tool_id,
                    is_error=bool(block.get("is_error")),
                )
            )
        else:
            rest.append(block)
    if rest or not content:
        out.append(Message(role="user", content=_parts(rest, param), name=name))


# --------------------------------------------------------------------------- assistant turns


def _assistant(msg: AIMessage, param: str) -> Message:
    content = msg.content
    parts: list[ContentPart] | str
    block_reasoning: list[ReasoningPart] = []
    block_calls: list[ToolCall] = []
    if isinstance(content, str):
        parts = content
    else:
        kept: list[Any] = []
        for j, block in enumerate(content):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind in _REASONING_TYPES:
                block_reasoning.append(_reasoning_block(block))  # type: ignore[arg-type]
            elif kind in _TOOL_CALL_TYPES:
                block_calls.append(_tool_call_block(block, f"{param}.content[{j}]"))  # type: ignore[arg-type]
            elif kind in (
                "tool_call_chunk",
                "invalid_tool_call",
                "server_tool_call",
                "server_tool_result",
            ):
                continue  # represented by msg.tool_calls / executed server-side
            else:
                kept.append(block)
        parts = _parts(kept, param)

    calls = [
        ToolCall(id=tc.get("id") or "", name=tc["name"], arguments=dict(tc.get("args") or {}))
        for tc in msg.tool_calls
    ] or block_calls
    return Message(
        role="assistant",
        content=parts,
        name=msg.name,
        tool_calls=calls,
        reasoning=_reasoning(msg.additional_kwargs, block_reasoning),
    )


def _reasoning(kwargs: dict[str, Any], from_blocks: list[ReasoningPart]) -> list[ReasoningPart]:
    """Reasoning to send back, best source first.

    ``thinking_blocks`` (what ChatLunos stores on the messages route) carry the Anthropic
    signatures, so they win; then reasoning blocks in the content (v1 output, Anthropic
    style histories); then the ``reasoning_content`` / ``reasoning_details`` convention of
    the chat route (DeepSeek, OpenRouter).
    """
    details = kwargs.get("reasoning_details")
    details = details if isinstance(details, list) and details else None
    thinking = kwargs.get("thinking_blocks")
    if isinstance(thinking, list) and thinking:
        parts = [_reasoning_block(b) for b in thinking if isinstance(b, dict)]
        if details and parts:
            parts[0].details = details
        return parts
    if from_blocks:
        if details:
            from_blocks[0].details = details
        return from_blocks
    text = kwargs.get("reasoning_content")
    if not isinstance(text, str):
        text = ""
    if text or details:
        return [ReasoningPart(text=text, details=details)]
    return []


def _reasoning_block(block: dict[str, Any]) -> ReasoningPart:
    kind = block.get("type")
    if kind == "redacted_thinking" or ("data" in block and "thinking" not in block):
        return ReasoningPart(redacted_data=str(block.get("data") or ""))
    text = block.get("thinking")
    if not isinstance(text, str):
        text = block.get("reasoning")
    signature = block.get("signature")
    extras = block.get("extras")
    if signature is None and isinstance(extras, dict):
        signature = extras.get("signature")
    return ReasoningPart(
        text=text if isinstance(text, str) else "",
        signature=signature if isinstance(signature, str) and signature else None,
    )


def _tool_call_block(block: dict[str, Any], param: str) -> ToolCall:
    args = block.get("input") if block.get("type") == "tool_use" else block.get("args")
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError as exc:
            raise LunosInputError(f"Tool call arguments are not JSON: {exc}", param=param) from exc
    if args is None:
        args = {}
    if not isinstance(args, dict) or not block.get("name"):
        raise LunosInputError("A tool call block needs a name and object arguments.", param=param)
    return ToolCall(id=str(block.get("id") or ""), name=str(block["name"]), arguments=args)


# --------------------------------------------------------------------------- content parts


def _parts(content: Any, param: str) -> list[ContentPart] | str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise LunosInputError(
            f"Message content must be a string or a list of blocks, got {type(content).__name__}.",
            param=f"{param}.content",
        )
    parts: list[ContentPart] = []
    for j, block in enumerate(content):
        part = _part(block, f"{param}.content[{j}]")
        if part is not None:
            parts.append(part)
    return parts


def _part(block: Any, param: str) -> ContentPart | None:
    if isinstance(block, str):
        return TextPart(block)
    if not isinstance(block, dict):
        raise LunosInputError(
            f"Content blocks must be strings or dicts, got {type(block).__name__}.", param=param
        )
    kind = block.get("type")
    cache = block.get("cache_control")
    if kind in ("text", "text-plain", "input_text") and "base64" not in block:
        text = block.get("text")
        if not isinstance(text, str):
            raise LunosInputError("A text block needs a 'text' string.", param=param)
        return TextPart(text, cache_control=cache)
    if kind == "non_standard" and isinstance(block.get("value"), dict):
        return _part(block["value"], param)
    if kind == "image_url":
        inner = block.get("image_url")
        if isinstance(inner, str):
            return ImagePart(url=inner, cache_control=cache)
        if isinstance(inner, dict) and isinstance(inner.get("url"), str):
            return ImagePart(url=inner["url"], detail=inner.get("detail"), cache_control=cache)
        raise LunosInputError("An image_url block needs image_url.url.", param=param)
    if kind == "input_audio":
        inner = block.get("input_audio")
        if isinstance(inner, dict) and inner.get("data") and inner.get("format"):
            return AudioPart(data=str(inner["data"]), format=str(inner["format"]))
        raise LunosInputError(
            "An input_audio block needs input_audio.data and .format.", param=param
        )
    if kind == "file" and isinstance(block.get("file"), dict):
        return _openai_file(block["file"], param, cache)
    if isinstance(block.get("source"), dict) and kind in ("image", "document"):
        return _anthropic_source(kind, block, param, cache)
    if kind in ("image", "file", "audio", "text-plain"):
        return _data_block(kind, block, param, cache)
    if kind in ("video", "video_url"):
        raise LunosInputError(
            "Video input is not supported by ChatLunos yet; pass it through "
            "extra_body or use a text description.",
            param=param,
        )
    raise LunosInputError(f"Unsupported content block type {kind!r}.", param=param)


def _openai_file(inner: dict[str, Any], param: str, cache: Any) -> FilePart:
    data = inner.get("file_data") or inner.get("fileData") or inner.get("url")
    if not isinstance(data, str) or not data:
        if inner.get("file_id"):
            raise LunosInputError(
                "Uploaded file ids are not supported by Lunos; send file_data (a data URL) "
                "or a URL instead.",
                param=param,
            )
        raise LunosInputError("A file block needs file.file_data or file.url.", param=param)
    filename = inner.get("filename")
    if data.startswith(("http://", "https://", "data:")):
        return FilePart(url=data, filename=filename, cache_control=cache)
    return FilePart(data=data, filename=filename, cache_control=cache)


def _anthropic_source(kind: str, block: dict[str, Any], param: str, cache: Any) -> ContentPart:
    source = block["source"]
    stype = source.get("type")
    mime = source.get("media_type")
    title = block.get("title")
    if stype == "base64" and source.get("data"):
        if kind == "image":
            return ImagePart(data=source["data"], mime_type=mime, cache_control=cache)
        return FilePart(
            data=source["data"],
            mime_type=mime or "application/pdf",
            filename=title,
            cache_control=cache,
        )
    if stype == "url" and source.get("url"):
        if kind == "image":
            return ImagePart(url=source["url"], cache_control=cache)
        return FilePart(url=source["url"], filename=title, cache_control=cache)
    if stype == "text" and isinstance(source.get("data"), str):
        return TextPart(source["data"], cache_control=cache)
    raise LunosInputError(
        f"Unsupported {kind} source type {stype!r}; use base64 or url.", param=param
    )


def _data_block(kind: str, block: dict[str, Any], param: str, cache: Any) -> ContentPart:
    """LangChain v1 (``url``/``base64``) and v0 (``source_type``) multimodal blocks."""
    source_type = block.get("source_type")
    url = block.get("url")
    data = block.get("base64")
    if source_type == "url":
        url = block.get("url")
    elif source_type == "base64":
        data = block.get("data")
    elif source_type == "text" and isinstance(block.get("text"), str):
        return TextPart(block["text"], cache_control=cache)
    if block.get("file_id") or (block.get("id") and source_type == "id"):
        raise LunosInputError(
            f"{kind} blocks given by file id are not supported by Lunos; send base64 data "
            "or a URL.",
            param=param,
        )
    mime = block.get("mime_type")
    raw_extras = block.get("extras")
    extras: dict[str, Any] = raw_extras if isinstance(raw_extras, dict) else {}
    raw_metadata = block.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    filename = block.get("filename") or extras.get("filename") or metadata.get("filename")
    if kind == "text-plain":
        if isinstance(data, str):
            return FilePart(data=data, mime_type=mime or "text/plain", filename=filename)
        raise LunosInputError("A text-plain block needs text or base64 data.", param=param)
    if not url and not data:
        raise LunosInputError(f"An {kind} block needs a url or base64 data.", param=param)
    if kind == "image":
        return ImagePart(url=url, data=data, mime_type=mime, cache_control=cache)
    if kind == "file":
        return FilePart(
            url=url,
            data=data,
            mime_type=mime or "application/pdf",
            filename=filename,
            cache_control=cache,
        )
    # audio
    if not data:
        if isinstance(url, str) and url.startswith("data:"):
            head, _, payload = url.partition(",")
            fmt = head[5:].split(";")[0]
            return AudioPart(data=payload, format=fmt)
        raise LunosInputError(
            "Audio must be sent as base64 data (Lunos input_audio takes no URLs).", param=param
        )
    if not mime:
        raise LunosInputError(
            "An audio block needs mime_type (e.g. 'audio/wav') to name its format.", param=param
        )
    return AudioPart(data=str(data), format=str(mime))
