"""Message content in the GenAI conventions' JSON shape, capped in bytes (opt-in only).

Prompts and answers are the most sensitive thing a span can carry, so nothing here runs
unless content capture was asked for (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
or ``Telemetry(capture_content=True)``). Even then, every text passes the client's
:class:`~..redact.Secrets` (its key or URL password, a bearer token or ``api_key=...``
pasted into a prompt is masked) and the JSON is cut to
a byte cap while staying valid JSON: a backend that parses the attribute must not choke
on half a string, so text parts are shortened, never the serialised document.

Pure functions over :mod:`..wire.types`; no OpenTelemetry import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from ..redact import NO_SECRETS, Secrets, scrub_json
from ..wire.types import ChatDelta, ChatRequest, ChatResult, Message, TextPart, ToolCall

__all__ = ["capture_from_env", "fit", "input_messages", "output_messages"]

#: What the env variable may say to turn capture on (any case). The newer conventions'
#: values (``span_only``, ``span_and_event``...) all include the span, which is what we fill.
_ON = frozenset({"true", "1", "yes", "on", "span_only", "span_and_event", "event_only"})
#: Marks a text cut to fit the byte cap.
ELLIPSIS = "…"


def capture_from_env() -> bool:
    value = os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "")
    return value.strip().lower() in _ON


def _text(value: str, secrets: Secrets) -> dict[str, Any]:
    return {"type": "text", "content": secrets.scrub(value)}


def _parts(content: Any, secrets: Secrets) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [_text(content, secrets)] if content else []
    parts: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            parts.append(_text(part.text, secrets))
            continue
        kind = type(part).__name__.removesuffix("Part").lower()  # image, file, audio ...
        url = getattr(part, "url", None)
        entry: dict[str, Any] = {"type": "uri" if url else kind, "modality": kind}
        if url and not url.startswith("data:"):
            entry["uri"] = secrets.scrub(url)
        parts.append(entry)  # inline bytes are never copied into a span
    return parts


def _tool_call(call: ToolCall, secrets: Secrets) -> dict[str, Any]:
    arguments = scrub_json(call.arguments, secrets)
    return {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}


def _message(message: Message, secrets: Secrets) -> dict[str, Any]:
    if message.role == "tool":
        text = message.content if isinstance(message.content, str) else ""
        if not text:
            text = "".join(p.text for p in message.content if isinstance(p, TextPart))
        parts = [
            {
                "type": "tool_call_response",
                "id": message.tool_call_id,
                "response": secrets.scrub(text),
            }
        ]
    else:
        parts = _parts(message.content, secrets)
        parts.extend(_tool_call(call, secrets) for call in message.tool_calls)
    return {"role": message.role, "parts": parts}


def input_messages(
    request: ChatRequest, secrets: Secrets = NO_SECRETS
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system instructions, other messages)`` of ``request`` in the conventions' shape."""
    system: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role in ("system", "developer"):
            system.extend(_parts(message.content, secrets))
        else:
            others.append(_message(message, secrets))
    return system, others


def output_messages(
    result: ChatResult | None,
    deltas_text: str,
    tool_calls: Iterable[dict[str, Any]] = (),
    secrets: Secrets = NO_SECRETS,
) -> list[dict[str, Any]]:
    """The assistant's answer: from a whole ``result``, or from what a stream delivered."""
    if result is not None:
        parts = [_text(result.text, secrets)] if result.text else []
        parts.extend(_tool_call(call, secrets) for call in result.tool_calls)
        finish = result.finish_reason
    else:
        parts = [_text(deltas_text, secrets)] if deltas_text else []
        parts.extend(scrub_json(call, secrets) for call in tool_calls)
        finish = None
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if finish:
        message["finish_reason"] = finish
    return [message]


def stream_tool_calls(deltas: Iterable[ChatDelta]) -> list[dict[str, Any]]:
    """Tool calls assembled from streamed fragments (arguments kept as the raw JSON text)."""
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        for fragment in delta.tool_calls:
            call = calls.setdefault(
                fragment.index, {"type": "tool_call", "id": None, "name": None, "arguments": ""}
            )
            call["id"] = fragment.id or call["id"]
            call["name"] = fragment.name or call["name"]
            call["arguments"] += fragment.arguments
    return list(calls.values())


def _cut(text: str, limit: int) -> str:
    """``text`` shortened to at most ``limit`` UTF-8 bytes, never mid-character."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    keep = max(limit - len(ELLIPSIS.encode("utf-8")), 0)
    return raw[:keep].decode("utf-8", errors="ignore") + ELLIPSIS


def _texts(value: Any) -> Iterable[dict[str, Any]]:
    """Every part dict holding free text (``content`` or a tool ``response``)."""
    if isinstance(value, dict):
        if isinstance(value.get("content"), str) or isinstance(value.get("response"), str):
            yield value
        for item in value.values():
            if isinstance(item, (dict, list)):
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def fit(value: Any, max_bytes: int) -> tuple[str, bool]:
    """``value`` as JSON of at most ``max_bytes`` bytes (when it can be), and if it was cut.

    Each text gets an equal share of what the structure leaves; a text shorter than its
    share passes its rest on. If the structure alone is over the cap, texts are emptied and
    the (valid) JSON is returned as it is, a little over.
    """
    encoded = json.dumps(value, ensure_ascii=False, default=str)
    if len(encoded.encode("utf-8")) <= max_bytes:
        return encoded, False
    slots = [
        (holder, key, holder[key])
        for holder in _texts(value)
        for key in ("content" if isinstance(holder.get("content"), str) else "response",)
    ]
    for holder, key, _ in slots:
        holder[key] = ""
    overhead = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    budget = max_bytes - overhead
    for _ in range(4):  # JSON escaping can make a cut text longer than its share: shrink
        left = budget
        for i, (holder, key, original) in enumerate(slots):
            share = left // max(len(slots) - i, 1)
            holder[key] = _cut(original, max(share, 0))
            left -= len(json.dumps(holder[key], ensure_ascii=False).encode("utf-8")) - 2
        encoded = json.dumps(value, ensure_ascii=False, default=str)
        over = len(encoded.encode("utf-8")) - max_bytes
        if over <= 0:
            break
        budget -= over
    return encoded, True
