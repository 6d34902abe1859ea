"""A deterministic fake model: pure functions from a request body to a reply. No I/O.

Why deterministic: tests of an integration must assert on exact content, token counts and
tool arguments without a network or a real model, and must get the same answer every run.

Behaviour (both ``/v1/chat/completions`` and ``/v1/messages``):

* **Tokenizer** — :func:`count_tokens` counts matches of ``\\w+|[^\\w\\s]`` (words and single
  punctuation marks). Prompt tokens = tokens of all message text, tool-call arguments, tool
  results and system text, plus the tokens of each offered tool's JSON. Completion tokens =
  tokens of the produced text / tool arguments (+ reasoning tokens, which are included in
  ``completion_tokens`` like OpenAI reports them).
* **Text answer** — ``"Hello! You said: <last user text>"``. If the user asks to *say* or
  *repeat* a quoted string (``Say "pong"``), the answer is exactly that string. Non-text
  parts are acknowledged as `` [attachments: image, pdf]``.
* **max_tokens** (``max_tokens``/``max_completion_tokens``) truncates the answer to that many
  tokens → ``finish_reason="length"`` / ``stop_reason="max_tokens"``.
* **stop** / ``stop_sequences`` cut the answer before the first occurrence →
  ``finish_reason="stop"`` / ``stop_reason="stop_sequence"`` (with ``stop_sequence`` set).
* **Tools** — with tools offered: ``auto`` (default) calls a tool when the last message is from
  the user; ``required``/``any``/a named choice must call; ``none`` answers in text. The tool
  whose name appears in the user text is chosen (else the first; a named choice wins); when
  several tool names appear and ``parallel_tool_calls`` is not false (Anthropic:
  ``disable_parallel_tool_use`` not true) each is called. Arguments come from
  :func:`~lunos_integrations.testing.schema_instances.instance_for_schema`. Ids are
  ``call_<n>`` (chat) / ``toolu_<n>`` (messages), with ``n`` counting the tool calls already in
  the conversation, so ids are unique within a conversation and stable across runs.
  After tool results the answer is ``"The tool returned: <content>"``.
* **Structured output** — ``response_format`` ``json_schema`` → a JSON instance of the schema;
  ``json_object`` → ``{"answer": <text answer>}``, or, when the prompt names the keys it
  wants in quotes ("with 'setup' and 'punchline' keys"), those keys. On /messages
  ``output_format`` / ``output_config.format`` of type ``json_schema`` is honoured the same way.
* **Reasoning** — models with ``supportReasoning`` emit ``"Thinking about: <text>"``:
  ids containing ``deepseek`` in ``reasoning_content``; others in ``reasoning`` plus
  ``reasoning_details`` (chat). On /messages a ``thinking`` block (with a deterministic
  ``signature``) is emitted only when the request has ``thinking: {"type": "enabled"}``.
* **Prompt caching** — the caller passes ``cached_system=True`` when the exact system text was
  seen before; cached tokens are the system text's tokens (chat:
  ``prompt_tokens_details.cached_tokens``; messages: ``cache_read_input_tokens``, and
  ``cache_creation_input_tokens`` the first time, with ``input_tokens`` excluding both).
* **Embeddings** — unit vectors seeded from SHA-256 of the text; 1536 dimensions unless the
  request (``dimensions``) or the catalog entry (``parameters.dimensions``) says otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .schema_instances import instance_for_schema

TOKEN_RE = re.compile(r"\w+|[^\w\s]")

Route = Literal["chat", "messages"]
Finish = Literal["stop", "length", "tool_calls", "stop_sequence"]


def count_tokens(text: str) -> int:
    """Count fake tokens: each ``\\w+`` run and each single non-space punctuation mark."""
    return len(TOKEN_RE.findall(text))


def truncate_tokens(text: str, limit: int) -> str:
    """Return the prefix of ``text`` holding at most ``limit`` tokens."""
    if limit <= 0:
        return ""
    for i, match in enumerate(TOKEN_RE.finditer(text)):
        if i == limit - 1:
            return text[: match.end()]
    return text


@dataclass(frozen=True)
class ToolCall:
    """One tool call produced by the fake model (arguments already schema-valid)."""

    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(frozen=True)
class ModelTurn:
    """Route-neutral result of one fake generation; the encoders turn it into wire JSON."""

    text: str | None
    reasoning: str | None
    tool_calls: list[ToolCall]
    finish: Finish
    stop_sequence: str | None
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    reasoning_field: Literal["reasoning_content", "reasoning"] = "reasoning"
    system_tokens: int = 0
    cost: float | None = None
    signature: str | None = None
    attachments: list[str] = field(default_factory=list)


class FakeModelError(Exception):
    """A request the fake model refuses; the server maps it to a 4xx Lunos error."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param


