"""A minimal HTTP/1.1 request reader and response head writer on asyncio streams.

Why hand-written: the package must import fast and depend on the stdlib only, and the fault
injection (RST after headers, K-byte writes, chunked bodies cut mid-stream) needs direct
control over every byte on the socket, which framework servers hide.

Supported: request line, headers, ``Content-Length`` and ``Transfer-Encoding: chunked``
request bodies, ``Expect: 100-continue``, keep-alive (HTTP/1.1 default) and ``Connection:
close``. Not supported: pipelining guarantees beyond in-order processing, trailers, upgrades.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024


class BadRequest(Exception):
    """The bytes on the wire are not a valid HTTP/1.1 request."""


@dataclass
class HTTPRequest:
    """A parsed request; header names are lower-cased."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    version: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> HTTPRequest | None:
    """Read one request; ``None`` on a clean EOF between requests."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise BadRequest("incomplete request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    lines = head.decode("latin-1").split("\r\n")
    while lines and not lines[0]:
        lines.pop(0)  # tolerate stray CRLFs between requests
    if not lines:
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    body = await _read_body(reader, headers)
    split = urlsplit(target)
    query: dict[str, str] = {}
    for key, value in parse_qsl(split.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    return HTTPRequest(
        method=method.upper(),
        target=target,
        path=unquote(split.path) or "/",
        query=query,
        version=version,
        headers=headers,
        body=body,
    )


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await _read_chunked(reader)
        length_text = headers.get("content-length")
        if length_text is None:
            return b""
        if not length_text.isdigit():
            raise BadRequest("bad Content-Length")
        length = int(length_text)
        if length > MAX_BODY:
            raise BadRequest("body too large")
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise BadRequest("incomplete body") from exc


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError as exc:
            raise BadRequest("bad chunk size") from exc
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # skip trailers
            return b"".join(chunks)
        total += size
        if total > MAX_BODY:
            raise BadRequest("body too large")
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise BadRequest("missing CRLF after chunk")


def response_head(
    status: int,
    headers: list[tuple[str, str]],
) -> bytes:
    """Status line plus headers plus the blank line."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One ``Transfer-Encoding: chunked`` chunk (empty data is the terminal chunk)."""
    return f"{len(data):X}\r\n".encode() + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"
