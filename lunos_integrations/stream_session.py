"""One streamed answer's bookkeeping, and the one error for a reply of the wrong shape.

Both are used by :class:`~.client.LunosClient` on its sync and async paths alike, and
need nothing from it but what they are handed (the secrets to scrub, where to report
usage), so they live apart from it.
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import APIResponseValidationError, StreamTruncatedError, WireFormatError, scrub_error
from .redact import Secrets
from .transport.http import StreamEvent
from .wire.types import ChatDelta, ChatRequest, Usage

__all__ = ["StreamSession", "invalid_reply"]


def invalid_reply(
    exc: WireFormatError, secrets: Secrets, status_code: int, request_id: str | None
) -> APIResponseValidationError:
    """The one error for a 2xx reply or stream event of the wrong shape, on every path.

    The codec's message quotes what came back, which may echo the key, so it is scrubbed
    first (the codec error stays attached as the cause). Streamed and whole replies raise
    the same class, with the status and request id, so callers catch one thing.
    """
    scrub_error(exc, secrets)
    return APIResponseValidationError(str(exc), status_code=status_code, request_id=request_id)


class StreamSession:
    """Per-stream bookkeeping shared by :meth:`LunosClient.stream_chat` and its async twin.

    Attaches the request id to the first delta, keeps the usage and reports it to usage
    listeners exactly once, and refuses to call a stream complete when it never said why
    it stopped.

    It also holds back the closing delta that carries unpriced usage (and nothing to
    show: no text, reasoning, tool call or image) until the terminator, via
    :meth:`admit` / :meth:`release`. The client fetches the model catalog only once the
    stream is over, never beside it: some single-slot servers end a running stream when
    any other request arrives (llama-cpp-python's server does, by default), so a catalog
    request of ours would cut the user's answer short. Holding that delta for the few
    microseconds until the terminator lets it still carry the cost, priced from a catalog
    fetched after the stream.
    """

    __slots__ = (
        "_decode",
        "_report",
        "_secrets",
        "finished",
        "held",
        "request",
        "request_id",
        "started",
        "usage",
    )

    def __init__(
        self,
        request: ChatRequest,
        decode: Callable[[StreamEvent], ChatDelta | None],
        secrets: Secrets,
        report: Callable[[str, Usage], None],
    ) -> None:
        self._decode = decode
        self._secrets = secrets
        self._report = report
        self.request = request
        self.request_id: str | None = None
        self.started = False
        self.finished = False
        self.usage: Usage | None = None
        self.held: list[ChatDelta] = []

    def on_event(self, event: StreamEvent) -> ChatDelta | None:
        if event.request_id is not None:
            self.request_id = event.request_id
        try:
            delta = self._decode(event)
        except WireFormatError as exc:
            raise invalid_reply(exc, self._secrets, 200, self.request_id) from exc
        if delta is None:
            return None
        if not self.started:
            self.started = True
            delta.request_id = self.request_id
        if delta.finish_reason is not None:
            self.finished = True
        if delta.usage is not None:
            self.usage = delta.usage
        return delta

    def admit(self, delta: ChatDelta) -> list[ChatDelta]:
        """The deltas to hand to the caller now, in order (none while holding, see above).

        A delta with something to show is never delayed: if one arrives after a held one
        (a server that streams on after its usage), everything held goes out before it.
        """
        if _shows(delta):
            if not self.held:
                return [delta]
            out, self.held = [*self.held, delta], []
            return out
        if self.held or (delta.usage is not None and delta.usage.cost is None):
            self.held.append(delta)
            return []
        return [delta]

    def release(self) -> list[ChatDelta]:
        """At the terminator: what :meth:`admit` held back, in order."""
        out, self.held = self.held, []
        return out

    def check_complete(self) -> None:
        """After the terminator: a stream that never gave a finish reason is cut short.

        A gateway whose upstream dies mid-answer may still close the stream politely with
        ``[DONE]`` / ``message_stop``; the missing finish reason is the only sign.
        """
        if not self.finished:
            raise StreamTruncatedError(
                "The Lunos stream ended with its terminator but never said why the answer "
                "stopped (no finish_reason / stop_reason): the upstream answer was probably "
                "cut, so it is not returned as complete."
            )

    def report(self) -> None:
        if self.usage is not None:
            self._report(self.request.model, self.usage)


def _shows(delta: ChatDelta) -> bool:
    """Whether a delta carries anything a caller displays or acts on."""
    return bool(delta.text or delta.reasoning_text or delta.tool_calls or delta.images)
