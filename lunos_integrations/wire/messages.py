"""Codec for ``POST /messages`` (the Anthropic Messages API served by Lunos).

Pure functions plus one small stateful stream decoder; no I/O. The decoders
(``decode_response``, ``MessagesStreamDecoder``, ``decode_usage``, ``normalize_stop_reason``)
live in :mod:`._messages_decode` and are re-exported here. The request shape follows
the published ``CreateMessageParams`` schema (a copy is in tests/data/schemas/),
whose top level rejects unknown keys, so only fields that schema knows are sent, plus
the Lunos extras ``fallback_model`` / ``observability`` when the caller sets them.

Decisions where the neutral request has no direct Anthropic equivalent:

* ``response_format`` ``json_schema`` → ``output_config.format = {"type": "json_schema",
  "schema": ...}`` (the schema's structured-output field; it has no ``name``/``strict``,
  so those are dropped). ``json_object`` has no equivalent → :class:`LunosInputError`.
* ``reasoning_effort`` → ``output_config.effort`` (allowed: low, medium, high, xhigh,
  max); any other value → :class:`LunosInputError`.
* ``reasoning`` (the chat-completions dict) → ``thinking`` budget from its ``max_tokens``
  and ``output_config.effort`` from its ``effort``, when ``thinking`` /
  ``reasoning_effort`` are not set. Other keys are ignored.
* ``seed``, ``frequency_penalty``, ``presence_penalty`` and audio parts do not exist on
  this route → :class:`LunosInputError` (use ``api="chat_completions"``).
* Reasoning parts without a signature (produced by non-Anthropic models) cannot be
  verified by Anthropic and are not sent back; redacted parts are.
* A forced ``tool_choice`` (required / a named tool) together with enabled thinking is
  rejected locally (Anthropic answers 400 for that combination).
* Tool-call ids are sanitised to ``[A-Za-z0-9_-]`` (the schema's pattern) consistently
  for ``tool_use.id`` and ``tool_result.tool_use_id``, so pairs still match.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import LunosInputError
from ._common import file_source, image_source, to_int
from ._messages_decode import (
    MessagesStreamDecoder,
    decode_response,
    decode_usage,
    normalize_stop_reason,
)
from .types import (
    AudioPart,
    ChatRequest,
    ContentPart,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolSpec,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "EFFORT_LEVELS",
    "PATH",
    "MessagesStreamDecoder",
    "decode_response",
    "decode_usage",
    "encode_request",
    "normalize_stop_reason",
]

#: Route path, relative to the ``/v1`` base URL.
PATH = "/messages"

#: ``max_tokens`` is required on this route; used when the request leaves it unset. When
#: extended thinking is enabled with a budget at or above this, the budget is added on top
#: (Anthropic requires ``max_tokens > budget_tokens``).
DEFAULT_MAX_TOKENS = 4096

#: ``output_config.effort`` values accepted by the published schema.
EFFORT_LEVELS = frozenset(("low", "medium", "high", "xhigh", "max"))

_IMAGE_MIMES = frozenset(("image/jpeg", "image/png", "image/gif", "image/webp"))
_ID_BAD = re.compile(r"[^A-Za-z0-9_-]")
_ROLES = frozenset(("system", "user", "assistant", "tool"))


# ============================================================================ encoding


def encode_request(req: ChatRequest) -> dict[str, Any]:
    """Build the JSON body of a Messages API call."""
    if not req.model or not req.model.strip():
        raise LunosInputError("model must be a non-empty model id.", param="model")
    for name in ("seed", "frequency_penalty", "presence_penalty"):
        if getattr(req, name) is not None:
            raise LunosInputError(
                f"{name} is not supported by the Anthropic Messages route; remove it or use "
                'api="chat_completions".',
                param=name,
            )
    if req.temperature is not None and not 0 <= req.temperature <= 1:
        raise LunosInputError(
            f"temperature must be between 0 and 1 on the Anthropic Messages route, "
            f"got {req.temperature}.",
            param="temperature",
        )

    system, turns = _encode_conversation(req.messages)
    if not turns:
        raise LunosInputError(
            "At least one user or assistant message is required.", param="messages"
        )

    thinking = req.thinking
    effort = req.reasoning_effort
    if req.reasoning:
        if thinking is None and req.reasoning.get("max_tokens") is not None:
            thinking = {"type": "enabled", "budget_tokens": req.reasoning["max_tokens"]}
        if effort is None and isinstance(req.reasoning.get("effort"), str):
            effort = req.reasoning["effort"]

    body: dict[str, Any] = {
        "model": req.model,
        "max_tokens": _max_tokens(req.max_tokens, thinking),
        "messages": turns,
    }
    if system is not None:
        body["system"] = system
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop:
        body["stop_sequences"] = list(req.stop)

    tools = req.tools or []
    if tools:
        body["tools"] = [_encode_tool(t, i) for i, t in enumerate(tools)]
        choice = _encode_tool_choice(req.tool_choice, tools, req.parallel_tool_calls)
        if choice is not None:
            body["tool_choice"] = choice
    elif isinstance(req.tool_choice, NamedToolChoice) or req.tool_choice == "required":
        raise LunosInputError(
            f"tool_choice {req.tool_choice!r} needs at least one tool.", param="tool_choice"
        )
    if req.server_tools:
        body.setdefault("tools", []).extend(req.server_tools)

    if thinking is not None:
        forced = isinstance(req.tool_choice, NamedToolChoice) or req.tool_choice in (
            "required",
            "any",
        )
        if forced and thinking.get("type") in ("enabled", "adaptive"):
            raise LunosInputError(
                "Anthropic models cannot be forced to call a tool while extended thinking is "
                "on; use tool_choice='auto' or disable thinking.",
                param="tool_choice",
            )
        body["thinking"] = thinking

    output_config: dict[str, Any] = {}
    if effort is not None:
        if effort not in EFFORT_LEVELS:
            raise LunosInputError(
                f"reasoning_effort {effort!r} is not supported on the Anthropic Messages "
                f"route; use one of {', '.join(sorted(EFFORT_LEVELS))}.",
                param="reasoning_effort",
            )
        output_config["effort"] = effort
    fmt = req.response_format
    if fmt is not None and fmt.type != "text":
        if fmt.type == "json_schema" and isinstance(fmt.schema, dict):
            output_config["format"] = {"type": "json_schema", "schema": fmt.schema}
        elif fmt.type == "json_schema":
            raise LunosInputError(
                "response_format type 'json_schema' needs a schema.", param="response_format"
            )
        else:
            raise LunosInputError(
                f"response_format {fmt.type!r} has no equivalent on the Anthropic Messages "
                "route; give a json_schema, or use function calling (a forced tool) for "
                "structured output.",
                param="response_format",
            )
    if output_config:
        body["output_config"] = output_config

    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.stream:
        body["stream"] = True
    if req.fallback_model is not None:
        body["fallback_model"] = req.fallback_model
    if req.observability is not None:
        body["observability"] = req.observability
    if req.extra_body:
        body.update(req.extra_body)
    return body


def _max_tokens(requested: int | None, thinking: dict[str, Any] | None) -> int:
    budget = None
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = to_int(thinking.get("budget_tokens"))
    if requested is None:
        if budget is not None and budget >= DEFAULT_MAX_TOKENS:
            return budget + DEFAULT_MAX_TOKENS
        return DEFAULT_MAX_TOKENS
    if budget is not None and requested <= budget:
        raise LunosInputError(
            f"max_tokens ({requested}) must be greater than the thinking budget_tokens "
            f"({budget}) on the Anthropic Messages route.",
            param="max_tokens",
        )
    return requested


def _tool_id(raw: str | None) -> str:
    if not raw:
        return "toolu_missing"
    return _ID_BAD.sub("_", raw)


def _encode_conversation(
    messages: list[Message],
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    system_blocks: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []  # {"role", "content": [blocks]}

    for i, msg in enumerate(messages):
        role = msg.role
        param = f"messages[{i}].content"
        if role not in _ROLES:
            raise LunosInputError(
                f"Unknown message role {role!r}; expected one of system, user, assistant, tool.",
                param=f"messages[{i}].role",
            )
        if role == "system":
            system_blocks.extend(_system_blocks(msg.content, param))
            continue
        if role == "tool":
            if not msg.tool_call_id:
                raise LunosInputError(
                    "A tool message needs the tool_call_id of the call it answers.",
                    param=f"messages[{i}].tool_call_id",
                )
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": _tool_id(msg.tool_call_id),
                "content": _tool_result_content(msg.content, param),
            }
            if msg.is_error:
                result["is_error"] = True
            _append(turns, "user", [result])
            continue
        if role == "assistant":
            blocks = _assistant_blocks(msg, param)
        else:
            blocks = _content_blocks(msg.content, param)
        if blocks:
            _append(turns, role, blocks)

    for turn in turns:
        blocks = turn["content"]
        if turn["role"] == "user" and len(blocks) > 1:
            # tool_result blocks must open the user turn that follows a tool_use turn.
            blocks.sort(key=lambda b: b.get("type") != "tool_result")
        if len(blocks) == 1 and blocks[0]["type"] == "text" and "cache_control" not in blocks[0]:
            turn["content"] = blocks[0]["text"]

    system: str | list[dict[str, Any]] | None = None
    if system_blocks:
        if any("cache_control" in b for b in system_blocks):
            system = system_blocks
        else:
            system = "\n\n".join(b["text"] for b in system_blocks)
    return system, turns


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _text_block(part: TextPart) -> dict[str, Any] | None:
    if not part.text:
        return None  # the schema requires non-empty text blocks
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache_control:
        block["cache_control"] = part.cache_control
    return block


def _system_blocks(content: list[ContentPart] | str, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, p in enumerate(content):
        if not isinstance(p, TextPart):
            raise LunosInputError(
                f"System messages can only contain text, got a {type(p).__name__}.",
                param=f"{param}[{j}]",
            )
        block = _text_block(p)
        if block is not None:
            blocks.append(block)
    return blocks


def _content_blocks(content: list[ContentPart] | str, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for j, part in enumerate(content):
        block = _encode_part(part, f"{param}[{j}]")
        if block is not None:
            blocks.append(block)
    return blocks


def _tool_result_content(content: list[ContentPart] | str, param: str) -> str | list[Any]:
    if isinstance(content, str):
        return content
    return _content_blocks(content, param)


def _encode_part(part: ContentPart, param: str) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return _text_block(part)
    if isinstance(part, ImagePart):
        kind, value, mime = image_source(part.url, part.data, part.mime_type, param=param)
        if kind == "url":
            source: dict[str, Any] = {"type": "url", "url": value}
        else:
            if mime not in _IMAGE_MIMES:
                raise LunosInputError(
                    f"Image type {mime!r} is not supported on the Anthropic Messages route; "
                    "use JPEG, PNG, GIF or WebP.",
                    param=param,
                )
            source = {"type": "base64", "media_type": mime, "data": value}
        block: dict[str, Any] = {"type": "image", "source": source}
    elif isinstance(part, FilePart):
        kind, value, mime = file_source(part.url, part.data, part.mime_type, param=param)
        if kind == "url":
            source = {"type": "url", "url": value}
        elif mime == "application/pdf":
            source = {"type": "base64", "media_type": mime, "data": value}
        else:
            raise LunosInputError(
                f"Document type {mime!r} is not supported on the Anthropic Messages route "
                '(PDF only); use api="chat_completions" for other files.',
                param=param,
            )
        block = {"type": "document", "source": source}
        if part.filename:
            block["title"] = part.filename[:500]
    elif isinstance(part, AudioPart):
        raise LunosInputError(
            "Audio input is not supported on the Anthropic Messages route; "
            'use api="chat_completions".',
            param=param,
        )
    else:
        raise LunosInputError(f"Unsupported content part {type(part).__name__}.", param=param)
    if part.cache_control:
        block["cache_control"] = part.cache_control
    return block


def _assistant_blocks(msg: Message, param: str) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for r in msg.reasoning:
        if r.redacted_data:
            blocks.append({"type": "redacted_thinking", "data": r.redacted_data})
        elif r.signature:
            blocks.append({"type": "thinking", "thinking": r.text, "signature": r.signature})
    blocks.extend(_content_blocks(msg.content, param))
    for tc in msg.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": _tool_id(tc.id), "name": tc.name, "input": tc.arguments}
        )
    return blocks


def _encode_tool(tool: ToolSpec, i: int) -> dict[str, Any]:
    if not tool.name:
        raise LunosInputError("Every tool needs a name.", param=f"tools[{i}].name")
    schema = dict(tool.parameters) if tool.parameters else {}
    schema_type = schema.setdefault("type", "object")
    if schema_type != "object":
        raise LunosInputError(
            f"Tool {tool.name!r}: parameters must be a JSON schema of type 'object', "
            f"got {schema_type!r}.",
            param=f"tools[{i}].parameters",
        )
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    out["input_schema"] = schema
    if tool.strict is not None:
        out["strict"] = tool.strict
    if tool.cache_control:
        out["cache_control"] = tool.cache_control
    return out


def _encode_tool_choice(
    choice: Any, tools: list[ToolSpec], parallel: bool | None
) -> dict[str, Any] | None:
    out: dict[str, Any]
    if choice is None:
        if parallel is not False:
            return None
        out = {"type": "auto"}
    elif isinstance(choice, NamedToolChoice):
        if choice.name not in {t.name for t in tools}:
            raise LunosInputError(
                f"tool_choice names tool {choice.name!r}, which is not among the tools given.",
                param="tool_choice",
            )
        out = {"type": "tool", "name": choice.name}
    elif choice == "auto":
        out = {"type": "auto"}
    elif choice in ("required", "any"):
        out = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    else:
        raise LunosInputError(
            f"Unsupported tool_choice {choice!r}; use 'auto', 'none', 'required' or a tool name.",
            param="tool_choice",
        )
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out
