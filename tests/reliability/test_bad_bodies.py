"""A 200 status with a body that is not the promised answer.

Contract: a typed :class:`APIResponseValidationError` (or, for a stream that ends before
its terminator, :class:`StreamTruncatedError`) naming what came back; never an empty or
made-up answer, never a bare ``json.JSONDecodeError`` / ``KeyError`` from deep inside.
A 200 is not retried: the server did the work.
"""

from __future__ import annotations

from typing import Any

import pytest
from reliability_harness import ALL, PATIENT, Driver, chat_requests

from lunos_integrations.errors import (
    APIResponseValidationError,
    LunosError,
    StreamTruncatedError,
)
from lunos_integrations.testing import Action, JSONReply, LocalLunosServer, RawReply, StreamReply

PROMPT = "give me JSON"
HTML = b"<!DOCTYPE html><html><head><title>502</title></head><body>Proxy error</body></html>"
VALID_CHAT = {
    "id": "x",
    "object": "chat.completion",
    "model": "openai/gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
}


def _reply(kind: str, driver: Driver) -> tuple[Action, type[LunosError], str]:
    """The scripted body for ``kind``, the error expected, and a phrase its message has."""
    stream = driver.is_stream
    if kind == "malformed_json":
        if stream:
            return (
                StreamReply(['data: {"choices": [{"delta": '], fault=None),
                (APIResponseValidationError),
                "malformed JSON",
            )
        return (
            RawReply(200, b'{"id": "x", "choices": [', content_type="application/json"),
            APIResponseValidationError,
            "non-JSON",
        )
    if kind == "html":
        return RawReply(200, HTML, content_type="text/html"), APIResponseValidationError, "html"
    if kind == "wrong_content_type":
        if stream:  # a complete JSON answer where an event stream was asked for
            return JSONReply(VALID_CHAT), APIResponseValidationError, "text/event-stream"
        # an event stream where one JSON document was asked for
        body = b'data: {"choices": []}\n\ndata: [DONE]\n\n'
        return (
            RawReply(200, body, content_type="text/event-stream"),
            APIResponseValidationError,
            "non-JSON",
        )
    if kind == "empty":
        if stream:
            return RawReply(200, b"", "text/event-stream"), StreamTruncatedError, "terminator"
        return RawReply(200, b"", "application/json"), APIResponseValidationError, "empty body"
    if kind == "invalid_utf8":  # a latin-1 "é" inside otherwise valid JSON
        if stream:
            event = b'data: {"choices": [{"index": 0, "delta": {"content": "caf\xe9"}}]}\n\n'
            return StreamReply([event]), APIResponseValidationError, "not valid UTF-8"
        body = (
            b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "caf\xe9"}}]}'
        )
        reply = RawReply(200, body, content_type="application/json")
        return reply, APIResponseValidationError, "not valid UTF-8"
    if kind == "latin1_html":  # still reported as the HTML page it is, not as bad UTF-8
        page = HTML.replace(b"Proxy error", b"Erreur du proxy \xe9")
        reply = RawReply(200, page, content_type="text/html")
        return reply, APIResponseValidationError, "text/event-stream" if stream else "html"
    if kind == "wrong_shape":  # invoke only, see CASES
        return JSONReply({"unexpected": True}), APIResponseValidationError, ""
    raise AssertionError(kind)


KINDS = [
    "malformed_json",
    "html",
    "wrong_content_type",
    "empty",
    "wrong_shape",
    "invalid_utf8",
    "latin1_html",
]
# Stream decoders skip events they do not recognise (gateways interleave processing and
# usage chunks), so a "wrong shape" is only an error for a whole JSON answer. What a stream
# that ends without a finish reason does is tested in test_stream_faults.py.
CASES = [
    pytest.param(p.values[0], kind, id=f"{p.id}-{kind}")
    for p in ALL
    for kind in KINDS
    if not (kind == "wrong_shape" and p.values[0].is_stream)
]


@pytest.mark.parametrize(("driver", "kind"), CASES)
async def test_bad_success_body_is_a_typed_error(
    driver: Driver, kind: str, make: Any, srv: LocalLunosServer
) -> None:
    action, expected, phrase = _reply(kind, driver)
    srv.enqueue(action, path=driver.path)
    model = make(driver, timeout=PATIENT)
    out, elapsed = await driver.timed(model, PROMPT)
    assert isinstance(out, expected), repr(out)
    assert phrase.lower() in str(out).lower(), str(out)
    if isinstance(out, APIResponseValidationError):
        assert out.status_code == 200
    assert len(chat_requests(srv, driver.path)) == 1
    assert elapsed < PATIENT / 2  # refused as it came, not after waiting for the timeout
