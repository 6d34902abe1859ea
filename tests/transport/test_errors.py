"""Every known error envelope becomes the right typed error with a useful message."""

from __future__ import annotations

import json

import pytest

from lunos_integrations import errors as E


def make(status: int, body: object, headers: dict[str, str] | None = None) -> E.APIStatusError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return E.error_from_response(status, raw, headers or {}, request_id="req-1")


def test_openai_style_envelope_keeps_code_type_param() -> None:
    err = make(
        400,
        {
            "error": {
                "code": "invalid_request_error",
                "message": "The model 'x' does not exist",
                "param": "model",
                "type": "invalid_request_error",
            }
        },
    )
    assert isinstance(err, E.BadRequestError)
    assert (err.code, err.type, err.param, err.request_id) == (
        "invalid_request_error",
        "invalid_request_error",
        "model",
        "req-1",
    )
    assert "The model 'x' does not exist" in str(err) and "400" in str(err)


def test_balance_style_envelope_with_string_error_code() -> None:
    err = make(
        401, {"success": False, "message": "Missing or invalid secret key", "error": "UNAUTHORIZED"}
    )
    assert isinstance(err, E.AuthenticationError)
    assert err.code == "UNAUTHORIZED"
    assert "Missing or invalid secret key" in str(err)
    assert "LUNOS_API_KEY" in str(err)  # says what to do


def test_anthropic_envelope() -> None:
    err = make(
        529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    assert isinstance(err, E.InternalServerError)
    assert err.type == "overloaded_error" and err.message == "Overloaded"


def test_fastapi_detail_envelope() -> None:
    # llama-cpp-python's server (FastAPI) answers a wrong key with {"detail": "Invalid API key"}.
    err = make(401, {"detail": "Invalid API key"})
    assert isinstance(err, E.AuthenticationError)
    assert err.message == "Invalid API key"
    assert "not JSON" not in str(err)
    listed = make(422, {"detail": [{"loc": ["body", "model"], "msg": "Field required"}]})
    assert isinstance(listed, E.UnprocessableEntityError)
    assert "Field required" in listed.message and "not JSON" not in str(listed)


def test_html_body_gives_status_and_short_excerpt() -> None:
    page = b"<html><body>" + b"Bad gateway " * 100 + b"</body></html>"
    err = make(502, page, {"content-type": "text/html"})
    assert isinstance(err, E.InternalServerError)
    assert "HTML" in str(err) and "502" in str(err)
    assert len(str(err)) < 500


def test_empty_body() -> None:
    err = make(503, b"")
    assert "empty body" in str(err)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, E.BadRequestError),
        (401, E.AuthenticationError),
        (402, E.InsufficientBalanceError),
        (403, E.PermissionDeniedError),
        (404, E.NotFoundError),
        (409, E.ConflictError),
        (422, E.UnprocessableEntityError),
        (429, E.RateLimitError),
        (500, E.InternalServerError),
        (504, E.InternalServerError),
        (418, E.APIStatusError),
    ],
)
def test_status_families(status: int, cls: type[E.APIStatusError]) -> None:
    err = make(status, {"error": {"message": "m"}})
    assert type(err) is cls
    assert isinstance(err, E.LunosError)


def test_rate_limit_carries_retry_after() -> None:
    err = make(429, {"error": {"message": "slow down"}}, {"Retry-After": "7"})
    assert isinstance(err, E.RateLimitError) and err.retry_after == 7.0


def test_stream_error_events() -> None:
    chat = E.error_from_stream_event({"error": {"message": "upstream died", "code": 502}})
    assert isinstance(chat, E.InternalServerError) and "upstream died" in str(chat)
    anth = E.error_from_stream_event(
        {"type": "error", "error": {"type": "rate_limit_error", "message": "busy"}}
    )
    assert isinstance(anth, E.RateLimitError)
    bare = E.error_from_stream_event({"error": "boom"})
    assert isinstance(bare, E.APIStatusError) and "boom" in str(bare)