# ---------------------------------------------------------------------------- text extraction

_PART_MODALITY = {
    "image_url": "image",
    "image": "image",
    "input_audio": "audio",
    "video_url": "video",
    "file": "pdf",
    "document": "pdf",
}


def _content_text(content: Any) -> str:
    """Text of a message content (string, or list of OpenAI/Anthropic parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping):
                ptype = part.get("type")
                if ptype == "text":
                    texts.append(str(part.get("text", "")))
                elif ptype == "tool_result":
                    texts.append(_content_text(part.get("content")))
                elif ptype == "tool_use":
                    texts.append(json.dumps(part.get("input", {}), ensure_ascii=False))
                elif ptype in ("thinking",):
                    texts.append(str(part.get("thinking", "")))
        return " ".join(t for t in texts if t)
    return str(content)


def _attachments(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    found: list[str] = []
    for part in content:
        if isinstance(part, Mapping):
            modality = _PART_MODALITY.get(str(part.get("type")))
            if modality:
                found.append(modality)
    return found


def _system_text_chat(messages: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        _content_text(m.get("content"))
        for m in messages
        if m.get("role") in ("system", "developer")
    )


def _system_text_messages(body: Mapping[str, Any]) -> str:
    return _content_text(body.get("system"))


def system_text(body: Mapping[str, Any], route: Route) -> str:
    """The system prompt text used as the prompt-cache key."""
    if route == "chat":
        return _system_text_chat(_messages(body))
    return _system_text_messages(body)


def _messages(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise FakeModelError(
            400, "invalid_request_error", "'messages' must be a non-empty array", "messages"
        )
    if not all(isinstance(m, Mapping) for m in messages):
        raise FakeModelError(
            400, "invalid_request_error", "each message must be an object", "messages"
        )
    return messages


# ---------------------------------------------------------------------------- answer text

_SAY_RE = re.compile(
    r"\b(?:say|repeat|reply with|respond with|answer with)\b[^\"'“]*?"
    r"(?:\"([^\"]*)\"|'([^']*)'|“([^”]*)”)",
    re.IGNORECASE,
)


def answer_text(user_text: str, attachments: Sequence[str] = ()) -> str:
    """The fake model's plain-text answer to ``user_text``."""
    said = _SAY_RE.search(user_text)
    if said:
        return next(g for g in said.groups() if g is not None)
    text = f"Hello! You said: {user_text.strip()}"
    if attachments:
        text += f" [attachments: {', '.join(attachments)}]"
    return text


def _apply_limits(
    text: str, stops: Sequence[str], max_tokens: int | None
) -> tuple[str, Finish, str | None]:
    finish: Finish = "stop"
    hit: str | None = None
    positions = [(text.find(s), s) for s in stops if s and s in text]
    if positions:
        pos, hit = min(positions)
        text = text[:pos]
        finish = "stop_sequence"
    if max_tokens is not None and count_tokens(text) > max_tokens:
        return truncate_tokens(text, max_tokens), "length", None
    return text, finish, hit


def _stops(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(s) for s in value if isinstance(s, str)]
    return []


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FakeModelError(
            400, "invalid_request_error", f"'{name}' must be a non-negative integer", name
        )
    return value


# ---------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class _Tool:
    name: str
    schema: Mapping[str, Any]


def _named_in(text: str, tools: Sequence[_Tool]) -> list[_Tool]:
    hits: list[tuple[int, _Tool]] = []
    for tool in tools:
        m = re.search(r"(?<![\w])" + re.escape(tool.name) + r"(?![\w])", text)
        if m:
            hits.append((m.start(), tool))
    return [t for _, t in sorted(hits, key=lambda h: h[0])]


