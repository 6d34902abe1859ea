"""Decoding half of the chat-completions codec: replies, stream chunks, usage.

Kept apart from the encoder (:mod:`.chat_completions` re-exports everything here) so each
module stays readable. Every value is read through the strict helpers of :mod:`._common`:
whatever JSON a server sends, the result is either a valid neutral object or a
:class:`~lunos_integrations.errors.WireFormatError` that names the route, the field and what
arrived. JSON ``null`` always means "absent".

Real servers differ from the OpenAI reference in ways that are *not* errors, and those are
read as they mean: ``tool_calls`` fragments without ``index`` (matched to calls by id, else
by position — see :class:`ChunkDecoder`), the finish reason arriving on a later, empty
chunk, usage on a chunk that also carries content, ``finish_reason: ""`` for "not yet".
"""

from __future__ import annotations

from typing import Any

from ..errors import WireFormatError
from ._common import (
    describe,
    dumps_received,
    to_float,
    want_count,
    want_dict,
    want_list,
    want_number,
    want_str,
    wrong_type,
)
from .citations import decode_annotations
from .tool_args import parse_tool_arguments
from .types import (
    ChatDelta,
    ChatResult,
    InvalidToolCall,
    ReasoningPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["ChunkDecoder", "decode_chunk", "decode_response", "decode_usage"]

_REPLY = "Chat completion response"
_CHUNK = "Chat completion stream chunk"
_TEXT_PARTS = (None, "text", "output_text")
_CHUNK_USAGE = f"{_CHUNK} usage"
_CHUNK_DELTA = f"{_CHUNK} choices[0].delta"
_CHUNK_MESSAGE = f"{_CHUNK} choices[0].message"


# ============================================================================ usage


def decode_usage(obj: Any, where: str = "usage") -> Usage | None:
    """Neutral usage from an OpenAI-style ``usage`` object (``None`` when absent or empty).

    Counts may be ints, whole floats or numeric strings; ``cost`` that is not a number
    (``"n/a"``) is treated as unknown. Counts of any other type are a ``WireFormatError``.
    """
    obj = want_dict(obj, where)
    if not obj:
        return None
    get = obj.get
    prompt = want_count(get("prompt_tokens"), f"{where}.prompt_tokens")
    if prompt is None:
        prompt = want_count(get("input_tokens"), f"{where}.input_tokens")
    completion = want_count(get("completion_tokens"), f"{where}.completion_tokens")
    if completion is None:
        completion = want_count(get("output_tokens"), f"{where}.output_tokens")
    total = want_count(get("total_tokens"), f"{where}.total_tokens")
    cost = _cost(get("cost"), f"{where}.cost")
    if prompt is None and completion is None and total is None and cost is None:
        return None
    prompt = prompt or 0
    completion = completion or 0
    if total is None:
        total = prompt + completion

    cache_read = cache_creation = reasoning = 0
    ptd = want_dict(
        get("prompt_tokens_details") or get("input_tokens_details"),
        f"{where}.prompt_tokens_details",
    )
    if ptd:
        here = f"{where}.prompt_tokens_details"
        cache_read = want_count(ptd.get("cached_tokens"), f"{here}.cached_tokens") or 0
        for key in ("cache_write_tokens", "cache_creation_input_tokens", "cache_creation_tokens"):
            cache_creation = want_count(ptd.get(key), f"{here}.{key}") or 0
            if cache_creation:
                break
    if not cache_creation:
        key = "cache_creation_input_tokens"
        cache_creation = want_count(get(key), f"{where}.{key}") or 0
    ctd = want_dict(
        get("completion_tokens_details") or get("output_tokens_details"),
        f"{where}.completion_tokens_details",
    )
    if ctd:
        here = f"{where}.completion_tokens_details.reasoning_tokens"
        reasoning = want_count(ctd.get("reasoning_tokens"), here) or 0
    return Usage(
        input_tokens=prompt,
        output_tokens=completion,
        total_tokens=total,
        cache_read_tokens=cache_read,
        cache_creation_tokens=cache_creation,
        reasoning_tokens=reasoning,
        cost=cost,
    )


def _cost(value: Any, where: str) -> float | None:
    if isinstance(value, str):
        return to_float(value)  # "n/a" and friends: unknown, not malformed
    return want_number(value, where)


# ============================================================================ replies


def decode_response(body: Any) -> ChatResult:
    """Decode a non-streamed chat completion into a :class:`ChatResult` (``raw=body``).

    A reply without a message object (``"message": null``, or a choice with neither a
    message nor legacy ``text``) is malformed, not an empty answer: ``WireFormatError``.
    An empty ``content`` with a finish reason is a valid empty answer.
    """
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
    legacy_text = choice.get("text")
    if message is None and isinstance(legacy_text, str):
        message = {"content": legacy_text}  # legacy completion-style choice
    if not isinstance(message, dict):
        what = "no 'message'" if "message" not in choice else f"'message': {describe(message, 80)}"
        raise WireFormatError(
            f"{_REPLY} choices[0] has {what}; a reply needs a message object (even an empty "
            f"answer has one). Body: {describe(body)}"
        )
    where = f"{_REPLY} choices[0].message"
    text = _content_text(message.get("content"), f"{where}.content")

    tool_calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    raw_calls = want_list(message.get("tool_calls"), f"{where}.tool_calls")
    for k, tc in enumerate(raw_calls or ()):
        here = f"{where}.tool_calls[{k}]"
        tc = want_dict(tc, here)
        if tc is None:
            raise wrong_type(here, "an object", tc)
        fn = want_dict(tc.get("function"), f"{here}.function") or {}
        _add_call(
            parse_tool_arguments(
                want_str(tc.get("id"), f"{here}.id"),
                want_str(fn.get("name"), f"{here}.function.name"),
                fn.get("arguments"),
            ),
            tool_calls,
            invalid,
        )
    legacy = want_dict(message.get("function_call"), f"{where}.function_call")
    if not raw_calls and legacy:
        _add_call(
            parse_tool_arguments(
                None,
                want_str(legacy.get("name"), f"{where}.function_call.name"),
                legacy.get("arguments"),
            ),
            tool_calls,
            invalid,
        )

    reasoning: list[ReasoningPart] = []
    r_text, r_details = _reasoning_fields(message, where)
    if r_text or r_details:
        reasoning.append(ReasoningPart(text=r_text, details=r_details))

    usage = decode_usage(body.get("usage"), f"{_REPLY} usage")
    if usage is None and isinstance(wrapped, dict):
        usage = decode_usage(wrapped.get("usage"), f"{_REPLY} data.usage")

    return ChatResult(
        text=text,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        reasoning=reasoning,
        finish_reason=_finish(choice.get("finish_reason"), f"{_REPLY} choices[0].finish_reason"),
        usage=usage,
        id=want_str(body.get("id"), f"{_REPLY} id"),
        model=want_str(body.get("model"), f"{_REPLY} model"),
        provider=want_str(body.get("provider"), f"{_REPLY} provider"),
        system_fingerprint=want_str(body.get("system_fingerprint"), f"{_REPLY} system_fingerprint"),
        images=_images(message.get("images"), f"{where}.images"),
        citations=decode_annotations(message.get("annotations"), f"{where}.annotations"),
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
    elif isinstance(choices, dict):
        what = "'choices' that is an object, not an array"
    else:
        what = f"'choices' of an unexpected shape ({describe(choices, 80)})"
    msg = f"{_REPLY} has {what}"
    err = body.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"]:
        msg += f"; the body carries an error: {err['message']}"
    elif isinstance(err, str):
        msg += f"; the body carries an error: {err}"
    return f"{msg}. Body: {describe(body)}"


def _finish(value: Any, where: str) -> str | None:
    """The finish reason; ``""`` (sent by some servers for "not yet") means none."""
    return want_str(value, where) or None


def _content_text(content: Any, where: str) -> str:
    """Text of a ``content`` string or part list; non-text parts (refusal...) are skipped."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise wrong_type(where, "a string or an array of parts", content)
    out = []
    for j, part in enumerate(content):
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict):
            kind = want_str(part.get("type"), f"{where}[{j}].type")
            if kind in _TEXT_PARTS:
                t = want_str(part.get("text"), f"{where}[{j}].text")
                if t:
                    out.append(t)
        else:
            raise wrong_type(f"{where}[{j}]", "a string or an object", part)
    return "".join(out)


def _reasoning_fields(src: dict[str, Any], where: str) -> tuple[str, list[dict[str, Any]] | None]:
    """Reasoning text and details from a message or delta.

    Text comes from ``reasoning_content`` or ``reasoning`` (the first non-empty string);
    only when both are absent is it rebuilt from the ``text``/``summary`` of the
    ``reasoning_details`` entries, so the same thought is never counted twice.
    """
    text = want_str(src.get("reasoning_content"), f"{where}.reasoning_content")
    if not text:
        text = want_str(src.get("reasoning"), f"{where}.reasoning") or ""
    details = want_list(src.get("reasoning_details"), f"{where}.reasoning_details")
    if not details:
        return text, None
    for j, d in enumerate(details):
        if not isinstance(d, dict):
            raise wrong_type(f"{where}.reasoning_details[{j}]", "an object", d)
    if not text:
        pieces = []
        for d in details:
            piece = d.get("text")
            if not isinstance(piece, str):
                piece = d.get("summary")
            if isinstance(piece, str):
                pieces.append(piece)
        text = "".join(pieces)
    return text, details


def _images(raw: Any, where: str) -> list[str]:
    raw = want_list(raw, where)
    urls = []
    for j, item in enumerate(raw or ()):
        if isinstance(item, str):
            urls.append(item)
        elif isinstance(item, dict):
            inner = item.get("image_url")
            here = f"{where}[{j}].image_url.url" if isinstance(inner, dict) else f"{where}[{j}].url"
            url = want_str(inner.get("url") if isinstance(inner, dict) else item.get("url"), here)
            if url:
                urls.append(url)
        else:
            raise wrong_type(f"{where}[{j}]", "a string or an object", item)
    return urls


# ============================================================================ stream chunks


def decode_chunk(obj: Any) -> ChatDelta:
    """Decode one ``data:`` payload of a chat-completions stream into a :class:`ChatDelta`.

    Stateless: a tool-call fragment without ``index`` gets its position in the chunk. Use
    :class:`ChunkDecoder` (one per stream) to match such fragments across chunks.
    """
    delta, _ = _decode_chunk(obj)
    return delta


def _decode_chunk(obj: Any) -> tuple[ChatDelta, list[bool] | None]:
    """The delta, and per tool-call fragment whether the server gave its ``index``.

    Runs once per chunk, so it only allocates what the chunk actually carries.
    """
    if type(obj) is not dict:
        raise WireFormatError(
            f"Expected a chat completion chunk JSON object, got {type(obj).__name__}: "
            f"{describe(obj)}"
        )
    get = obj.get
    # Hot path: one check per field, error strings built only when something is wrong.
    cid = get("id")
    model = get("model")
    provider = get("provider")
    fingerprint = get("system_fingerprint")
    if (
        (cid is not None and type(cid) is not str)
        or (model is not None and type(model) is not str)
        or (provider is not None and type(provider) is not str)
        or (fingerprint is not None and type(fingerprint) is not str)
    ):
        _bad_metadata(obj)
    delta = ChatDelta(id=cid, model=model, provider=provider, system_fingerprint=fingerprint)
    usage = get("usage")
    if usage is not None:
        delta.usage = decode_usage(usage, _CHUNK_USAGE)
    choices = get("choices")
    if not choices:
        if choices is not None and type(choices) is not list:
            raise wrong_type(f"{_CHUNK} choices", "an array", choices)
        return delta, None
    if type(choices) is not list:
        raise wrong_type(f"{_CHUNK} choices", "an array", choices)
    choice = choices[0]
    if type(choice) is not dict:
        raise wrong_type(f"{_CHUNK} choices[0]", "an object", choice)
    d = choice.get("delta")
    where = _CHUNK_DELTA
    if d is None:
        d = choice.get("message")  # some servers send a full message on the last chunk
        where = _CHUNK_MESSAGE
    if d is not None and type(d) is not dict:
        raise wrong_type(where, "an object", d)
    finish = choice.get("finish_reason")
    if finish is not None:
        if type(finish) is not str:
            raise wrong_type(f"{_CHUNK} choices[0].finish_reason", "a string", finish)
        delta.finish_reason = finish or None  # "" is "not yet" on some servers
    if not d:
        return delta, None

    content = d.get("content")
    if content:
        delta.text = content if type(content) is str else _content_text(content, f"{where}.content")
    elif content is not None and type(content) not in (str, list):
        raise wrong_type(f"{where}.content", "a string or an array of parts", content)
    if "reasoning_content" in d or "reasoning" in d or "reasoning_details" in d:
        r_text, r_details = _reasoning_fields(d, where)
        delta.reasoning_text = r_text
        delta.reasoning_details = r_details
    given: list[bool] | None = None
    raw_calls = d.get("tool_calls")
    if raw_calls:
        if type(raw_calls) is not list:
            raise wrong_type(f"{where}.tool_calls", "an array", raw_calls)
        calls = delta.tool_calls
        given = []
        for pos, tc in enumerate(raw_calls):
            calls.append(_tool_fragment(tc, pos, where, given))
    elif raw_calls is not None and type(raw_calls) is not list:
        raise wrong_type(f"{where}.tool_calls", "an array", raw_calls)
    images = d.get("images")
    if images:
        delta.images = _images(images, f"{where}.images")
    elif images is not None and type(images) is not list:
        raise wrong_type(f"{where}.images", "an array", images)
    annotations = d.get("annotations")
    if annotations is not None:
        delta.citations = tuple(decode_annotations(annotations, f"{where}.annotations"))
    return delta, given


def _bad_metadata(obj: dict[str, Any]) -> None:
    for key in ("id", "model", "provider", "system_fingerprint"):
        want_str(obj.get(key), f"{_CHUNK} {key}")


def _tool_fragment(tc: Any, pos: int, base: str, given: list[bool]) -> ToolCallDelta:
    if type(tc) is not dict:
        raise wrong_type(f"{base}.tool_calls[{pos}]", "an object", tc)
    index = tc.get("index")
    if index is None:
        given.append(False)
        index = pos
    elif type(index) is not int or index < 0:
        raise wrong_type(f"{base}.tool_calls[{pos}].index", "a non-negative integer", index)
    else:
        given.append(True)
    name = None
    args: Any = ""
    fn = tc.get("function")
    if fn is not None:
        if type(fn) is not dict:
            raise wrong_type(f"{base}.tool_calls[{pos}].function", "an object", fn)
        name = fn.get("name")
        if name is not None and type(name) is not str:
            raise wrong_type(f"{base}.tool_calls[{pos}].function.name", "a string", name)
        args = fn.get("arguments")
        if args is None:
            args = ""
        elif type(args) is dict:
            # a server that sends arguments already decoded
            args = dumps_received(args, f"{base}.tool_calls[{pos}].function.arguments")
        elif type(args) is not str:
            raise wrong_type(f"{base}.tool_calls[{pos}].function.arguments", "a string", args)
    call_id = tc.get("id")
    if call_id is not None and type(call_id) is not str:
        raise wrong_type(f"{base}.tool_calls[{pos}].id", "a string", call_id)
    return ToolCallDelta(index=index, id=call_id, name=name, arguments=args)


class ChunkDecoder:
    """Stateful :func:`decode_chunk` for one stream: gives index-less tool calls an index.

    Some OpenAI-compatible servers omit ``index`` on streamed tool-call fragments. Such a
    fragment is placed by what it does carry: an ``id`` already seen continues that call;
    a new ``id`` starts a new call (after every index used so far); a fragment with neither
    continues the call the previous fragment belonged to. Fragments that do carry ``index``
    are used as sent (and teach the decoder their ids), so mixed streams stay consistent.
    """

    __slots__ = ("_by_id", "_last", "_next")

    def __init__(self) -> None:
        self._by_id: dict[str, int] = {}
        self._last: int | None = None
        self._next = 0

    def feed(self, obj: Any) -> ChatDelta:
        """Decode one chunk (the parsed ``data:`` JSON)."""
        delta, given = _decode_chunk(obj)
        if given is None:
            return delta
        for frag, has_index in zip(delta.tool_calls, given, strict=True):
            if not has_index:
                frag.index = self._place(frag.id)
            elif frag.id and frag.id not in self._by_id:
                self._by_id[frag.id] = frag.index
            self._last = frag.index
            self._next = max(self._next, frag.index + 1)
        return delta

    def _place(self, call_id: str | None) -> int:
        if call_id:
            known = self._by_id.get(call_id)
            if known is not None:
                return known
            index = self._next
            self._by_id[call_id] = index
            return index
        if self._last is not None:
            return self._last
        return self._next
