"""Unsupported parameters, learned from the server instead of guessed from a list.

Why learn: Lunos rejects a request carrying a parameter the model does not support
(lunos-api.md §3.1), but the ``supportedParameters`` lists it publishes are incomplete (the
documented ones name five parameters; none lists ``stream_options``, ``stop`` or ``seed``).
A name missing from the list therefore means *unknown*, not *rejected*, and dropping it up
front silently changes what the user asked for (a ReAct agent without ``stop``, a stream
without usage). So the client sends what the user set, and when the server answers a 400
that names an unsupported parameter:

* the parameter is dropped from *that* request and the request is sent once more, inside
  the same call (each rejected parameter costs one extra request, once per process);
* one :class:`LunosUnsupportedParameterWarning` per (model, parameter) says what was
  dropped and why;
* a :class:`ParameterMemory` (an object handed to the client, shared per base URL by
  default) remembers it for the model, so later calls do not pay the round trip.

Never dropped: ``model``, ``messages``, ``stream``, ``max_tokens`` on the Messages route
(required there), anything the caller put in ``extra_body`` (their verbatim escape hatch),
and ``tools`` / ``response_format`` — a reply without them is a different kind of answer
(text instead of a tool call or JSON), so their rejection is raised as
:class:`~lunos_integrations.errors.UnsupportedParameterError` instead. Any other 400 (one
without a parameter name, or naming a parameter that was not sent) is never retried.

This module is part of the core (below :mod:`lunos_integrations.client`): pure logic and
one small thread-safe object, no I/O.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Mapping
from typing import Any, Literal

from ._forksafe import ForkSafeLock
from .errors import APIStatusError, LunosInputError, UnsupportedParameterError
from .wire.types import ChatRequest

__all__ = [
    "GateMode",
    "GateSetting",
    "LunosUnsupportedParameterWarning",
    "ParameterMemory",
    "apply_learned",
    "drop_parameter",
    "gate_mode",
    "rejected_parameter",
]

#: What ``gate_parameters`` may be set to (``True`` is an alias of ``"learn"``).
GateSetting = Literal["learn", "catalog"] | bool
#: The resolved mode: learn from 400s, pre-filter by the catalog (and learn), or neither.
GateMode = Literal["learn", "catalog", "off"]


class LunosUnsupportedParameterWarning(UserWarning):
    """An optional parameter was not sent because the model does not support it."""


def gate_mode(value: object) -> GateMode:
    """Validate ``gate_parameters``: ``"learn"`` (default), ``"catalog"``, ``True`` or ``False``.

    ``True`` is kept as an alias of ``"learn"`` because it meant "protect me from
    unsupported-parameter 400s" before the modes existed, and that is what learning does.
    """
    if value is True or value == "learn":
        return "learn"
    if value == "catalog":
        return "catalog"
    if value is False:
        return "off"
    raise LunosInputError(
        f"gate_parameters must be 'learn', 'catalog' or False, got {value!r}.",
        param="gate_parameters",
    )


# Wire key → ChatRequest fields reset (to these values) when the key is dropped, per route.
_CHAT_KEYS: dict[str, dict[str, Any]] = {
    "max_tokens": {"max_tokens": None},
    "temperature": {"temperature": None},
    "top_p": {"top_p": None},
    "top_k": {"top_k": None},
    "stop": {"stop": None},
    "seed": {"seed": None},
    "frequency_penalty": {"frequency_penalty": None},
    "presence_penalty": {"presence_penalty": None},
    "tool_choice": {"tool_choice": None},
    "parallel_tool_calls": {"parallel_tool_calls": None},
    "reasoning_effort": {"reasoning_effort": None},
    "reasoning": {"reasoning": None, "thinking": None},
    "user": {"user": None},
    "stream_options": {"include_usage": False},
    "fallback_model": {"fallback_model": None},
    "observability": {"observability": None},
}
_MESSAGES_KEYS: dict[str, dict[str, Any]] = {
    "temperature": {"temperature": None},
    "top_p": {"top_p": None},
    "top_k": {"top_k": None},
    "stop_sequences": {"stop": None},
    "tool_choice": {"tool_choice": None, "parallel_tool_calls": None},
    "thinking": {"thinking": None},
    "metadata": {"user": None},
    "fallback_model": {"fallback_model": None},
    "observability": {"observability": None},
}
#: Rejections raised, never dropped: without them the answer is of another kind.
ESSENTIAL = frozenset(("tools", "response_format", "output_config"))

_UNSUPPORTED_WORDS = re.compile(
    r"unsupported|not\s+supported|does\s+not\s+support|doesn't\s+support|not\s+allowed|"
    r"unknown\s+(?:parameter|field|argument)|unrecognized|unrecognised|not\s+permitted|"
    r"extra\s+(?:inputs?|fields?)\s+(?:are|is)\s+not\s+permitted",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"""['"`]([A-Za-z_][A-Za-z0-9_.\[\]]*)['"`]""")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def droppable_keys(api: str) -> Mapping[str, Mapping[str, Any]]:
    return _MESSAGES_KEYS if api == "messages" else _CHAT_KEYS