def _choose_tools(
    tools: Sequence[_Tool],
    mode: str,
    forced: str | None,
    user_text: str,
    parallel: bool,
) -> list[_Tool]:
    if forced is not None:
        chosen = [t for t in tools if t.name == forced]
        if not chosen:
            raise FakeModelError(
                400,
                "invalid_request_error",
                f"tool_choice names unknown tool '{forced}'",
                "tool_choice",
            )
        return chosen[:1]
    named = _named_in(user_text, tools)
    if not named:
        return [tools[0]]
    return named if parallel else named[:1]


def _make_calls(
    chosen: Sequence[_Tool], user_text: str, prefix: str, start: int, all_tools: Sequence[_Tool]
) -> list[ToolCall]:
    names = {t.name for t in all_tools}
    return [
        ToolCall(
            id=f"{prefix}{start + i + 1}",
            name=tool.name,
            arguments=_as_object(instance_for_schema(tool.schema, user_text, exclude_words=names)),
        )
        for i, tool in enumerate(chosen)
    ]


def _as_object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


# ---------------------------------------------------------------------------- reasoning


def _reasoning_for(model: Mapping[str, Any], user_text: str) -> str | None:
    if not model.get("supportReasoning"):
        return None
    return f"Thinking about: {user_text.strip()}"


def _reasoning_field(model: Mapping[str, Any]) -> Literal["reasoning_content", "reasoning"]:
    return "reasoning_content" if "deepseek" in str(model.get("id", "")) else "reasoning"


def thinking_signature(thinking: str) -> str:
    """Deterministic stand-in for Anthropic's opaque thinking signature."""
    return base64.b64encode(hashlib.sha256(thinking.encode()).digest()).decode()


def compute_cost(model: Mapping[str, Any], prompt_tokens: int, completion_tokens: int) -> float:
    """USD cost from the catalog's per-million prices after ``discountPercentage``."""
    price = model.get("pricePerMillionTokens") or {}
    raw = (
        prompt_tokens * float(price.get("input", 0))
        + completion_tokens * float(price.get("output", 0))
    ) / 1_000_000
    discount = float(price.get("discountPercentage", 0) or 0)
    return round(raw * (1 - discount / 100), 12)


# ---------------------------------------------------------------------------- chat route


def _check_modalities(model: Mapping[str, Any], attachments: Sequence[str]) -> None:
    allowed = set(model.get("inputModalities", ("text",)))
    for modality in attachments:
        if modality not in allowed:
            raise FakeModelError(
                400,
                "unsupported_modality",
                f"Model '{model.get('id')}' does not support {modality} input",
                "messages",
            )


