"""A server that echoes the key back: error bodies, stream error events, proxy debug pages.

Contract: no printed form of the error (``str``, ``repr``, args, causes, traceback), no
log line and no LangChain trace holds the key or any bearer token / ``x-api-key`` value;
the server's own words survive with the secret replaced by ``***``; the unscrubbed body
is reachable only as ``exc.raw_body``. (The harness's secret sweep checks every printed
form of every error and every log record; these tests add what only they know: where the
echo was and that the raw body still has it.)
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from reliability_harness import ALL, INVOKES, STREAMS, Driver
from secret_sweep import SWEEP, SWEEP_KEY

from lunos_integrations.errors import (
    APIResponseValidationError,
    APIStatusError,
    BadRequestError,
    InternalServerError,
    LunosError,
    PermissionDeniedError,
)
from lunos_integrations.testing import (
    Action,
    ErrorReply,
    JSONReply,
    LocalLunosServer,
    RawReply,
    StreamFault,
    StreamReply,
)

KEY = SWEEP_KEY
PROMPT = "echo my headers"
#: Someone else's token, echoed in a header-shaped string: removed by pattern, not by value.
OTHER_TOKEN = "tok-OTHERMARK93b1d7e0aa52"


def _json_error_body() -> dict[str, Any]:
    return {
        "error": {
            "message": f"Invalid request. Received headers: Authorization: Bearer {KEY}",
            "type": "invalid_request_error",
            "code": "bad_request",
        },
        "debug": {"headers": {"Authorization": f"Bearer {KEY}", "X-Api-Key": KEY}},
    }


def _html_debug_page() -> bytes:
    # The key starts 180 characters in, so an excerpt cut at 200 characters would keep
    # part of it unless the text is scrubbed before it is cut.
    lead = "<html><body><h1>Gateway_debug</h1><pre>" + "x" * 133
    page = f"{lead}Bearer {KEY}</pre><table><tr><td>x-api-key</td><td>{KEY}</td></tr>"
    return (page + "</table></body></html>").encode()


def _stream_error_event() -> dict[str, Any]:
    return {
        "type": "invalid_request_error",
        "code": 400,
        "message": f"bad header authorization: bearer {KEY}",
        "request_headers": {"authorization": f"Bearer {KEY}"},
    }


def _fault(case: str, driver: Driver) -> tuple[Action, type[LunosError], str]:
    """The scripted echo, the error expected and a phrase of the server's that must survive."""
    if case == "json_error_body":
        # Not echoed in a response *header* here: httpcore's own DEBUG log prints response
        # headers raw, which this package cannot scrub (see the README); exc.headers is
        # scrubbed all the same (tests/transport/test_redact.py).
        reply = ErrorReply(400, body=_json_error_body())
        return reply, BadRequestError, "Received headers: Authorization: Bearer ***"
    if case == "bare_key_in_message":
        body = {"error": {"message": f"key {KEY} may not use this model", "type": "x"}}
        return ErrorReply(403, body=body), PermissionDeniedError, "key *** may not use"
    if case == "other_tokens_by_pattern":
        message = f"forwarded x-api-key: {OTHER_TOKEN} and bearer {OTHER_TOKEN}"
        body = {"error": {"message": message, "type": "server_error"}}
        return ErrorReply(500, body=body), InternalServerError, "x-api-key: *** and bearer ***"
    if case == "html_debug_page":
        reply = RawReply(502, _html_debug_page(), "text/html")
        return reply, InternalServerError, "Bearer **"
    if case == "html_200_page":  # invoke only
        reply = RawReply(200, _html_debug_page(), "text/html")
        return reply, APIResponseValidationError, "Bearer **"
    if case == "sse_error_event":  # streams only
        fault = StreamFault(error_event_after=1, error=_stream_error_event())
        return fault, BadRequestError, "authorization: bearer ***"
    if case == "wire_quote":  # a 2xx body of the wrong shape: the codec's error quotes it
        echo = f"Authorization: Bearer {KEY}"
        if not driver.is_stream:
            return JSONReply({"debug": echo}), APIResponseValidationError, "Bearer ***"
        event = (
            f"event: message_start\ndata: {json.dumps(echo)}"
            if driver.api == "messages"
            else json.dumps(echo)
        )
        return StreamReply([event]), APIResponseValidationError, "Bearer ***"
    if case == "malformed_stream_event":  # streams only
        event = f'data: {{"debug": "Authorization: Bearer {KEY}", "choices": [\n\n'
        reply = StreamReply([event.encode()])
        return reply, APIResponseValidationError, "Bearer ***"
    raise AssertionError(case)


