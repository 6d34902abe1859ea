"""Incremental server-sent-events parser.

Bytes arrive in arbitrary pieces: a JSON object, a line ending (CR LF split in two) or a
multi-byte UTF-8 character may be cut anywhere. The parser keeps the undecided tail and
only emits complete events, following the WHATWG event-stream rules: LF, CRLF and CR line
endings, several ``data:`` lines joined with ``\\n``, ``event:`` / ``id:`` fields, comment
lines starting with ``:`` ignored, one optional space after the colon removed.

It is on the per-chunk hot path of every stream, so it works on whole lines with
``str.split`` rather than character by character.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from ..errors import WireFormatError


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event. ``event`` is ``None`` when no ``event:`` field was given."""

    data: str
    event: str | None = None
    id: str | None = None


#: Longest line the parser holds before giving up (characters); the transport passes its
#: response-size limit instead. A line is held until its newline arrives, so without a cap
#: a server that never sends one would grow the buffer without end.
DEFAULT_MAX_LINE = 64 * 1024 * 1024


class SSELineTooLongError(WireFormatError):
    """A line grew past the parser's ``max_line`` before its newline arrived."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class SSEParser:
    """Feed bytes with :meth:`feed`; it returns the events completed by those bytes.

    Work is linear in the bytes fed, however they are cut: a line that is not finished yet
    is kept as a list of pieces and joined once, when its newline arrives, so a 50 MB line
    fed 64 KiB at a time is copied twice, not once per piece. Bytes that are not UTF-8 and
    lines longer than ``max_line`` characters raise :class:`~lunos_integrations.errors.
    WireFormatError` (a typed error), never a bare ``UnicodeDecodeError``.
    """

    __slots__ = (
        "_data",
        "_decoder",
        "_event",
        "_id",
        "_max_line",
        "_pending_bytes",
        "_pending_cr",
        "_pieces",
        "_pieces_len",
    )

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._pending_bytes = False  # True while the decoder holds a cut character
        self._pieces: list[str] = []  # the unfinished line, in the pieces it arrived in
        self._pieces_len = 0
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._max_line = max_line

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not self._pending_bytes:
            # Almost every network chunk holds whole characters: a plain decode is ~5x
            # cheaper than the incremental decoder, which is only needed around a cut.
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                return self._feed_text(text)
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise WireFormatError(
                f"the event stream is not valid UTF-8 (bytes {exc.object[exc.start : exc.end]!r} "
                f"in {exc.object[max(0, exc.start - 20) : exc.end + 20]!r}): {exc.reason}"
            ) from None
        self._pending_bytes = bool(self._decoder.getstate()[0])
        return self._feed_text(text)

    def _too_long(self, size: int) -> SSELineTooLongError:
        return SSELineTooLongError(
            f"an event-stream line reached {size:,} characters without a line break, more "
            f"than the line limit of {self._max_line:,}",
            limit=self._max_line,
        )

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._pending_cr:
            # A CR ended the previous piece; a LF starting this one belongs to it.
            if text[0] == "\n":
                text = text[1:]
            self._pending_cr = False
        if "\r" in text:
            if text[-1] == "\r":
                self._pending_cr = True
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            # Only the new text is scanned; the unfinished line grows as a list of pieces.
            size = self._pieces_len + len(text)
            if size > self._max_line:
                raise self._too_long(size)
            self._pieces.append(text)
            self._pieces_len = size
            return []
        lines = text.split("\n")
        tail = lines.pop()
        if len(text) > self._max_line:  # rare: only then can a line inside it be too long
            longest = max(len(tail), max(map(len, lines), default=0))
            if longest > self._max_line:
                raise self._too_long(longest)
        pieces = self._pieces
        if pieces:
            size = self._pieces_len + len(lines[0])
            if size > self._max_line:
                raise self._too_long(size)
            pieces.append(lines[0])
            lines[0] = "".join(pieces)
            pieces.clear()
            self._pieces_len = 0
        if tail:  # (longer than the limit only if text was, checked above)
            pieces.append(tail)
            self._pieces_len = len(tail)
        data = self._data  # cleared in place: one list per parser, not one per event
        if not data and _only_ignored(text) and _only_ignored(lines[0]):
            # Keep-alive comments, blank lines, "retry:" and unknown fields only: no event
            # can complete, and a blank line can only clear the event name. Decided with a
            # few substring scans instead of a Python step per line, so a flood of
            # comments (a keep-alive storm, or a compressed bomb of them) costs little.
            if "" in lines:
                self._event = None
            return []
        events: list[SSEEvent] = []
        for line in lines:
            if not line:
                if data:
                    events.append(SSEEvent("\n".join(data), self._event, self._id))
                    data.clear()
                self._event = None
                continue
            if line[:6] == "data: ":  # the common line, decided without partition()
                data.append(line[6:])
                continue
            if line[:7] == "event: ":
                self._event = line[7:]
                continue
            if line[0] == ":":
                continue
            name, sep, value = line.partition(":")
            if sep and value[:1] == " ":
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id" and "\0" not in value:
                self._id = value
            # "retry" and unknown fields are ignored, as the spec says.
        return events

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream: a final event without its blank line is still emitted.

        The spec would discard it; we emit it so the caller can decide (a terminator that
        arrived without the final blank line still proves the stream completed). A
        multi-byte character cut by the end of the stream raises :class:`WireFormatError`.
        """
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise WireFormatError(
                "the event stream ended inside a UTF-8 character (it was cut short)"
            ) from None
        events: list[SSEEvent] = []
        if self._pieces:
            line = "".join(self._pieces)
            self._pieces.clear()
            self._pieces_len = 0
            events.extend(self._feed_text(line + "\n"))
        if self._data:
            events.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data.clear()
            self._event = None
        return events


def _only_ignored(text: str) -> bool:
    """True when ``text`` cannot hold a ``data``, ``event`` or ``id`` field line."""
    return "data" not in text and "event" not in text and "id" not in text
