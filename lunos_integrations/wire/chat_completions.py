"""Codec for ``POST /chat/completions`` (the OpenAI-compatible route).

Pure functions: neutral types (:mod:`.types`) in, JSON-ready dicts out, and back. No I/O.
Wire facts come from lunos-api.md §3 and the OpenAI chat-completions schema; reasoning
fields follow the OpenRouter convention that Lunos passes through (§3.6).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import LunosInputError, WireFormatError
from ._common import describe, dumps_compact, file_source, image_source, to_float, to_int
from .tool_args import parse_tool_arguments
from .types import (
    AudioPart,
    ChatDelta,
    ChatRequest,
    ChatResult,
    ContentPart,
    FilePart,
    ImagePart,
    InvalidToolCall,
    Message,
    NamedToolChoice,
    ReasoningPart,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolSpec,
    Usage,
)

__all__ = [
    "PATH",
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


# ============================================================================ decoding


def decode_usage(obj: Any) -> Usage | None:
    """Neutral usage from an OpenAI-style ``usage`` object (``None`` when absent or empty)."""
    if not isinstance(obj, dict) or not obj:
        return None
    prompt = to_int(obj.get("prompt_tokens"))
    if prompt is None:
        prompt = to_int(obj.get("input_tokens"))
    completion = to_int(obj.get("completion_tokens"))
    if completion is None:
        completion = to_int(obj.get("output_tokens"))
    total = to_int(obj.get("total_tokens"))
    cost = to_float(obj.get("cost"))
    if prompt is None and completion is None and total is None and cost is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    if total is None:
        total = prompt + completion

    cache_read = cache_creation = reasoning = 0
    ptd = obj.get("prompt_tokens_details") or obj.get("input_tokens_details")
    if isinstance(ptd, dict):
        cache_read = to_int(ptd.get("cached_tokens")) or 0
        cache_creation = (
            to_int(ptd.get("cache_write_tokens"))
            or to_int(ptd.get("cache_creation_input_tokens"))
            or to_int(ptd.get("cache_creation_tokens"))
            or 0
        )
    if not cache_creation:
        cache_creation = to_int(obj.get("cache_creation_input_tokens")) or 0
    ctd = obj.get("completion_tokens_details") or obj.get("output_tokens_details")
    if isinstance(ctd, dict):
        reasoning = to_int(ctd.get("reasoning_tokens")) or 0
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=total,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
        reasoning_tokens=reasoning,
        cost=cost,
    )


def decode_response(body: Any) -> ChatResult:
    """Decode a non-streamed chat completion into a :class:`ChatResult` (``raw=body``)."""
    if not isinstance(body, dict):
        raise WireFormatError(
            f"Expected a chat completion JSON object, got {type(body).__name__}: {describe(body)}"
        )
    choices = body.get("choices")
    wrapped = body.get("data")
    if choices is None and isinstance(wrapped, dict):
        choices = wrapped.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise WireFormatError(_no_choices_message(body, choices))

    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        message = {}

    text = _content_text(message.get("content"))
    if not text and not message and isinstance(choice.get("text"), str):
        text = choice["text"]  # legacy completion-style choice

    tool_calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    raw_calls = message.get("tool_calls")
    if isinstance(raw_calls, list):
        for tc in raw_calls:
            if not isinstance(tc, dict):
                continue
            fn = tc.get("function")
            if not isinstance(fn, dict):
                fn = {}
            _add_call(
                parse_tool_arguments(tc.get("id"), fn.get("name"), fn.get("arguments")),
                tool_calls,
                invalid,
            )
    legacy = message.get("function_call")
    if not raw_calls and isinstance(legacy, dict):
        _add_call(
            parse_tool_arguments(None, legacy.get("name"), legacy.get("arguments")),
            tool_calls,
            invalid,
        )

    reasoning: list[ReasoningPart] = []
    r_text, r_details = _reasoning_fields(message)
    if r_text or r_details:
        reasoning.append(ReasoningPart(text=r_text, details=r_details))

    usage = decode_usage(body.get("usage"))
    if usage is None and isinstance(wrapped, dict):
        usage = decode_usage(wrapped.get("usage"))

    return ChatResult(
        text=text,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        reasoning=reasoning,
        finish_reason=_str_or_none(choice.get("finish_reason")),
        usage=usage,
        id=_str_or_none(body.get("id")),
        model=_str_or_none(body.get("model")),
        provider=_str_or_none(body.get("provider")),
        system_fingerprint=_str_or_none(body.get("system_fingerprint")),
        images=_images(message.get("images")),
        raw=body,
    )


def _add_call(
    parsed: ToolCall | InvalidToolCall, ok: list[ToolCall], bad: list[InvalidToolCall]
) -> None:
    if isinstance(parsed, ToolCall):
        ok.append(parsed)
    else:
        bad.append(parsed)


def _no_choices_message(body: dict[str, Any], choices: Any) -> str:
    if choices is None:
        what = "no 'choices' field" if "choices" not in body else "'choices': null"
    elif isinstance(choices, list) and not choices:
        what = "an empty 'choices' list"
    else:
        what = f"'choices' of an unexpected shape ({describe(choices, 80)})"
    msg = f"Chat completion response has {what}"
    err = body.get("error")
    if isinstance(err, dict) and err.get("message"):
        msg += f"; the body carries an error: {err['message']}"
    elif isinstance(err, str):
        msg += f"; the body carries an error: {err}"
    return f"{msg}. Body: {describe(body)}"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict) and part.get("type") in (None, "text", "output_text"):
                t = part.get("text")
                if isinstance(t, str):
                    out.append(t)
        return "".join(out)
    return ""


def _reasoning_fields(src: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
    """Reasoning text and details from a message or delta.

    Text comes from ``reasoning_content`` or ``reasoning`` (the first non-empty string);
    only when both are absent is it rebuilt from the ``text``/``summary`` of the
    ``reasoning_details`` entries, so the same thought is never counted twice.
    """
    text = src.get("reasoning_content")
    if not text or not isinstance(text, str):
        text = src.get("reasoning")
        if not isinstance(text, str):
            text = ""
    details = src.get("reasoning_details")
    if not isinstance(details, list) or not details:
        return text, None
    if not text:
        pieces = []
        for d in details:
            if isinstance(d, dict):
                piece = d.get("text")
                if not isinstance(piece, str):
                    piece = d.get("summary")
                if isinstance(piece, str):
                    pieces.append(piece)
        text = "".join(pieces)
    return text, details


def _images(raw: Any) -> list[str]:
    if not raw or not isinstance(raw, list):
        return []
    urls = []
    for item in raw:
        if isinstance(item, str):
            urls.append(item)
        elif isinstance(item, dict):
            inner = item.get("image_url")
            url = inner.get("url") if isinstance(inner, dict) else item.get("url")
            if isinstance(url, str):
                urls.append(url)
    return urls


def decode_chunk(obj: Any) -> ChatDelta:
    """Decode one ``data:`` payload of a chat-completions stream into a :class:`ChatDelta`.

    Runs once per chunk, so it only allocates what the chunk actually carries.
    """
    if type(obj) is not dict:
        raise WireFormatError(
            f"Expected a chat completion chunk JSON object, got {type(obj).__name__}: "
            f"{describe(obj)}"
        )
    get = obj.get
    delta = ChatDelta(
        id=get("id"),
        model=get("model"),
        provider=get("provider"),
        system_fingerprint=get("system_fingerprint"),
    )
    usage = get("usage")
    if usage:
        delta.usage = decode_usage(usage)
    choices = get("choices")
    if not choices:
        return delta
    choice = choices[0]
    if type(choice) is not dict:
        return delta
    d = choice.get("delta")
    if type(d) is not dict:
        d = choice.get("message")  # some servers send a full message on the last chunk
        if type(d) is not dict:
            d = None
    finish = choice.get("finish_reason")
    if finish is not None:
        delta.finish_reason = finish
    if d is None:
        return delta

    content = d.get("content")
    if content:
        delta.text = content if type(content) is str else _content_text(content)
    if "reasoning_content" in d or "reasoning" in d or "reasoning_details" in d:
        r_text, r_details = _reasoning_fields(d)
        delta.reasoning_text = r_text
        delta.reasoning_details = r_details
    raw_calls = d.get("tool_calls")
    if raw_calls:
        calls = delta.tool_calls
        for pos, tc in enumerate(raw_calls):
            if type(tc) is not dict:
                continue
            index = tc.get("index")
            if type(index) is not int:
                index = pos
            fn = tc.get("function")
            if type(fn) is dict:
                name = fn.get("name")
                args = fn.get("arguments")
                if args is None:
                    args = ""
                elif type(args) is not str:
                    args = dumps_compact(args)
            else:
                name = None
                args = ""
            calls.append(ToolCallDelta(index=index, id=tc.get("id"), name=name, arguments=args))
    images = d.get("images")
    if images:
        delta.images = _images(images)
    return delta
