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


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event. ``event`` is ``None`` when no ``event:`` field was given."""

    data: str
    event: str | None = None
    id: str | None = None


class SSEParser:
    """Feed bytes with :meth:`feed`; it returns the events completed by those bytes."""

    __slots__ = ("_buffer", "_data", "_decoder", "_event", "_id", "_pending_bytes", "_pending_cr")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._pending_bytes = False  # True while the decoder holds a cut character
        self._buffer = ""
        self._pending_cr = False
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

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
        text = self._decoder.decode(chunk)
        self._pending_bytes = bool(self._decoder.getstate()[0])
        return self._feed_text(text)

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
        if self._buffer:
            text = self._buffer + text
        if "\n" not in text:
            self._buffer = text
            return []
        lines = text.split("\n")
        self._buffer = lines.pop()
        events: list[SSEEvent] = []
        data = self._data  # cleared in place: one list per parser, not one per event
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
        multi-byte character cut by the end of the stream raises ``UnicodeDecodeError``.
        """
        self._decoder.decode(b"", final=True)
        events: list[SSEEvent] = []
        if self._buffer:
            line = self._buffer
            self._buffer = ""
            events.extend(self._feed_text(line + "\n"))
        if self._data:
            events.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data.clear()
            self._event = None
        return events
