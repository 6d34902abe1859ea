"""LlamaIndex ``ChatMessage`` (and its content blocks) → neutral :class:`~..wire.types.Message`.

Why a separate module: this is the only place that knows LlamaIndex's message vocabulary
(roles, blocks, the legacy ``additional_kwargs`` conventions). Everything after it is
route-neutral, so both Lunos routes get the same history, tool results and reasoning.

Rules that matter:

* Nothing is dropped silently. A block this integration cannot send (video, an unknown block
  type) raises :class:`~..errors.LunosInputError` naming ``messages[i].blocks[j]``.
* Binary blocks are never fetched over the network here: an ``ImageBlock``/``DocumentBlock``
  with an http(s) URL is sent as a URL; only local ``path`` data is read (that is what the
  user asked for).
* ``ThinkingBlock`` goes back as reasoning (with the Anthropic signature or the OpenRouter
  ``reasoning_details`` kept in ``additional_information``), because thinking models need
  it in tool-call histories.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    CitableBlock,
    CitationBlock,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from ..errors import LunosInputError
from ..wire.tool_args import parse_tool_arguments
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

__all__ = ["to_neutral_message", "to_neutral_messages"]

_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "chatbot": "assistant",
    "model": "assistant",
    "tool": "tool",
    "function": "tool",
}

#: Keys of ThinkingBlock.additional_information this module understands.
SIGNATURE_KEY = "signature"
DETAILS_KEY = "reasoning_details"
REDACTED_KEY = "redacted_data"


def to_neutral_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    """Convert a whole history; ``param`` names in errors are ``messages[i]...``."""
    return [to_neutral_message(m, i) for i, m in enumerate(messages)]


def to_neutral_message(msg: ChatMessage, i: int = 0) -> Message:
    if not isinstance(msg, ChatMessage):
        raise LunosInputError(
            f"messages[{i}] is a {type(msg).__name__}, not a llama_index ChatMessage; build it "
            'with ChatMessage(role="user", content="...").',
            param=f"messages[{i}]",
        )
    role_value = msg.role.value if hasattr(msg.role, "value") else str(msg.role)
    role = _ROLES.get(role_value)
    if role is None:
        raise LunosInputError(
            f"Unsupported message role {role_value!r}.", param=f"messages[{i}].role"
        )
    blocks = msg.blocks
    kwargs = msg.additional_kwargs
    out = Message(role=role)

    # Fast path: the common single-text-block message becomes a plain string.
    if len(blocks) == 1 and type(blocks[0]) is TextBlock:
        out.content = blocks[0].text
    else:
        parts: list[ContentPart] = []
        for j, block in enumerate(blocks):
            _add_block(block, out, parts, f"messages[{i}].blocks[{j}]")
        if all(type(p) is TextPart and p.cache_control is None for p in parts):
            out.content = "".join(p.text for p in parts if isinstance(p, TextPart))
        else:
            out.content = parts

    if role == "tool":
        call_id = kwargs.get("tool_call_id")
        if not call_id:
            raise LunosInputError(
                "A tool message needs additional_kwargs['tool_call_id'] (the id of the call "
                "it answers).",
                param=f"messages[{i}].additional_kwargs.tool_call_id",
            )
        out.tool_call_id = str(call_id)
        out.is_error = bool(kwargs.get("is_error", False))
    elif role == "assistant" and not out.tool_calls:
        legacy = kwargs.get("tool_calls")
        if legacy:
            out.tool_calls = [
                _legacy_tool_call(tc, f"messages[{i}].additional_kwargs.tool_calls[{k}]")
                for k, tc in enumerate(legacy)
            ]
    name = kwargs.get("name")
    if isinstance(name, str) and name and role in ("user", "assistant"):
        out.name = name
    return out


def _add_block(block: Any, out: Message, parts: list[ContentPart], param: str) -> None:
    kind = type(block)
    if kind is TextBlock:
        parts.append(TextPart(text=block.text))
    elif kind is ImageBlock:
        parts.append(_image(block, param))
    elif kind is DocumentBlock:
        parts.append(_document(block, param))
    elif kind is AudioBlock:
        parts.append(_audio(block, param))
    elif kind is ToolCallBlock:
        out.tool_calls.append(_tool_call(block, param))
    elif kind is ThinkingBlock:
        out.reasoning.append(_reasoning(block))
    elif kind is CachePoint:
        _apply_cache_point(block, parts, param)
    elif kind is CitableBlock:
        for k, inner in enumerate(block.content):
            _add_block(inner, out, parts, f"{param}.content[{k}]")
    elif kind is CitationBlock:
        # On an assistant turn it is the reply's own citation (ChatResponse blocks): its
        # excerpt is not something the model said, so it is not sent back as text.
        if out.role != "assistant":
            _add_block(block.cited_content, out, parts, f"{param}.cited_content")
    else:
        name = getattr(block, "block_type", kind.__name__)
        raise LunosInputError(
            f"Content block {name!r} cannot be sent to Lunos by this integration "
            "(supported: text, image, document, audio, tool_call, thinking, cache).",
            param=param,
        )


def _b64(data: bytes | Any) -> str:
    """LlamaIndex stores block bytes already base64-encoded (its validators do that)."""
    if isinstance(data, bytes):
        return data.decode("ascii")
    if hasattr(data, "read"):
        data.seek(0)
        return base64.b64encode(data.read()).decode("ascii")
    raise TypeError(type(data).__name__)


def _image(block: ImageBlock, param: str) -> ImagePart:
    detail = block.detail
    if block.image is not None:
        return ImagePart(data=_b64(block.image), mime_type=block.image_mimetype, detail=detail)
    if block.path is not None:
        data = base64.b64encode(block.path.read_bytes()).decode("ascii")
        return ImagePart(data=data, mime_type=block.image_mimetype, detail=detail)
    if block.url is not None:
        return ImagePart(url=str(block.url), detail=detail)
    raise LunosInputError("An ImageBlock needs image data, a path or a url.", param=param)


def _document(block: DocumentBlock, param: str) -> FilePart:
    mime = block.document_mimetype or "application/pdf"
    filename = block.title if block.title and block.title != "input_document" else None
    if filename is None and block.path is not None:
        filename = str(block.path).replace("\\", "/").rsplit("/", 1)[-1]
    if block.data is not None:
        return FilePart(data=_b64(block.data), mime_type=mime, filename=filename)
    if block.path is not None:
        with open(block.path, "rb") as fh:
            data = base64.b64encode(fh.read()).decode("ascii")
        return FilePart(data=data, mime_type=mime, filename=filename)
    if block.url:
        return FilePart(url=str(block.url), mime_type=mime, filename=filename)
    raise LunosInputError("A DocumentBlock needs data, a path or a url.", param=param)


def _audio(block: AudioBlock, param: str) -> AudioPart:
    fmt = block.format
    if block.audio is not None:
        data = _b64(block.audio)
    elif block.path is not None:
        data = base64.b64encode(block.path.read_bytes()).decode("ascii")
        fmt = fmt or block.path.suffix.lstrip(".") or None
    else:
        raise LunosInputError(
            "An AudioBlock needs audio bytes or a local path (audio URLs are not accepted "
            "by the chat route).",
            param=param,
        )
    if not fmt:
        raise LunosInputError(
            "An AudioBlock needs a format such as 'wav' or 'mp3'.", param=f"{param}.format"
        )
    return AudioPart(data=data, format=fmt)


def _tool_call(block: ToolCallBlock, param: str) -> ToolCall:
    parsed = parse_tool_arguments(block.tool_call_id, block.tool_name, block.tool_kwargs)
    if isinstance(parsed, ToolCall):
        return parsed
    raise LunosInputError(
        f"ToolCallBlock cannot be sent back: {parsed.error}", param=f"{param}.tool_kwargs"
    )


def _legacy_tool_call(tc: Any, param: str) -> ToolCall:
    """``additional_kwargs['tool_calls']`` as OpenAI dicts or OpenAI SDK objects."""
    if isinstance(tc, dict):
        call_id, fn = tc.get("id"), tc.get("function") or {}
        name, args = fn.get("name"), fn.get("arguments")
    else:
        call_id, fn = getattr(tc, "id", None), getattr(tc, "function", None)
        name, args = getattr(fn, "name", None), getattr(fn, "arguments", None)
    parsed = parse_tool_arguments(call_id, name, args)
    if isinstance(parsed, ToolCall):
        return parsed
    raise LunosInputError(f"Tool call cannot be sent back: {parsed.error}", param=param)


def _reasoning(block: ThinkingBlock) -> ReasoningPart:
    info = block.additional_information
    details = info.get(DETAILS_KEY)
    signature = info.get(SIGNATURE_KEY)
    redacted = info.get(REDACTED_KEY)
    return ReasoningPart(
        text=block.content or "",
        signature=signature if isinstance(signature, str) else None,
        redacted_data=redacted if isinstance(redacted, str) else None,
        details=list(details) if isinstance(details, list) else None,
    )


def _apply_cache_point(block: CachePoint, parts: list[ContentPart], param: str) -> None:
    """A ``CachePoint`` marks the content before it as cacheable (Anthropic semantics)."""
    control: dict[str, Any] = {"type": block.cache_control.type}
    if block.cache_control.ttl and block.cache_control.ttl != "5m":
        control["ttl"] = block.cache_control.ttl
    for part in reversed(parts):
        if isinstance(part, (TextPart, ImagePart, FilePart)):
            part.cache_control = control
            return
    raise LunosInputError(
        "A CachePoint must follow a text, image or document block in the same message.",
        param=param,
    )
