"""Codec for ``POST /chat/completions`` (the OpenAI-compatible route).

Pure functions: neutral types (:mod:`.types`) in, JSON-ready dicts out, and back. No I/O.
The decoders (``decode_response``, ``decode_chunk``, ``ChunkDecoder``, ``decode_usage``)
live in :mod:`._chat_decode` and are re-exported here, so the route is one import.
Wire facts come from lunos-api.md §3 and the OpenAI chat-completions schema; reasoning
fields follow the OpenRouter convention that Lunos passes through (§3.6).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import LunosInputError
from ._chat_decode import ChunkDecoder, decode_chunk, decode_response, decode_usage
from ._common import dumps_compact, file_source, image_source
from .types import (
    AudioPart,
    ChatRequest,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolSpec,
)

__all__ = [
    "PATH",
    "ChunkDecoder",
    "decode_chunk",
    "decode_response",
    "decode_usage",
    "encode_request",
    "schema_name",
]

#: Route path, relative to the ``/v1`` base URL.
PATH = "/chat/completions"

_ROLES = frozenset(("system", "user", "assistant", "tool"))
_SIMPLE_TOOL_CHOICES = {"auto": "auto", "none": "none", "required": "required", "any": "required"}
_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")
_AUDIO_FORMATS = {"mpeg": "mp3", "x-wav": "wav", "wave": "wav", "x-m4a": "m4a"}


# ============================================================================ encoding


def encode_request(req: ChatRequest) -> dict[str, Any]:
    """Build the JSON body of a chat-completions call. Unset (``None``) options are omitted."""
    if not req.model or not req.model.strip():
        raise LunosInputError("model must be a non-empty model id.", param="model")
    if not req.messages:
        raise LunosInputError("At least one message is required.", param="messages")

    body: dict[str, Any] = {
        "model": req.model,
        "messages": [_encode_message(m, i) for i, m in enumerate(req.messages)],
    }
    _put(body, "max_tokens", req.max_tokens)
    _put(body, "temperature", req.temperature)
    _put(body, "top_p", req.top_p)
    _put(body, "top_k", req.top_k)
    if req.stop:
        body["stop"] = list(req.stop)
    _put(body, "seed", req.seed)
    _put(body, "frequency_penalty", req.frequency_penalty)
    _put(body, "presence_penalty", req.presence_penalty)

    tools = req.tools or []
    if tools:
        body["tools"] = [_encode_tool(t, i) for i, t in enumerate(tools)]
    if req.tool_choice is not None:
        choice = _encode_tool_choice(req.tool_choice, tools)
        if choice is not None:
            body["tool_choice"] = choice
    if req.parallel_tool_calls is not None and tools:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.server_tools:
        body.setdefault("tools", []).extend(req.server_tools)

    if req.response_format is not None:
        body["response_format"] = _encode_response_format(req.response_format)

    _put(body, "reasoning_effort", req.reasoning_effort)
    if req.reasoning is not None:
        body["reasoning"] = dict(req.reasoning)
    elif req.thinking is not None:
        mapped = _thinking_to_reasoning(req.thinking)
        if mapped is not None:
            body["reasoning"] = mapped

    _put(body, "user", req.user)
    _put(body, "fallback_model", req.fallback_model)
    _put(body, "observability", req.observability)

    if req.stream:
        body["stream"] = True
        if req.include_usage:
            body["stream_options"] = {"include_usage": True}

    if req.extra_body:
        body.update(req.extra_body)
    return body


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _encode_message(msg: Message, i: int) -> dict[str, Any]:
    role = msg.role
    if role not in _ROLES:
        raise LunosInputError(
            f"Unknown message role {role!r}; expected one of system, user, assistant, tool.",
            param=f"messages[{i}].role",
        )
    param = f"messages[{i}].content"
    out: dict[str, Any] = {"role": role}

    if role == "tool":
        if not msg.tool_call_id:
            raise LunosInputError(
                "A tool message needs the tool_call_id of the call it answers.",
                param=f"messages[{i}].tool_call_id",
            )
        out["tool_call_id"] = msg.tool_call_id
        out["content"] = _encode_text_or_parts(msg.content, param)
        return out

    if role == "assistant":
        text = _assistant_text(msg.content, param)
        if msg.tool_calls:
            # A turn that only calls tools sends ``content: ""``, never null and never absent:
            # llama-cpp-python's server rejects null (its request model types content as a
            # string) and its chatml-function-calling template fails on a missing key; an
            # empty string is valid for the OpenAI schema and accepted by both.
            out["content"] = text
            out["tool_calls"] = [_encode_tool_call(tc) for tc in msg.tool_calls]
        else:
            out["content"] = text
        _encode_reasoning(msg.reasoning, out)
    elif role == "system":
        out["content"] = _system_content(msg.content, param)
    else:
        out["content"] = _encode_text_or_parts(msg.content, param)

    if msg.name:
        out["name"] = msg.name
    return out


def _encode_text_or_parts(content: list[ContentPart] | str, param: str) -> str | list[Any]:
    """Strings stay strings; part lists become OpenAI parts.

    A list of plain text parts (no ``cache_control``) in a tool message is still sent as a
    list: callers chose parts, and both forms are valid.
    """
    if isinstance(content, str):
        return content
    if not content:
        return ""  # an empty part list is invalid on the wire (minItems 1)
    return [_encode_part(p, f"{param}[{j}]") for j, p in enumerate(content)]


def _assistant_text(content: list[ContentPart] | str, param: str) -> str | list[Any]:
    if isinstance(content, str):
        return content
    if any(not isinstance(p, TextPart) for p in content):
        bad = next(type(p).__name__ for p in content if not isinstance(p, TextPart))
        raise LunosInputError(
            f"Assistant messages can only carry text on this route, got a {bad}.", param=param
        )
    texts: list[TextPart] = [p for p in content if isinstance(p, TextPart)]
    if any(p.cache_control for p in texts):
        return [_encode_part(p, f"{param}[{j}]") for j, p in enumerate(texts)]
    return "".join(p.text for p in texts)


def _system_content(content: list[ContentPart] | str, param: str) -> str | list[Any]:
    if isinstance(content, str):
        return content
    if not content:
        return ""
    for j, p in enumerate(content):
        if not isinstance(p, TextPart):
            raise LunosInputError(
                f"System messages can only contain text, got a {type(p).__name__}.",
                param=f"{param}[{j}]",
            )
    return [_encode_part(p, f"{param}[{j}]") for j, p in enumerate(content)]


def _encode_part(part: ContentPart, param: str) -> dict[str, Any]:
    if isinstance(part, TextPart):
        block: dict[str, Any] = {"type": "text", "text": part.text}
        if part.cache_control:
            block["cache_control"] = part.cache_control
        return block
    if isinstance(part, ImagePart):
        kind, value, mime = image_source(part.url, part.data, part.mime_type, param=param)
        url = value if kind == "url" else f"data:{mime};base64,{value}"
        image: dict[str, Any] = {"url": url}
        if part.detail:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, FilePart):
        kind, value, mime = file_source(part.url, part.data, part.mime_type, param=param)
        file_data = value if kind == "url" else f"data:{mime};base64,{value}"
        filename = part.filename or _default_filename(mime or part.mime_type)
        return {"type": "file", "file": {"filename": filename, "file_data": file_data}}
    if isinstance(part, AudioPart):
        if not part.data:
            raise LunosInputError("An audio part needs base64 data.", param=param)
        if not part.format:
            raise LunosInputError(
                "An audio part needs a format such as 'wav' or 'mp3'.", param=param
            )
        data = part.data
        if data.startswith("data:"):
            data = data.partition(",")[2]
        return {
            "type": "input_audio",
            "input_audio": {"data": data, "format": _audio_format(part.format)},
        }
    raise LunosInputError(f"Unsupported content part {type(part).__name__}.", param=param)


def _default_filename(mime: str | None) -> str:
    if not mime or mime == "application/pdf":
        return "document.pdf"
    return "file"


def _audio_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if "/" in fmt:
        fmt = fmt.rpartition("/")[2]
    return _AUDIO_FORMATS.get(fmt, fmt)


def _encode_tool_call(tc: ToolCall) -> dict[str, Any]:
    return {
        "id": tc.id,
        "type": "function",
        "function": {"name": tc.name, "arguments": dumps_compact(tc.arguments)},
    }


def _encode_reasoning(parts: list[ReasoningPart], out: dict[str, Any]) -> None:
    """Send reasoning back: thinking models (DeepSeek & co.) need it in tool-call histories."""
    if not parts:
        return
    text = "".join(p.text for p in parts if p.text)
    details: list[dict[str, Any]] = []
    for p in parts:
        if p.details:
            details.extend(p.details)
    if text:
        out["reasoning_content"] = text
    if details:
        out["reasoning_details"] = details


def _encode_tool(tool: ToolSpec, i: int) -> dict[str, Any]:
    if not tool.name:
        raise LunosInputError("Every tool needs a name.", param=f"tools[{i}].name")
    fn: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters,
    }
    if tool.strict is not None:
        fn["strict"] = tool.strict
    return {"type": "function", "function": fn}


def _encode_tool_choice(choice: Any, tools: list[ToolSpec]) -> str | dict[str, Any] | None:
    if isinstance(choice, NamedToolChoice):
        if not tools:
            raise LunosInputError(
                f"tool_choice names tool {choice.name!r} but no tools were given.",
                param="tool_choice",
            )
        if choice.name not in {t.name for t in tools}:
            raise LunosInputError(
                f"tool_choice names tool {choice.name!r}, which is not among the tools given.",
                param="tool_choice",
            )
        return {"type": "function", "function": {"name": choice.name}}
    if isinstance(choice, str) and choice in _SIMPLE_TOOL_CHOICES:
        value = _SIMPLE_TOOL_CHOICES[choice]
        if not tools:
            if value == "required":
                raise LunosInputError(
                    "tool_choice='required' needs at least one tool.", param="tool_choice"
                )
            return None  # auto/none without tools: nothing to choose from, omit.
        return value
    raise LunosInputError(
        f"Unsupported tool_choice {choice!r}; use 'auto', 'none', 'required' or a tool name.",
        param="tool_choice",
    )


def schema_name(fmt: ResponseFormat) -> str:
    """The ``json_schema.name``: the explicit name, else the schema's title, else "response".

    OpenAI requires ``^[a-zA-Z0-9_-]{1,64}$``, so other characters become ``_``.
    """
    candidate = fmt.name
    if not candidate and fmt.schema:
        title = fmt.schema.get("title")
        candidate = title if isinstance(title, str) else None
    if not candidate:
        return "response"
    cleaned = _NAME_RE.sub("_", candidate).strip("_")[:64]
    return cleaned or "response"


def _encode_response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type == "text":
        return {"type": "text"}
    if fmt.type == "json_object":
        return {"type": "json_object"}
    if fmt.type == "json_schema":
        if not isinstance(fmt.schema, dict):
            raise LunosInputError(
                "response_format type 'json_schema' needs a schema (a JSON schema object).",
                param="response_format",
            )
        spec: dict[str, Any] = {"name": schema_name(fmt), "schema": fmt.schema}
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": spec}
    raise LunosInputError(
        f"Unknown response_format type {fmt.type!r}; use text, json_object or json_schema.",
        param="response_format",
    )


def _thinking_to_reasoning(thinking: dict[str, Any]) -> dict[str, Any] | None:
    """Map Anthropic-style ``thinking`` to the OpenRouter-style ``reasoning`` object."""
    kind = thinking.get("type")
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        return {"max_tokens": budget} if budget is not None else {"enabled": True}
    if kind == "adaptive":
        return {"enabled": True}
    if kind == "disabled":
        return {"enabled": False}
    raise LunosInputError(
        f"Unknown thinking type {kind!r}; use 'enabled' (with budget_tokens), 'adaptive' "
        "or 'disabled'.",
        param="thinking",
    )