def chat_turn(
    body: Mapping[str, Any], model: Mapping[str, Any], *, cached_system: bool
) -> ModelTurn:
    """Generate the fake reply for an OpenAI-style chat completion request."""
    messages = _messages(body)
    last = messages[-1]
    user_msgs = [m for m in messages if m.get("role") == "user"]
    user_text = _content_text(user_msgs[-1].get("content")) if user_msgs else ""
    attachments = [a for m in messages for a in _attachments(m.get("content"))]
    _check_modalities(model, attachments)
    last_attachments = _attachments(user_msgs[-1].get("content")) if user_msgs else []

    tools_raw = body.get("tools") or []
    tools = [
        _Tool(
            str(t["function"].get("name", "")),
            t["function"].get("parameters") or {"type": "object", "properties": {}},
        )
        for t in tools_raw
        if isinstance(t, Mapping)
        and t.get("type") == "function"
        and isinstance(t.get("function"), Mapping)
    ]
    prompt_parts = [_content_text(m.get("content")) for m in messages]
    for m in messages:
        for call in m.get("tool_calls") or []:
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                prompt_parts.append(str(call["function"].get("name", "")))
                prompt_parts.append(str(call["function"].get("arguments", "")))
    prompt_tokens = sum(count_tokens(p) for p in prompt_parts)
    prompt_tokens += sum(count_tokens(json.dumps(t, sort_keys=True)) for t in tools_raw)
    system_tokens = count_tokens(_system_text_chat(messages))
    cached = system_tokens if cached_system else 0

    choice = body.get("tool_choice", "auto")
    forced: str | None = None
    mode = "auto"
    if isinstance(choice, str):
        mode = choice
    elif isinstance(choice, Mapping):
        fn = choice.get("function")
        if isinstance(fn, Mapping) and fn.get("name"):
            forced = str(fn["name"])
            mode = "required"
    parallel = body.get("parallel_tool_calls") is not False

    max_tokens = _int_or_none(
        body.get("max_completion_tokens", body.get("max_tokens")), "max_tokens"
    )
    reasoning = _reasoning_for(model, user_text)
    reasoning_tokens = count_tokens(reasoning) if reasoning else 0
    prior_calls = sum(len(m.get("tool_calls") or []) for m in messages)

    must_call = tools and (mode in ("required", "any") or forced is not None)
    may_call = tools and mode == "auto" and last.get("role") == "user"
    tool_calls: list[ToolCall] = []
    text: str | None
    stop_seq: str | None = None
    finish: Finish
    if must_call or may_call:
        chosen = _choose_tools(tools, mode, forced, user_text, parallel)
        tool_calls = _make_calls(chosen, user_text, "call_", prior_calls, tools)
        text, finish = None, "tool_calls"
        completion = sum(count_tokens(c.arguments_json) for c in tool_calls)
    else:
        text = _structured_or_text(
            body.get("response_format"), messages, user_text, last_attachments
        )
        text, finish, stop_seq = _apply_limits(text, _stops(body.get("stop")), max_tokens)
        completion = count_tokens(text)
    completion += reasoning_tokens
    return ModelTurn(
        text=text,
        reasoning=reasoning,
        tool_calls=tool_calls,
        finish=finish,
        stop_sequence=stop_seq,
        prompt_tokens=prompt_tokens,
        cached_tokens=cached,
        completion_tokens=completion,
        reasoning_tokens=reasoning_tokens,
        reasoning_field=_reasoning_field(model),
        system_tokens=system_tokens,
        cost=compute_cost(model, prompt_tokens, completion),
        attachments=last_attachments,
    )


def _tool_results_text(messages: Sequence[Mapping[str, Any]]) -> str | None:
    results: list[str] = []
    for m in reversed(messages):
        if m.get("role") == "tool":
            results.append(_content_text(m.get("content")))
            continue
        content = m.get("content")
        if (
            m.get("role") == "user"
            and isinstance(content, list)
            and any(isinstance(p, Mapping) and p.get("type") == "tool_result" for p in content)
        ):
            results.extend(
                _content_text(p.get("content"))
                for p in reversed(content)
                if isinstance(p, Mapping) and p.get("type") == "tool_result"
            )
        break
    if not results:
        return None
    return "The tool returned: " + "; ".join(reversed(results))


def _structured_or_text(
    response_format: Any,
    messages: Sequence[Mapping[str, Any]],
    user_text: str,
    attachments: Sequence[str],
) -> str:
    tool_text = _tool_results_text(messages)
    base = tool_text if tool_text is not None else answer_text(user_text, attachments)
    if isinstance(response_format, Mapping):
        rtype = response_format.get("type")
        if rtype == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema") if isinstance(spec, Mapping) else None
            if schema is None and "schema" in response_format:
                schema = response_format.get("schema")
            return json.dumps(instance_for_schema(schema or {}, user_text), ensure_ascii=False)
        if rtype == "json_object":
            keys = _requested_keys(user_text)
            if keys:
                return json.dumps({k: base for k in keys}, ensure_ascii=False)
            return json.dumps({"answer": base}, ensure_ascii=False)
    return base


_QUOTED_KEY_RE = re.compile(r"['\"]([A-Za-z_]\w*)['\"]")


def _requested_keys(user_text: str) -> list[str]:
    """Keys a JSON-mode prompt asks for by name ("... with 'setup' and 'punchline' keys")."""
    if "key" not in user_text.lower():
        return []
    return list(dict.fromkeys(_QUOTED_KEY_RE.findall(user_text)))


# ---------------------------------------------------------------------------- messages route


