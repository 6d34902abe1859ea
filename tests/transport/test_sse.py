"""The incremental SSE parser against every framing rule, with bytes cut at every position."""

from __future__ import annotations

import pytest

from lunos_integrations.errors import WireFormatError
from lunos_integrations.transport.sse import SSEEvent, SSELineTooLongError, SSEParser


def parse_in_pieces(raw: bytes, size: int) -> list[SSEEvent]:
    parser = SSEParser()
    events: list[SSEEvent] = []
    for i in range(0, len(raw), size):
        events.extend(parser.feed(raw[i : i + size]))
    events.extend(parser.close())
    return events


STREAM = (
    b'event: message_start\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
    b": keep-alive comment\r"
    b"id: 7\rdata: caf\xc3\xa9 \xe2\x9c\x93\r\r"
    b"data:no-space\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a":\n1}', "message_start", None),
    SSEEvent("café ✓", None, "7"),
    SSEEvent("no-space", None, "7"),
    SSEEvent("[DONE]", None, "7"),
]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_any_split_gives_the_same_events(size: int) -> None:
    assert parse_in_pieces(STREAM, size) == EXPECTED


def test_every_single_cut_position() -> None:
    for cut in range(1, len(STREAM)):
        parser = SSEParser()
        events = parser.feed(STREAM[:cut]) + parser.feed(STREAM[cut:]) + parser.close()
        assert events == EXPECTED, cut


def test_lf_crlf_and_cr_framings_are_equivalent() -> None:
    body = "data: x\n\ndata: y\n\n"
    for ending in ("\n", "\r\n", "\r"):
        raw = body.replace("\n", ending).encode()
        assert [e.data for e in parse_in_pieces(raw, 1)] == ["x", "y"], repr(ending)


def test_comment_only_and_blank_events_dispatch_nothing() -> None:
    assert parse_in_pieces(b": ping\n\n\n\n: another\n\n", 3) == []


def test_event_field_resets_between_events_but_id_persists() -> None:
    events = parse_in_pieces(b"event: a\nid: 1\ndata: 1\n\ndata: 2\n\n", 4)
    assert events == [SSEEvent("1", "a", "1"), SSEEvent("2", None, "1")]


def test_final_event_without_blank_line_is_flushed_on_close() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert parser.close() == [SSEEvent("[DONE]")]


def test_stream_cut_inside_a_utf8_character_raises_on_close() -> None:
    parser = SSEParser()
    parser.feed("data: é".encode()[:-1])
    with pytest.raises(WireFormatError, match="inside a UTF-8 character"):
        parser.close()


def test_unknown_fields_and_retry_are_ignored() -> None:
    assert parse_in_pieces(b"retry: 10\nfoo: bar\ndata: z\n\n", 2) == [SSEEvent("z")]


def test_field_values_lose_exactly_one_leading_space() -> None:
    raw = b"event:a\ndata:  two\n\nevent:  b\ndata:x\n\n"
    assert parse_in_pieces(raw, 3) == [SSEEvent(" two", "a"), SSEEvent("x", " b")]


def test_invalid_utf8_inside_a_chunk_raises_instead_of_being_replaced() -> None:
    parser = SSEParser()
    with pytest.raises(WireFormatError, match=r"not valid UTF-8"):
        parser.feed(b"data: \xff\xfe\n\n")


def test_many_cut_characters_in_a_row_decode_like_the_whole_stream() -> None:
    # Every chunk ends inside a multi-byte character, so the plain-decode fast path and the
    # incremental decoder must hand over to each other on every feed.
    text = "".join(f"data: {'é✓😀' * (i % 5 + 1)} {i}\n\n" for i in range(60))
    raw = text.encode()
    whole = parse_in_pieces(raw, len(raw))
    assert [e.data for e in whole] == [f"{'é✓😀' * (i % 5 + 1)} {i}" for i in range(60)]
    for size in (2, 3, 5, 11, 13, 97):
        assert parse_in_pieces(raw, size) == whole, size


def test_a_line_longer_than_max_line_is_refused_with_the_limit_named() -> None:
    parser = SSEParser(max_line=100)
    parser.feed(b"data: " + b"x" * 60)
    with pytest.raises(SSELineTooLongError, match="line limit of 100") as info:
        parser.feed(b"y" * 60)
    assert info.value.limit == 100


def test_a_long_line_fed_in_pieces_is_joined_once_and_exactly() -> None:
    payload = "".join(chr(0x41 + i % 26) for i in range(200_000))
    raw = ("data: " + payload + "\r\n\r\n").encode()
    assert parse_in_pieces(raw, 4096) == [SSEEvent(payload)]
    assert parse_in_pieces(raw, 1)[-1:] == [SSEEvent(payload)]


# The comment-flood fast path: a chunk that cannot hold a data/event/id line skips the
# per-line loop; these pin that it changes nothing a full parse would do.


def test_an_event_name_is_cleared_by_a_blank_line_inside_a_comment_only_chunk() -> None:
    parser = SSEParser()
    assert parser.feed(b"event: ping\n") == []
    assert parser.feed(b": keep-alive\n\n: more\n") == []  # the blank line ends "ping"
    assert parser.feed(b"data: x\n\n") == [SSEEvent("x")]


def test_a_field_name_cut_across_chunks_is_not_mistaken_for_a_comment() -> None:
    parser = SSEParser()
    assert parser.feed(b"da") == []
    assert parser.feed(b"ta: x\n: c\n") == []  # "data" only exists once the line is joined
    assert parser.feed(b"\n") == [SSEEvent("x")]
    assert parser.feed(b"ev") == [] and parser.feed(b"ent: e\n: c\n") == []
    assert parser.feed(b"data: y\n\n") == [SSEEvent("y", "e")]


def test_pending_data_is_dispatched_by_a_blank_line_in_a_comment_only_chunk() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: x\n") == []
    assert parser.feed(b": c\n\n") == [SSEEvent("x")]


def test_a_flood_of_comments_yields_nothing_and_keeps_the_next_event_whole() -> None:
    flood = b": pad\n" * 200_000
    events = parse_in_pieces(flood + b"retry: 5\nfoo: bar\n\n" + flood + b"data: done\n\n", 65536)
    assert events == [SSEEvent("done")]
