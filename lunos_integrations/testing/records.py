"""What the local server keeps of each request it received, for tests to assert on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .scripting import Action

__all__ = ["RecordedRequest", "peak_concurrency"]


@dataclass
class RecordedRequest:
    """One request as the server received it (header names lower-cased).

    ``json`` is the parsed body, or ``None`` when the body is empty or not JSON.
    ``action`` is the scripted action this request consumed, if any. ``connection``
    numbers the TCP connection it arrived on (1, 2, ... in accept order), so tests can
    tell which requests shared a keep-alive connection.

    Times are the server's own, so tests can measure a client's waits where they happen
    rather than around a call that shares the machine with other work: ``arrived`` is
    :func:`time.monotonic` when the request had been read whole (``arrived_wall`` the same
    instant by :func:`time.time`, for HTTP-date ``Retry-After``), and ``replied`` when the
    whole reply had been handed to the socket (``None`` while it is being sent, or when the
    connection was dropped instead). ``gone`` is when the server noticed that the client
    hung up before the reply was complete (a client timeout, a cancelled call), else
    ``None``: the server polls for that every 20 ms while it delays a reply.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    action: Action | None = None
    connection: int = 0
    arrived: float = 0.0
    arrived_wall: float = 0.0
    replied: float | None = None
    gone: float | None = None


def peak_concurrency(records: list[RecordedRequest]) -> int:
    """The most of ``records`` the server was handling at one instant.

    Each request counts from its arrival until its reply was sent (or the client hung up,
    or, if neither happened yet, until now). Read off the server's clock, so a test can
    tell "two at a time" from "all at once" without timing the client.
    """
    events: list[tuple[float, int]] = []
    for r in records:
        end = r.replied if r.replied is not None else r.gone
        events.append((r.arrived, 1))
        events.append((end if end is not None else float("inf"), -1))
    peak = current = 0
    for _, step in sorted(events):  # at a tie, an end (-1) sorts before a start (+1)
        current += step
        peak = max(peak, current)
    return peak