def _says_unsupported(error: APIStatusError) -> bool:
    parts = [error.message or "", error.code or "", error.type or ""]
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            parts.extend(str(v) for k, v in inner.items() if k in ("message", "code", "type"))
    return any(_UNSUPPORTED_WORDS.search(p) or "unsupported" in p.lower() for p in parts)


def _top_key(name: str) -> str:
    """``stream_options.include_usage`` / ``tools[0]`` → the top-level body key."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def _param_of(error: APIStatusError) -> str | None:
    """``error.param`` from the typed error or, defensively, from either envelope."""
    if error.param:
        return error.param
    body = error.body
    if isinstance(body, dict):
        for holder in (body.get("error"), body):
            if isinstance(holder, dict):
                for key in ("param", "parameter", "field"):
                    value = holder.get(key)
                    if isinstance(value, str) and value:
                        return value
    return None


def rejected_parameter(error: APIStatusError, body: Mapping[str, Any]) -> str | None:
    """The top-level key of ``body`` that a 400 rejects as unsupported, or ``None``.

    Both conditions must hold: the error says the parameter is *unsupported* (in its
    message, code or type: a 400 that names ``temperature`` because its value is out of
    range is not a reason to drop it), and it names a key that was actually sent — in
    ``param`` (OpenAI / Lunos envelope) or, failing that, in the message (the Anthropic
    envelope has no ``param``).
    """
    if error.status_code != 400 or not _says_unsupported(error):
        return None
    param = _param_of(error)
    if param:
        key = _top_key(param)
        return key if key in body else None
    text = error.message or ""
    for candidate in (*_QUOTED.findall(text), *_WORD.findall(text)):
        key = _top_key(candidate)
        if key in body and key not in ("model", "messages", "stream"):
            return key
    return None


def drop_parameter(
    request: ChatRequest, api: str, key: str, extra_keys: frozenset[str] = frozenset()
) -> ChatRequest | None:
    """A copy of ``request`` without wire key ``key``, or ``None`` when it must not be dropped."""
    if key in ESSENTIAL or key in extra_keys:
        return None
    fields = droppable_keys(api).get(key)
    if not fields:
        return None
    return dataclasses.replace(request, **fields)


def apply_learned(request: ChatRequest, api: str, rejected: frozenset[str]) -> ChatRequest:
    """``request`` without the parameters the server already rejected for its model."""
    if not rejected:
        return request
    extra = frozenset(request.extra_body or ())
    changes: dict[str, Any] = {}
    for key in rejected:
        fields = droppable_keys(api).get(key)
        if fields and key not in extra:
            changes.update(fields)
    if not changes:
        return request
    # Only fields that are set: an unset field stays unset, and an unchanged request is
    # returned as is (so its already-encoded body can be reused).
    changes = {k: v for k, v in changes.items() if getattr(request, k) not in (None, v)}
    return dataclasses.replace(request, **changes) if changes else request


def unsupported_error(error: APIStatusError, key: str, model: str) -> UnsupportedParameterError:
    """The typed error for a rejected parameter that is not dropped."""
    return UnsupportedParameterError(
        f"Lunos model {model!r} does not support the parameter {key!r} (the server said: "
        f"{error.message})",
        status_code=error.status_code,
        code=error.code,
        type=error.type,
        param=key,
        request_id=error.request_id,
        body=error.body,
        headers=error.headers,
    )


class ParameterMemory:
    """Which parameters the server rejected, per model, in this process.

    One instance is shared by every client of a base URL by default (the shared catalog
    owns it), so learning happens once per process; pass your own to isolate clients.
    Thread-safe. The warned set lives here too: a warning is issued the first time a
    (model, parameter) pair is learned, and never again for this memory.
    """

    def __init__(self) -> None:
        self._lock = ForkSafeLock()
        self._rejected: dict[str, frozenset[str]] = {}

    def rejected(self, model: str) -> frozenset[str]:
        """Wire names the server rejected for ``model`` (empty when none)."""
        return self._rejected.get(model, frozenset())

    def learn(self, model: str, key: str) -> bool:
        """Remember a rejection; ``True`` when it is new (the caller warns then)."""
        with self._lock:
            known = self._rejected.get(model, frozenset())
            if key in known:
                return False
            self._rejected[model] = known | {key}
            return True

    def forget(self) -> None:
        """Forget everything learned (e.g. after the deployment changed)."""
        with self._lock:
            self._rejected.clear()

    def snapshot(self) -> dict[str, list[str]]:
        """Model → sorted rejected parameters, for logs and tests."""
        return {model: sorted(keys) for model, keys in self._rejected.items()}


def warn_dropped(model: str, key: str, error: APIStatusError, *, stacklevel: int) -> None:
    """The one warning issued when a (model, parameter) pair is first learned."""
    warnings.warn(
        f"Lunos rejected the parameter {key!r} for model {model!r} ({error.message}); it was "
        "dropped and the request sent again, and it will not be sent to this model again "
        "in this process. Pass gate_parameters=False to get the error instead.",
        LunosUnsupportedParameterWarning,
        stacklevel=stacklevel,
    )
