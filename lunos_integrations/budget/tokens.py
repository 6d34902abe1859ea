"""Offline token estimates of a neutral request, for reserving its worst case.

Why offline and approximate: a budget must judge a call *before* it is sent, and exact
counts would need each vendor's tokenizer (downloaded at run time, unknown for most Lunos
ids). The rule (alphanumeric runs cost ⌈len/4⌉ tokens, every other symbol one) counts each
word as at least one token and splits long ones, so it is meant to err high; it is also
what ``ChatLunos.get_num_tokens`` uses (:mod:`lunos_integrations.langchain.tokens`). The
reservation is only the admission test: when the reply reports its usage, the budget
settles with the real figure.

Attachments (images, files, audio) cannot be counted without decoding them; each is
reserved at :data:`ATTACHMENT_TOKENS`, a pessimistic figure for one high-resolution image.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from ..wire.types import ChatRequest, EmbeddingRequest, Message, TextPart

__all__ = [
    "ATTACHMENT_TOKENS",
    "OutputCount",
    "TextCounts",
    "estimate_embedding_tokens",
    "estimate_request_tokens",
    "estimate_text_tokens",
]

_PIECE_RE = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")
#: Per-message framing (role markers) and per-reply priming, as OpenAI documents them.
PER_MESSAGE = 3
PER_REPLY = 3
#: Reserved for each non-text part (image, file, audio) of a prompt.
ATTACHMENT_TOKENS = 1_600


def estimate_text_tokens(text: str) -> int:
    """Estimated tokens of ``text``: alphanumeric runs cost ⌈len/4⌉, other symbols 1."""
    total = 0
    for piece in _PIECE_RE.findall(text):
        n = len(piece)
        total += (n + 3) // 4 if n > 1 else 1
    return total


class TextCounts:
    """:func:`estimate_text_tokens` remembered per text, for a guard's calls.

    Why: an agent resends its whole history on every turn, so without this each call would
    count every earlier message again (a regex pass over the whole conversation per call).
    Bounded: cleared when it holds :attr:`LIMIT` texts. Shared by the threads of one guard;
    a lost race only counts a text twice.
    """

    LIMIT = 4096

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        known = self._known.get(text)
        if known is None:
            if len(self._known) >= self.LIMIT:
                self._known.clear()
            known = self._known[text] = estimate_text_tokens(text)
        return known


def _json_tokens(value: Any) -> int:
    try:
        return estimate_text_tokens(json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return estimate_text_tokens(repr(value))


def _message_tokens(message: Message, count: Callable[[str], int]) -> int:
    total = PER_MESSAGE
    content = message.content
    if isinstance(content, str):
        total += count(content)
    else:
        for part in content:
            if isinstance(part, TextPart):
                total += count(part.text)
            else:
                total += ATTACHMENT_TOKENS
    if message.name:
        total += estimate_text_tokens(message.name)
    for call in message.tool_calls:
        total += estimate_text_tokens(call.name) + _json_tokens(call.arguments)
    for reasoning in message.reasoning:
        total += estimate_text_tokens(reasoning.text)
    return total


def estimate_request_tokens(
    request: ChatRequest, count: Callable[[str], int] = estimate_text_tokens
) -> int:
    """Estimated input tokens of a chat request: messages, tool definitions, schema.

    ``count`` counts one message text (a :class:`TextCounts` remembers them).
    """
    total = PER_REPLY + sum(_message_tokens(m, count) for m in request.messages)
    for tool in request.tools or ():
        # the wire form ({"type": "function", "function": {...}}) is what the server counts
        total += _json_tokens(
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
        )
    for server_tool in request.server_tools or ():
        total += _json_tokens(server_tool)
    if request.response_format is not None and request.response_format.schema is not None:
        total += _json_tokens(request.response_format.schema)
    return total


def estimate_embedding_tokens(request: EmbeddingRequest) -> int:
    """Estimated input tokens of an embeddings request (the sum over its inputs)."""
    return sum(estimate_text_tokens(text) for text in request.input)


_TAIL_RE = re.compile(r"[A-Za-z0-9_]+\Z")


class OutputCount:
    """Tokens of a streamed output, counted as its pieces arrive, two ways.

    ``fewest`` counts one token per word or punctuation mark: a tokenizer bills at least
    that for words, so a stream is only cut at the limit once even this count passes it
    (an estimate that errs high would cut answers the server bounded by ``max_tokens``).
    ``estimate`` is the rule of :func:`estimate_text_tokens` (errs high), used to charge a
    stream that ended early. A word split across two deltas is counted once: the trailing
    run of a delta is carried to the next.
    """

    __slots__ = ("_carry", "_estimate", "_fewest")

    def __init__(self) -> None:
        self._carry = ""
        self._fewest = 0
        self._estimate = 0

    def add(self, text: str) -> None:
        if not text:
            return
        text = self._carry + text
        tail = _TAIL_RE.search(text)
        if tail is not None:
            self._carry, text = tail.group(), text[: tail.start()]
        else:
            self._carry = ""
        for piece in _PIECE_RE.findall(text):
            n = len(piece)
            self._fewest += 1
            self._estimate += (n + 3) // 4 if n > 1 else 1

    @property
    def fewest(self) -> int:
        return self._fewest + (1 if self._carry else 0)

    @property
    def estimate(self) -> int:
        return self._estimate + (len(self._carry) + 3) // 4
