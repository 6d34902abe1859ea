"""The redaction rules, one by one (the suites above check them end to end)."""

from __future__ import annotations

import json
import pickle

import pytest

from lunos_integrations.errors import (
    AuthenticationError,
    InternalServerError,
    error_from_response,
    error_from_stream_event,
)
from lunos_integrations.redact import (
    MASK,
    Secrets,
    has_userinfo,
    redact_url,
    scrub_json,
    scrub_text,
    split_userinfo,
)

KEY = "sk-lunos-UNITMARK0d9e8f7a6b5c"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.lunos.tech/v1", "https://api.lunos.tech/v1"),
        ("http://user:pass@gw:8080/v1", "http://user:***@gw:8080/v1"),
        ("http://tokenonly@gw/v1", "http://***@gw/v1"),
        ("http://user:p@ss@gw/v1?q=a@b", "http://user:***@gw/v1?q=a@b"),  # last @ of authority
        ("user:pass@gw/v1", "user:***@gw/v1"),  # no scheme: still masked
        ("http://gw/v1/user@x", "http://gw/v1/user@x"),  # an @ in the path is not userinfo
        ("http://user:@gw/v1", "http://user:***@gw/v1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert has_userinfo(url) == (url != shown)


def test_split_userinfo_decodes_like_httpx() -> None:
    import httpx

    url = "http://al%40ice:p%3Ass%20w@gw:8080/v1"
    clean, user, password = split_userinfo(url)
    parsed = httpx.URL(url)
    assert clean == "http://gw:8080/v1"
    assert (user, password) == (parsed.username, parsed.password) == ("al@ice", "p:ss w")
    assert split_userinfo("http://gw/v1") == ("http://gw/v1", None, None)
    assert split_userinfo("http://solo@gw/v1") == ("http://gw/v1", "solo", None)


def test_scrub_text_replaces_the_key_and_bearer_and_api_key_values() -> None:
    secrets = Secrets([KEY])
    text = (
        f"key {KEY}; Authorization: BEARER other-token.x/y=; "
        f'"x-api-key": "abc123def"; api_key=zzz999; json {json.dumps(KEY)}'
    )
    out = scrub_text(text, secrets)
    assert KEY not in out and "other-token" not in out
    assert "abc123def" not in out and "zzz999" not in out
    assert out.count(MASK) == 5, out
    assert "Authorization: BEARER ***" in out and '"x-api-key": "***"' in out


def test_scrub_text_leaves_ordinary_prose_alone() -> None:
    text = "Basic plan users cannot use this model; the api key is invalid."
    assert scrub_text(text, Secrets(["sk-something-long"])) == text


def test_short_secrets_are_not_replaced_verbatim() -> None:
    assert scrub_text("a pw here", Secrets(["pw"])) == "a pw here"


def test_secrets_repr_never_shows_them() -> None:
    assert KEY not in repr(Secrets([KEY]))


def test_scrub_json_is_iterative_and_copies() -> None:
    deep: object = KEY
    for _ in range(5000):  # deeper than the interpreter's recursion limit
        deep = [deep]
    out = scrub_json({"k": deep, KEY: 1}, Secrets([KEY]))
    inner = out["k"]
    for _ in range(5000):
        inner = inner[0]
    assert inner == MASK and MASK in out


def test_error_from_response_scrubs_everything_but_raw_body() -> None:
    body = {"error": {"message": f"bad key {KEY}", "type": "authentication_error"}}
    headers = {"content-type": "application/json", "x-echo": f"Bearer {KEY}"}
    exc = error_from_response(
        401, json.dumps(body).encode(), headers, request_id="r1", secrets=Secrets([KEY])
    )
    assert isinstance(exc, AuthenticationError)
    assert KEY not in str(exc) and KEY not in repr(exc.body) and KEY not in repr(exc.headers)
    assert KEY not in repr(vars(exc)) and KEY not in repr(exc.args)
    assert "bad key ***" in str(exc)
    assert exc.raw_body == body  # the one explicit way back to what the server sent
    assert KEY.encode() not in pickle.dumps(exc)  # the raw body is not pickled


def test_error_from_response_scrubs_an_html_page_before_cutting_the_excerpt() -> None:
    page = ("<html>" + "x" * 180 + f"Bearer {KEY}</html>").encode()
    exc = error_from_response(502, page, {"content-type": "text/html"}, secrets=Secrets([KEY]))
    assert isinstance(exc, InternalServerError)
    assert "an HTML page" in str(exc)
    assert "UNITMARK" not in str(exc) and "UNITMARK" not in repr(exc.body)
    assert exc.raw_body == page.decode()


def test_error_from_stream_event_scrubs_the_event() -> None:
    event = {"type": "error", "error": {"type": "api_error", "message": f"Bearer {KEY}"}}
    exc = error_from_stream_event(event, secrets=Secrets([KEY]))
    assert KEY not in str(exc) and KEY not in repr(exc.body)
    assert exc.raw_body == event


def test_without_secrets_bearer_tokens_are_still_scrubbed() -> None:
    exc = error_from_stream_event({"error": {"message": f"got Bearer {KEY}"}})
    assert KEY not in str(exc)


@pytest.mark.parametrize(
    "userinfo", ["alice:pw-1", "alice@", "alice:@", ":pw-only@", "@", "al%40ice:p%3Aw@"]
)
def test_transport_sends_the_authorization_httpx_derives(userinfo: str) -> None:
    """Same header as httpx builds from a URL with credentials (or the key when none)."""
    import httpx

    from lunos_integrations.config import resolve_config
    from lunos_integrations.transport.http import Transport

    if not userinfo.endswith("@"):
        userinfo += "@"
    url = f"http://{userinfo}gw.invalid/v1"
    with httpx.Client() as plain:
        request = plain.build_request("GET", url)
        flow = plain._build_request_auth(request).sync_auth_flow(request)
        expected = next(flow).headers.get("authorization", f"Bearer {KEY}")
    transport = Transport(resolve_config(api_key=KEY, base_url=url))
    try:
        assert transport._base_headers["Authorization"] == expected
        assert "@" not in transport._request_base
    finally:
        transport.close()
