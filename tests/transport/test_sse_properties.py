"""Property tests: whatever bytes arrive, however they are cut, the SSE layer returns events
or raises one of our typed errors, and never a bare ``UnicodeDecodeError``/``KeyError``/...

Targets: the SSE parser alone (arbitrary bytes, arbitrary chunkings, and the equivalence of
every chunking of a valid stream), and the transport's per-event step (parser + JSON +
terminator/error/ping handling + progress classification) on both stream kinds. The codecs'
own property tests live with them (``wire/``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lunos_integrations.errors import LunosError
from lunos_integrations.transport.replies import StreamEvent
from lunos_integrations.transport.sse import SSEEvent, SSEParser
from lunos_integrations.transport.stream_state import StreamState

EXAMPLES = 400
COUNTS: dict[str, int] = {}


def _cuts(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _parse(pieces: list[bytes], max_line: int = 1 << 20) -> list[SSEEvent]:
    parser = SSEParser(max_line=max_line)
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(parser.feed(piece))
    events.extend(parser.close())
    return events


_FIELD_BYTES = st.sampled_from(
    [b"data: ", b"data:", b"event: ", b"id: ", b": ", b"retry: 5", b"\n", b"\r", b"\r\n", b"\n\n"]
)
_SSE_ISH = st.lists(
    st.one_of(_FIELD_BYTES, st.binary(max_size=12), st.text(max_size=8).map(str.encode)),
    max_size=30,
).map(b"".join)


@settings(max_examples=EXAMPLES, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), _SSE_ISH), cuts=st.lists(st.integers(0, 400)))
def test_arbitrary_bytes_give_events_or_a_typed_error(data: bytes, cuts: list[int]) -> None:
    COUNTS["parser, arbitrary bytes"] = COUNTS.get("parser, arbitrary bytes", 0) + 1
    try:
        events = _parse(_cuts(data, cuts), max_line=64)
    except LunosError:
        return
    assert all(isinstance(e, SSEEvent) and isinstance(e.data, str) for e in events)


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    events=st.lists(st.tuples(st.one_of(st.none(), _TEXT), _TEXT), min_size=1, max_size=8),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(0, 2000), max_size=20),
)
def test_every_chunking_of_a_valid_stream_gives_the_same_events(
    events: list[tuple[str | None, str]], ending: str, cuts: list[int]
) -> None:
    COUNTS["parser, chunkings of valid streams"] = (
        COUNTS.get("parser, chunkings of valid streams", 0) + 1
    )
    text = ""
    for name, data in events:
        if name is not None:
            text += f"event: {name}{ending}"
        text += f"data: {data}{ending}{ending}"
    raw = text.encode()
    whole = _parse([raw])
    assert _parse(_cuts(raw, cuts)) == whole
    assert _parse([raw[i : i + 1] for i in range(len(raw))]) == whole
    assert [e.data for e in whole] == [d for _, d in events]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_KEYS = ["choices", "delta", "content", "usage", "error", "type", "finish_reason", "index"]
_SHAPED = st.recursive(
    st.none() | st.integers() | st.text(max_size=6) | st.sampled_from(["[DONE]", "ping", "error"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)
    ),
    max_leaves=15,
)


def _decode_all(kind: Any, events: list[SSEEvent]) -> list[StreamEvent]:
    state = StreamState(kind, None, "POST /test")
    out = []
    for ev in events:
        decoded = state.decode(ev)
        if decoded is not None:
            out.append(decoded)
            assert isinstance(state.progress, bool)
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["chat", "messages"]),
    payloads=st.lists(st.one_of(_JSON, _SHAPED), max_size=6),
    names=st.lists(
        st.one_of(st.none(), st.sampled_from(["ping", "error", "message_stop", "x"])), max_size=6
    ),
    junk=st.lists(st.text(max_size=10), max_size=2),
)
def test_stream_events_decode_or_raise_typed(
    kind: str, payloads: list[Any], names: list[str | None], junk: list[str]
) -> None:
    COUNTS[f"transport events, {kind}"] = COUNTS.get(f"transport events, {kind}", 0) + 1
    events = [
        SSEEvent(json.dumps(p), names[i] if i < len(names) else None)
        for i, p in enumerate(payloads)
    ] + [SSEEvent(j) for j in junk]
    with contextlib.suppress(LunosError):
        _decode_all(kind, events)


def test_deep_nesting_in_an_event_is_a_typed_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for kind in ("chat", "messages"):
        try:
            _decode_all(kind, [SSEEvent(deep)])
        except LunosError as exc:
            assert "nested deeper" in str(exc)
        else:
            raise AssertionError("a 100,000-deep event was accepted")


def test_examples_ran_for_every_target() -> None:
    """Runs last in this module: the property tests above really generated examples."""
    if not COUNTS:  # run alone (-k): nothing to check
        return
    for target, count in COUNTS.items():
        print(f"hypothesis examples, {target}: {count}")  # shown with -s
        assert count >= 50, (target, count)