def _user_text(content: Any) -> str:
    """Text the user wrote, leaving out ``tool_result`` blocks (those are tool output)."""
    if isinstance(content, list):
        content = [
            p for p in content if not (isinstance(p, Mapping) and p.get("type") == "tool_result")
        ]
    return _content_text(content)


def messages_turn(
    body: Mapping[str, Any], model: Mapping[str, Any], *, cached_system: bool
) -> ModelTurn:
    """Generate the fake reply for an Anthropic Messages request."""
    messages = _messages(body)
    last = messages[-1]
    user_texts = [_user_text(m.get("content")) for m in messages if m.get("role") == "user"]
    user_texts = [t for t in user_texts if t]
    user_text = user_texts[-1] if user_texts else ""
    attachments = [a for m in messages for a in _attachments(m.get("content"))]
    _check_modalities(model, attachments)
    last_attachments = _attachments(last.get("content")) if last.get("role") == "user" else []

    tools_raw = body.get("tools") or []
    tools = [
        _Tool(str(t.get("name", "")), t.get("input_schema") or {"type": "object"})
        for t in tools_raw
        if isinstance(t, Mapping) and "input_schema" in t
    ]
    system = _system_text_messages(body)
    system_tokens = count_tokens(system)
    prompt_tokens = system_tokens + sum(
        count_tokens(_content_text(m.get("content"))) for m in messages
    )
    prompt_tokens += sum(count_tokens(json.dumps(t, sort_keys=True)) for t in tools_raw)
    cached = system_tokens if cached_system else 0

    choice = body.get("tool_choice") or {"type": "auto"}
    mode = str(choice.get("type", "auto")) if isinstance(choice, Mapping) else "auto"
    forced = str(choice["name"]) if isinstance(choice, Mapping) and mode == "tool" else None
    parallel = not (isinstance(choice, Mapping) and choice.get("disable_parallel_tool_use"))
    last_is_tool_result = isinstance(last.get("content"), list) and any(
        isinstance(p, Mapping) and p.get("type") == "tool_result" for p in last["content"]
    )

    thinking_cfg = body.get("thinking")
    thinking_on = isinstance(thinking_cfg, Mapping) and thinking_cfg.get("type") in (
        "enabled",
        "adaptive",
    )
    reasoning = _reasoning_for(model, user_text) if thinking_on else None
    reasoning_tokens = count_tokens(reasoning) if reasoning else 0
    prior_calls = sum(
        1
        for m in messages
        if isinstance(m.get("content"), list)
        for p in m["content"]
        if isinstance(p, Mapping) and p.get("type") == "tool_use"
    )
    max_tokens = _int_or_none(body.get("max_tokens"), "max_tokens")

    must_call = tools and (mode in ("any", "tool"))
    may_call = tools and mode == "auto" and last.get("role") == "user" and not last_is_tool_result
    tool_calls: list[ToolCall] = []
    text: str | None
    stop_seq: str | None = None
    finish: Finish
    if must_call or may_call:
        chosen = _choose_tools(tools, mode, forced, user_text, parallel)
        tool_calls = _make_calls(chosen, user_text, "toolu_", prior_calls, tools)
        text, finish = None, "tool_calls"
        completion = sum(count_tokens(c.arguments_json) for c in tool_calls)
    else:
        fmt = body.get("output_format")
        cfg = body.get("output_config")
        if fmt is None and isinstance(cfg, Mapping):
            fmt = cfg.get("format")
        text = _structured_or_text(fmt, messages, user_text, last_attachments)
        text, finish, stop_seq = _apply_limits(text, _stops(body.get("stop_sequences")), max_tokens)
        completion = count_tokens(text)
    completion += reasoning_tokens
    return ModelTurn(
        text=text,
        reasoning=reasoning,
        tool_calls=tool_calls,
        finish=finish,
        stop_sequence=stop_seq,
        prompt_tokens=prompt_tokens,
        cached_tokens=cached,
        completion_tokens=completion,
        reasoning_tokens=reasoning_tokens,
        system_tokens=system_tokens,
        cost=compute_cost(model, prompt_tokens, completion),
        signature=thinking_signature(reasoning) if reasoning else None,
        attachments=last_attachments,
    )