COMMON = [
    "json_error_body",
    "bare_key_in_message",
    "other_tokens_by_pattern",
    "html_debug_page",
    "wire_quote",
]
CASES = [
    *(pytest.param(p.values[0], c, id=f"{p.id}-{c}") for p in ALL for c in COMMON),
    *(pytest.param(p.values[0], "html_200_page", id=f"{p.id}-html_200_page") for p in INVOKES),
    *(
        pytest.param(p.values[0], c, id=f"{p.id}-{c}")
        for p in STREAMS
        for c in ("sse_error_event", "malformed_stream_event")
    ),
]


def _texts_of(error: LunosError) -> str:
    """Every attribute a user or an error tracker may print, besides the sweep's forms."""
    parts = [repr(vars(error))]
    if isinstance(error, APIStatusError):
        parts += [error.message, repr(error.body), repr(error.headers)]
    if isinstance(error, APIResponseValidationError):
        parts.append(error.body_excerpt)
    return " ".join(parts)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("driver", "case"), CASES)
async def test_an_echoed_key_is_scrubbed_and_kept_only_as_raw_body(
    driver: Driver, case: str, make: Any, srv: LocalLunosServer
) -> None:
    action, expected, phrase = _fault(case, driver)
    srv.enqueue(action, path=driver.path)
    model = make(driver, max_retries=0)
    kwargs: dict[str, Any] = {}
    collector = None
    if driver.framework == "langchain":
        from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

        collector = RunCollectorCallbackHandler()
        kwargs["config"] = {"callbacks": [collector]}
    out, _ = await driver.timed(model, PROMPT, **kwargs)  # the sweep checked it already
    assert isinstance(out, expected), repr(out)
    assert phrase in str(out), str(out)  # the server's words survive, the secret does not
    assert not SWEEP.find({"attributes": _texts_of(out)}), _texts_of(out)
    assert not SWEEP.find({"pickle": repr(pickle.dumps(out))}), "the key is in the pickle"
    if case not in ("other_tokens_by_pattern", "wire_quote"):
        raw = out.raw_body  # type: ignore[attr-defined]
        raw_text = raw if isinstance(raw, str) else json.dumps(raw)
        assert KEY in raw_text, "the raw body must keep what the server sent"
    if collector is not None:
        runs = collector.traced_runs
        assert runs and runs[0].error, "no errored run was traced"
        for run in runs:
            assert not SWEEP.find({"traced run": run.model_dump_json()})


def test_the_sweep_finds_a_planted_key() -> None:
    """The sweep can fail: a key in a message, a cause, a vars() entry or a log is found."""
    from secret_sweep import SecretSweep

    sweep = SecretSweep(KEY)
    cut = KEY[:-6]  # a key cut short by an excerpt is still a hit
    planted: list[BaseException] = [
        LunosError(f"header was Bearer {KEY}"),
        LunosError(f"excerpt '{cut}'"),
    ]
    chained = LunosError("outer")
    chained.__cause__ = ValueError(f"Illegal header value b'Bearer {KEY}'")
    planted.append(chained)
    with_attr = LunosError("fine message")
    with_attr.extra = {"auth": KEY}  # type: ignore[attr-defined]
    planted.append(with_attr)
    for exc in planted:
        before = len(sweep.hits)
        with pytest.raises(AssertionError):
            sweep.check_exception(exc, "planted")
        assert len(sweep.hits) > before, exc
    import logging

    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "sent %s", (KEY,), None)
    before = len(sweep.hits)
    with pytest.raises(AssertionError):
        sweep.check_records([record], "planted")
    assert len(sweep.hits) == before + 2  # the message and the args
    assert sweep.error_paths == len(planted) and sweep.log_records == 1
