"""Reading response bodies within a size limit and a deadline.

Two rules hold whatever the server sends:

* **Size is counted after decompression, while reading.** A 1 MB gzip body can inflate to
  1 GiB; httpx inflates each network chunk in one go, without an output cap. Here gzip and
  deflate are inflated by us in pieces of at most :data:`PIECE` bytes, each counted against
  ``max_response_bytes`` before the next is produced, so a bomb is refused after at most
  the limit plus one piece. We only ask for ``gzip, deflate`` (see ``ACCEPT_ENCODING``); a
  body in an encoding we did not ask for (``br``, ``zstd``, ...) is refused rather than
  inflated without a cap.
* **One copy at a time.** A JSON body is read into one ``bytearray`` (no list of chunks
  joined at the end, no ``bytes`` copy of it); the caller frees it once decoded to text.

Errors are the package's typed ones and name the route ("POST /chat/completions") and
what was wrong; ``zlib.error`` and ``httpx.DecodingError`` never escape.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpx

from ..errors import APIResponseValidationError, APITimeoutError, ResponseTooLargeError
from .deadline import Budget
from .http_lib import ASYNC_BYTE_STREAMS, HTTP_OR_LUNOS_ERRORS, SYNC_BYTE_STREAMS

#: What we tell servers we can decode: only what :class:`_Inflater` inflates with a cap.
ACCEPT_ENCODING = "gzip, deflate"
#: Largest piece one inflate step may produce (bytes).
PIECE = 256 * 1024
#: Error bodies are only read for their message: at most this much, the rest is dropped.
ERROR_BODY_LIMIT = 1024 * 1024
#: After a stream's terminator, read at most this much / this long of what is left.
DRAIN_BYTES = 64 * 1024
DRAIN_SECONDS = 0.1


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MiB" if n >= 1024 * 1024 else f"{n:,} bytes"


def too_large(route: str, limit: int, seen: int, status: int = 200) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"The Lunos response to {route} is larger than max_response_bytes={limit:,} "
        f"({_mib(limit)}) once decompressed; reading stopped after {seen:,} bytes and the "
        "connection was closed. If replies this large are expected, raise max_response_bytes "
        "(client argument or LunosConfig field).",
        limit=limit,
        status_code=status,
    )


def deadline_error(route: str, budget: Budget, url: str) -> APITimeoutError:
    return APITimeoutError(
        f"The response to {route} did not arrive in full within {budget.what}: the timeout "
        "bounds the whole attempt (status line, headers and body), however slowly the "
        "server trickles bytes. Raise timeout if answers this slow are expected.",
        url=url,
    )


class _Inflater:
    """gzip / deflate decompression that never produces more than :data:`PIECE` at once."""

    __slots__ = ("_d", "_name", "_raw_fallback")

    def __init__(self, name: str) -> None:
        self._name = name
        self._raw_fallback = name == "deflate"  # "deflate" is zlib-wrapped, or raw in practice
        wbits = zlib.MAX_WBITS | 16 if name in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._d = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._d.decompress(data, PIECE)
            except zlib.error as exc:
                if self._raw_fallback:
                    self._raw_fallback = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise ValueError(f"corrupt {self._name} data ({exc})") from None
            self._raw_fallback = False
            data = self._d.unconsumed_tail
            if out:
                yield out
            if self._d.eof:
                return  # anything after the end of the compressed data is ignored

    def flush(self) -> bytes:
        try:
            return self._d.flush()
        except zlib.error as exc:
            raise ValueError(f"corrupt {self._name} data ({exc})") from None


def inflaters(response: httpx.Response, route: str) -> list[_Inflater]:
    """Decoders for the response's Content-Encoding, outermost last; [] for identity."""
    header = response.headers.get("content-encoding", "")
    if not header or header == "identity":
        return []
    names = [n.strip().lower() for n in header.split(",") if n.strip()]
    out: list[_Inflater] = []
    for name in reversed(names):
        if name == "identity":
            continue
        if name not in ("gzip", "x-gzip", "deflate"):
            raise APIResponseValidationError(
                f"Lunos answered {route} with Content-Encoding {header!r}, which was not asked "
                f"for (Accept-Encoding: {ACCEPT_ENCODING}); it is refused rather than "
                "decompressed without a size cap. A proxy rewriting the response is the usual "
                "cause.",
                status_code=response.status_code,
            )
        out.append(_Inflater(name))
    return out


def _chain(decoders: list[_Inflater], i: int, data: bytes) -> Iterator[bytes]:
    """``data`` through decoders ``i``..end, lazily: one piece in flight per stage."""
    if i == len(decoders):
        if data:
            yield data
        return
    for out in decoders[i].feed(data):
        yield from _chain(decoders, i + 1, out)


def _flush(decoders: list[_Inflater]) -> Iterator[bytes]:
    for i, inflater in enumerate(decoders):
        yield from _chain(decoders, i + 1, inflater.flush())


def _corrupt(route: str, response: httpx.Response, exc: Exception) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"Lunos answered {route} with a body that does not decompress: {exc} "
        f"(Content-Encoding {response.headers.get('content-encoding')!r}). A proxy that "
        "rewrites or cuts responses is the usual cause.",
        status_code=response.status_code,
    )


