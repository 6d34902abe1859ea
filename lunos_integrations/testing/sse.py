"""Server-Sent Events frames, kept structured until the last moment.

Why structured: stream faults (truncate before the terminator, inject an error event after N
events, interleave comments, CRLF framing) operate on whole events, so the server keeps a
list of :class:`SSEFrame` objects and only encodes them to bytes when writing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

_FRAME_PREFIXES = ("data:", "event:", ":", "id:", "retry:")


@dataclass(frozen=True)
class SSEFrame:
    """One SSE event: optional ``event:`` name and a ``data:`` payload, or verbatim bytes."""

    data: str | None = None
    event: str | None = None
    raw: bytes | None = None
    terminator: bool = False
    """True for the frame that ends a well-formed stream (``[DONE]`` / ``message_stop``)."""

    def encode(self, crlf: bool = False) -> bytes:
        """Wire bytes; ``crlf`` uses ``\\r\\n`` line endings (raw frames are sent verbatim)."""
        if self.raw is not None:
            return self.raw
        nl = "\r\n" if crlf else "\n"
        lines: list[str] = []
        if self.event is not None:
            lines.append(f"event: {self.event}")
        for line in (self.data or "").split("\n"):
            lines.append(f"data: {line}")
        return (nl.join(lines) + nl + nl).encode("utf-8")


def json_frame(payload: Any, event: str | None = None, terminator: bool = False) -> SSEFrame:
    """A frame whose data is compact JSON."""
    return SSEFrame(
        data=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        event=event,
        terminator=terminator,
    )


def comment_frame(text: str = "keep-alive", crlf: bool = False) -> bytes:
    """An SSE comment line (ignored by conforming parsers)."""
    nl = "\r\n" if crlf else "\n"
    return f": {text}{nl}{nl}".encode()


def frame_from_user(item: str | bytes | dict[str, Any]) -> SSEFrame:
    """Interpret one item of a scripted ``StreamReply``.

    A ``dict`` is sent as ``data: <json>``; a ``str``/``bytes`` that already looks like a
    frame (starts with ``data:``, ``event:``, ``:``, ``id:`` or ``retry:``) is sent verbatim
    (a missing blank-line terminator is added); any other text is a payload wrapped as
    ``data: <text>``.
    """
    if isinstance(item, dict):
        return json_frame(item)
    text = item.decode("utf-8", errors="surrogateescape") if isinstance(item, bytes) else item
    if text.startswith(_FRAME_PREFIXES):
        raw = item if isinstance(item, bytes) else item.encode("utf-8")
        if not raw.endswith((b"\n\n", b"\r\n\r\n")):
            raw += b"\n\n" if not raw.endswith(b"\n") else b"\n"
        is_done = text.strip() == "data: [DONE]"
        return SSEFrame(raw=raw, terminator=is_done)
    return SSEFrame(data=text, terminator=text.strip() == "[DONE]")
