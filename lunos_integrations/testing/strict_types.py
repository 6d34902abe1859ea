"""``strict_openai_types``: reject chat messages the way strict OpenAI-compatible servers do.

Why: the official API, Lunos and this server's default mode accept ``"content": null`` on an
assistant turn that carries ``tool_calls``. Servers that validate requests against typed
models do not: llama-cpp-python's server declares an assistant message's ``content`` as
"absent or a string", so the second turn of a tool round trip that sends ``null`` is refused
before the model runs. With this option the local server refuses the same bodies, so a
client's tool round trip is tested against the strict reading without a real model.

Rules (``messages`` only; every other field is left to the normal checks):

* each message is an object with a ``role`` among system, user, assistant, tool, function;
* ``content``, when present, is a string or a list of objects with a string ``type``;
  ``null``, numbers, booleans and objects are refused on every role;
* ``content`` may be absent only on an assistant turn that carries ``tool_calls`` (or the
  legacy ``function_call``); every other message needs it;
* each entry of ``tool_calls`` has a string ``id``, ``type: "function"`` and a ``function``
  with string ``name`` and ``arguments``; a tool message has a string ``tool_call_id``.

The rejection copies what llama-cpp-python 0.3.x sends (its route handler wraps the FastAPI
``RequestValidationError`` in its OpenAI-style envelope): **HTTP 500** with
``{"error": {"message": "<n> validation errors: ...", "type": "internal_server_error",
"param": null, "code": null}}``, each error a pydantic-style ``{'type', 'loc', 'msg',
'input'}`` line with ``loc`` starting ``('body', 'messages', <index>, ...)``. Note that a
client retries a 500 by default: a strict server's refusal costs ``max_retries`` extra calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["STRICT_REJECTION_STATUS", "strict_message_errors", "strict_rejection_body"]

#: The status llama-cpp-python's server answers a request-validation failure with.
STRICT_REJECTION_STATUS = 500

_ROLES = ("system", "user", "assistant", "tool", "function")
# pydantic error "type" and "msg" for each kind of failure (the wording pydantic 2 uses).
_STRING = ("string_type", "Input should be a valid string")
_CONTENT = ("string_or_list_type", "Input should be a valid string or a list of content parts")
_MISSING = ("missing", "Field required")
_OBJECT = ("dict_type", "Input should be a valid dictionary")
_LIST = ("list_type", "Input should be a valid list")
_ROLE = ("literal_error", "Input should be 'system', 'user', 'assistant', 'tool' or 'function'")
_FUNCTION = ("literal_error", "Input should be 'function'")

Error = dict[str, Any]


def _err(kind: tuple[str, str], loc: tuple[Any, ...], value: Any) -> Error:
    return {"type": kind[0], "loc": ("body", *loc), "msg": kind[1], "input": value}


def strict_message_errors(body: Mapping[str, Any]) -> list[Error]:
    """Validation errors for ``body["messages"]`` under the strict rules (empty: accepted)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return [_err(_LIST, ("messages",), messages)]
    errors: list[Error] = []
    for i, msg in enumerate(messages):
        loc: tuple[Any, ...] = ("messages", i)
        if not isinstance(msg, Mapping):
            errors.append(_err(_OBJECT, loc, msg))
            continue
        role = msg.get("role")
        if role not in _ROLES:
            errors.append(_err(_ROLE, (*loc, "role"), role))
            continue
        errors.extend(_content_errors(msg, role, loc))
        if role == "assistant" and "tool_calls" in msg:
            errors.extend(_tool_call_errors(msg["tool_calls"], (*loc, "tool_calls")))
        if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
            kind = _MISSING if "tool_call_id" not in msg else _STRING
            errors.append(_err(kind, (*loc, "tool_call_id"), msg.get("tool_call_id", msg)))
    return errors


def _content_errors(msg: Mapping[str, Any], role: str, loc: tuple[Any, ...]) -> list[Error]:
    if "content" not in msg:
        calls = msg.get("tool_calls") or msg.get("function_call")
        if role == "assistant" and calls:
            return []
        return [_err(_MISSING, (*loc, "content"), dict(msg))]
    content = msg["content"]
    if isinstance(content, str):
        return []
    if isinstance(content, list):
        return [
            _err(_OBJECT, (*loc, "content", j), part)
            for j, part in enumerate(content)
            if not (isinstance(part, Mapping) and isinstance(part.get("type"), str))
        ]
    return [_err(_CONTENT, (*loc, "content"), content)]


def _tool_call_errors(calls: Any, loc: tuple[Any, ...]) -> list[Error]:
    if not isinstance(calls, list):
        return [_err(_LIST, loc, calls)]
    errors: list[Error] = []
    for k, call in enumerate(calls):
        here = (*loc, k)
        if not isinstance(call, Mapping):
            errors.append(_err(_OBJECT, here, call))
            continue
        if not isinstance(call.get("id"), str):
            errors.append(_err(_STRING, (*here, "id"), call.get("id")))
        if call.get("type") != "function":
            errors.append(_err(_FUNCTION, (*here, "type"), call.get("type")))
        fn = call.get("function")
        if not isinstance(fn, Mapping):
            errors.append(_err(_OBJECT, (*here, "function"), fn))
            continue
        for key in ("name", "arguments"):
            if not isinstance(fn.get(key), str):
                errors.append(_err(_STRING, (*here, "function", key), fn.get(key)))
    return errors


def strict_rejection_body(errors: list[Error]) -> dict[str, Any]:
    """The error body llama-cpp-python's server sends for these validation errors."""
    plural = "" if len(errors) == 1 else "s"
    lines = "".join(f"  {error!r}\n" for error in errors)
    return {
        "error": {
            "message": f"{len(errors)} validation error{plural}:\n{lines}",
            "type": "internal_server_error",
            "param": None,
            "code": None,
        }
    }