def decoded(
    raw: Iterable[bytes], decoders: list[_Inflater], response: httpx.Response, route: str
) -> Iterator[bytes]:
    """The decompressed body, in pieces of at most :data:`PIECE` bytes."""
    try:
        for chunk in raw:
            yield from _chain(decoders, 0, chunk)
        yield from _flush(decoders)
    except ValueError as exc:
        raise _corrupt(route, response, exc) from None


async def adecoded(
    raw: AsyncIterator[bytes], decoders: list[_Inflater], response: httpx.Response, route: str
) -> AsyncIterator[bytes]:
    """Async :func:`decoded`."""
    try:
        async for chunk in raw:
            for piece in _chain(decoders, 0, chunk):
                yield piece
        for piece in _flush(decoders):
            yield piece
    except ValueError as exc:
        raise _corrupt(route, response, exc) from None


def raw_chunks(response: httpx.Response) -> Iterator[bytes]:
    """Undecoded body bytes, straight from httpx's transport stream when possible.

    ``iter_raw()`` only adds a chunker, a byte counter and an exception context per chunk,
    ~0.5 µs of a ~25 µs chunk. The caller closes the response.
    """
    stream = response.stream
    if isinstance(stream, SYNC_BYTE_STREAMS):
        return iter(stream)
    return response.iter_raw()


def araw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    stream = response.stream
    if isinstance(stream, ASYNC_BYTE_STREAMS):
        return aiter(stream)
    return response.aiter_raw()


def body_chunks(response: httpx.Response, route: str) -> Iterator[bytes]:
    """Decompressed body pieces (raw chunks when the body is not content-encoded)."""
    decoders = inflaters(response, route)
    raw = raw_chunks(response)
    return decoded(raw, decoders, response, route) if decoders else raw


def abody_chunks(response: httpx.Response, route: str) -> AsyncIterator[bytes]:
    decoders = inflaters(response, route)
    raw = araw_chunks(response)
    return adecoded(raw, decoders, response, route) if decoders else raw


def _declared_too_large(response: httpx.Response, limit: int) -> bool:
    if response.headers.get("content-encoding", "identity") != "identity":
        return False
    declared = response.headers.get("content-length", "")
    return declared.isdigit() and int(declared) > limit


class BodyReader:
    """Accumulates one body under a size limit and a deadline (sync and async share it)."""

    __slots__ = ("attempt", "budget", "buffer", "limit", "response", "route", "truncate", "url")

    def __init__(
        self,
        response: httpx.Response,
        *,
        limit: int,
        budget: Budget,
        route: str,
        url: str,
        truncate: bool = False,
    ) -> None:
        self.response = response
        self.limit = limit
        self.budget = budget
        self.route = route
        self.url = url
        #: Error bodies are cut at the limit instead of refused: only their message matters.
        self.truncate = truncate
        self.buffer = bytearray()
        #: Which attempt of the call this body belongs to (for messages; 1-based).
        self.attempt = 1
        if not truncate and _declared_too_large(response, limit):
            raise too_large(route, limit, 0, response.status_code)

    def add(self, piece: bytes) -> bool:
        """Append a piece; ``False`` once a truncating reader has all it wants."""
        buffer = self.buffer
        room = self.limit - len(buffer)
        if len(piece) > room:
            if self.truncate:
                buffer += piece[:room]
                return False
            raise too_large(
                self.route, self.limit, len(buffer) + len(piece), self.response.status_code
            )
        buffer += piece
        if self.budget.expired():
            raise deadline_error(self.route, self.budget, self.url)
        return True


def read_body(reader: BodyReader) -> bytearray:
    """Read the whole body of ``reader.response`` (sync)."""
    for piece in body_chunks(reader.response, reader.route):
        if not reader.add(piece):
            break
    return reader.buffer


async def aread_body(reader: BodyReader) -> bytearray:
    async for piece in abody_chunks(reader.response, reader.route):
        if not reader.add(piece):
            break
    return reader.buffer


def drain(chunks: Iterator[bytes], budget: Budget) -> None:
    """Read what is left of a finished stream's body, within a small byte *and* time budget.

    Why at all: httpx closes (rather than reuses) a connection whose body was not read to
    the end, and the terminator event is normally followed at once by the end-of-body
    marker, so stopping right at the terminator would cost every streamed call a new TCP
    (and TLS) handshake. Why bounded: a server may keep the body open after the terminator;
    the answer is complete, so the connection is simply closed. Never raises.
    """
    budget.start(DRAIN_SECONDS, f"post-terminator drain of {DRAIN_SECONDS} s")
    seen = 0
    try:
        for chunk in chunks:
            seen += len(chunk)
            if seen > DRAIN_BYTES or budget.expired():
                return
    except HTTP_OR_LUNOS_ERRORS:
        return


async def adrain(chunks: AsyncIterator[bytes], budget: Budget) -> None:
    """Async :func:`drain`."""
    budget.start(DRAIN_SECONDS, f"post-terminator drain of {DRAIN_SECONDS} s")
    seen = 0
    try:
        async for chunk in chunks:
            seen += len(chunk)
            if seen > DRAIN_BYTES or budget.expired():
                return
    except HTTP_OR_LUNOS_ERRORS:
        return


def free_after_decode(content: Any) -> None:
    """Drop a body buffer's bytes once they have been decoded to text (one copy at a time)."""
    if isinstance(content, bytearray):
        del content[:]
