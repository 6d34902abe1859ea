"""The transport over real sockets against the local server: headers, retries, errors."""

from __future__ import annotations

import asyncio
import socket

import pytest

from lunos_integrations import errors as E
from lunos_integrations._version import __version__
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.scripting import (
    Delay,
    Disconnect,
    ErrorReply,
    JSONReply,
    RawReply,
)
from lunos_integrations.transport.pools import POOLS

from .conftest import CHAT_BODY, MakeTransport


def test_headers_sent(lunos_server: LocalLunosServer, make_transport: MakeTransport) -> None:
    t = make_transport(app_id="billing-v2", default_headers={"X-Team": "core"})
    t.request("POST", "/chat/completions", body=CHAT_BODY, headers={"X-Trace": "abc"})
    h = lunos_server.requests[-1].headers
    assert h["authorization"] == f"Bearer {lunos_server.api_key}"
    assert h["content-type"] == "application/json"
    assert h["accept"] == "application/json"
    assert h["user-agent"] == f"lunos-integrations/{__version__}"
    assert h["x-app-id"] == "billing-v2"
    assert h["x-team"] == "core" and h["x-trace"] == "abc"


def test_no_app_id_header_when_unset(
    lunos_server: LocalLunosServer, make_transport: MakeTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LUNOS_APP_ID", raising=False)
    make_transport().request("GET", "/models")
    assert "x-app-id" not in lunos_server.requests[-1].headers


def test_json_round_trip_and_request_id(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(JSONReply({"ok": "é"}, headers={"x-request-id": "req-42"}), path="/models")
    resp = make_transport().request("GET", "/models")
    assert resp.data == {"ok": "é"} and resp.request_id == "req-42"


def test_set_cookie_is_never_sent_back_on_shared_pools(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    # Two transports with different keys share one pool; a cookie answered to the first
    # must not reach the server on the second's request (nor on the first's next one).
    first = make_transport()
    second = make_transport(api_key="sk-other")
    lunos_server.script.add(
        JSONReply({"ok": True}, headers={"Set-Cookie": "session=abc; Path=/"}), "/models"
    )
    first.request("GET", "/models")
    first.request("GET", "/models")
    with pytest.raises(E.AuthenticationError):
        second.request("GET", "/models")
    assert [r.headers.get("cookie") for r in lunos_server.requests[-3:]] == [None, None, None]


def test_wrong_key_is_an_authentication_error_without_retry(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    t = make_transport(api_key="sk-wrong-key-0000")
    with pytest.raises(E.AuthenticationError) as info:
        t.request("POST", "/chat/completions", body=CHAT_BODY)
    assert "LUNOS_API_KEY" in str(info.value)
    assert "sk-wrong-key-0000" not in str(info.value)
    assert len(lunos_server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_sent_once(
    status: int, lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(ErrorReply(status, {"error": {"message": f"nope {status}"}}))
    with pytest.raises(E.APIStatusError) as info:
        make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
    assert info.value.status_code == status and f"nope {status}" in str(info.value)
    assert len(lunos_server.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
def test_transient_errors_are_retried_then_succeed(
    status: int, lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(ErrorReply(status))
    lunos_server.enqueue(ErrorReply(status))
    resp = make_transport(max_retries=2).request("POST", "/chat/completions", body=CHAT_BODY)
    assert resp.data["choices"][0]["message"]["content"]
    assert len(lunos_server.requests) == 3


def test_retries_resend_the_body_encoded_once(
    lunos_server: LocalLunosServer, make_transport: MakeTransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lunos_integrations.transport.attempts as http_mod

    calls: list[object] = []
    real = http_mod.encode_body

    def counting(body: object) -> bytes:
        calls.append(body)
        return real(body)

    monkeypatch.setattr(http_mod, "encode_body", counting)
    lunos_server.enqueue(ErrorReply(503))
    lunos_server.enqueue(ErrorReply(503))
    t = make_transport(max_retries=2)
    t.request("POST", "/chat/completions", body=CHAT_BODY)
    asyncio.run(t.arequest("POST", "/chat/completions", body=CHAT_BODY))
    sent = [r.body for r in lunos_server.requests]
    assert len(sent) == 4 and len(set(sent)) == 1  # 3 attempts, then one async call
    assert len(calls) == 2  # once per call, not once per attempt


def test_retries_exhausted_raise_the_last_error(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    for _ in range(3):
        lunos_server.enqueue(ErrorReply(503))
    with pytest.raises(E.InternalServerError):
        make_transport(max_retries=1).request("POST", "/chat/completions", body=CHAT_BODY)
    assert len(lunos_server.requests) == 2


def test_rate_limit_waits_what_the_server_asks(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(ErrorReply(429, headers={"retry-after-ms": "300"}))
    make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
    refused, retry = lunos_server.requests
    assert refused.replied is not None
    assert retry.arrived - refused.replied >= 0.3 - 0.01  # measured by the server


def test_rate_limit_past_max_retries_carries_retry_after(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(ErrorReply(429, headers={"Retry-After": "0"}))
    lunos_server.enqueue(ErrorReply(429, headers={"Retry-After": "7"}))
    with pytest.raises(E.RateLimitError) as info:
        make_transport(max_retries=1).request("POST", "/chat/completions", body=CHAT_BODY)
    assert info.value.retry_after == 7.0


def test_x_should_retry_false_stops_retries(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(ErrorReply(503, headers={"x-should-retry": "false"}))
    with pytest.raises(E.InternalServerError):
        make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
    assert len(lunos_server.requests) == 1


def test_reset_before_response_is_retried(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(Disconnect("before_response", reset=True))
    resp = make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
    assert resp.status_code == 200
    assert len(lunos_server.requests) == 2


def test_close_after_headers_is_retried_as_no_body_had_arrived(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    """Issue 23: a non-streamed reply cut after its 200 headers, before any body byte, is
    sent again (the caller was handed nothing)."""
    lunos_server.enqueue(Disconnect("after_headers", reset=False))
    resp = make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
    assert resp.status_code == 200
    assert len(lunos_server.requests) == 2


def test_close_after_headers_says_the_server_answered(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(Disconnect("after_headers", reset=False))
    with pytest.raises(E.IncompleteResponseError, match=r"answered 200 .* cut after 0 bytes") as ei:
        make_transport(max_retries=0).request("POST", "/chat/completions", body=CHAT_BODY)
    assert "Could not reach" not in str(ei.value) and ei.value.received == 0
    assert isinstance(ei.value, E.APIConnectionError)  # what callers already catch
    assert len(lunos_server.requests) == 1


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def test_connection_refused_after_retries(make_transport: MakeTransport) -> None:
    t = make_transport(base_url=f"http://127.0.0.1:{_closed_port()}/v1", max_retries=1)
    with pytest.raises(E.APIConnectionError, match="Could not reach"):
        t.request("GET", "/models")


def test_timeout_before_response(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(Delay(1.0))
    lunos_server.enqueue(Delay(1.0))
    with pytest.raises(E.APITimeoutError):
        make_transport(timeout=0.2, max_retries=1).request(
            "POST", "/chat/completions", body=CHAT_BODY
        )
    assert len(lunos_server.requests) == 2


@pytest.mark.parametrize(
    ("body", "ctype", "word"),
    [
        (b'{"choices": [', "application/json", "non-JSON"),
        (b"<html><h1>502 Bad Gateway</h1></html>", "text/html", "HTML"),
        (b"", "application/json", "empty body"),
    ],
)
def test_bad_success_bodies_are_typed_errors(
    body: bytes,
    ctype: str,
    word: str,
    lunos_server: LocalLunosServer,
    make_transport: MakeTransport,
) -> None:
    lunos_server.enqueue(RawReply(200, body, content_type=ctype))
    with pytest.raises(E.APIResponseValidationError, match=word):
        make_transport().request("POST", "/chat/completions", body=CHAT_BODY)


def test_redirect_to_another_origin_is_refused(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    with LocalLunosServer(require_auth=False) as other:
        lunos_server.enqueue(
            JSONReply({}, status=307, headers={"Location": other.base_url + "/chat/completions"})
        )
        with pytest.raises(E.APIConnectionError, match=r"another origin.*base_url"):
            make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
        assert other.requests == []  # neither key nor prompt reached the other host
    assert len(lunos_server.requests) == 1  # and it is not retried


@pytest.mark.parametrize("status", [307, 308])
def test_same_origin_redirect_keeps_method_body_and_auth(
    status: int, lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(
        JSONReply({}, status=status, headers={"Location": "/v1/chat/completions?moved=1"})
    )
    resp = make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
    assert resp.data["choices"]
    second = lunos_server.requests[-1]
    assert second.method == "POST" and second.query.get("moved") in ("1", ["1"])
    assert second.json == CHAT_BODY
    assert second.headers["authorization"] == f"Bearer {lunos_server.api_key}"


def test_redirect_loop_is_bounded(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    for _ in range(10):
        lunos_server.enqueue(JSONReply({}, status=307, headers={"Location": "/v1/models"}))
    with pytest.raises(E.APIConnectionError, match="redirects"):
        make_transport().request("POST", "/chat/completions", body=CHAT_BODY)
    assert len(lunos_server.requests) == 6


def test_a_thousand_transports_share_one_pool(lunos_server: LocalLunosServer) -> None:
    from lunos_integrations.config import resolve_config
    from lunos_integrations.transport.http import Transport

    before = POOLS.stats()["pools"]
    cfg = resolve_config(api_key="sk-x-123456", base_url=lunos_server.base_url, timeout=17)
    transports = [Transport(cfg) for _ in range(1000)]
    clients = {id(t.sync_client) for t in transports}
    assert len(clients) == 1
    assert POOLS.stats()["pools"] == before + 1
    client = transports[0].sync_client
    for t in transports:
        t.close()
    assert client.is_closed
    assert POOLS.stats()["pools"] == before


def test_async_request_and_retry(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    t = make_transport()
    lunos_server.enqueue(ErrorReply(502))

    async def main() -> object:
        resp = await t.arequest("POST", "/chat/completions", body=CHAT_BODY)
        return resp.data

    data = asyncio.run(main())
    assert isinstance(data, dict) and data["choices"]
    assert len(lunos_server.requests) == 2


def test_async_clients_survive_asyncio_run_per_call(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    """A new event loop per call must not hit "Event loop is closed"."""
    t = make_transport()
    for _ in range(3):
        asyncio.run(t.arequest("GET", "/models"))
    assert len(lunos_server.requests) == 3


def test_async_errors_are_typed(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    lunos_server.enqueue(ErrorReply(404, {"error": {"message": "The model 'x' does not exist"}}))
    with pytest.raises(E.NotFoundError, match="does not exist"):
        asyncio.run(make_transport().arequest("POST", "/chat/completions", body=CHAT_BODY))


def test_async_pool_is_sharded_and_keeps_reusing_connections(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    """Concurrent requests spread over shards; later waves and sequential calls reuse the
    connections already open instead of dialling again."""
    t = make_transport(timeout=31)  # its own pool key, so other tests' pools do not interfere

    async def wave(n: int) -> None:
        await asyncio.gather(
            *(t.arequest("POST", "/chat/completions", body=CHAT_BODY) for _ in range(n))
        )

    async def main() -> tuple[int, int, int, int]:
        await wave(40)
        first = lunos_server.total_connections
        await wave(40)
        second = lunos_server.total_connections
        for _ in range(5):
            await t.arequest("POST", "/chat/completions", body=CHAT_BODY)
        return first, second, lunos_server.total_connections, POOLS.stats()["async_clients"]

    first, second, sequential, shards = asyncio.run(main())
    assert first <= 40
    assert second == first  # the second wave reused every connection
    assert sequential == second  # and so did sequential calls
    assert shards >= 2  # really sharded


def test_parsed_urls_are_reused_and_the_cache_is_bounded(make_transport: MakeTransport) -> None:
    t = make_transport()
    first = t._parsed_url("/chat/completions")
    assert t._parsed_url("/chat/completions") is first
    assert str(first) == t.config.base_url + "/chat/completions"
    for i in range(500):
        assert str(t._parsed_url(f"/models/m{i}")).endswith(f"/models/m{i}")
    assert len(t._urls) <= 64


def test_query_params_still_reach_the_server(
    lunos_server: LocalLunosServer, make_transport: MakeTransport
) -> None:
    t = make_transport()
    t.request("GET", "/models", params={"supported_parameters": "tools"})
    t.request("GET", "/models")
    first, second = lunos_server.requests[-2:]
    assert first.query == {"supported_parameters": "tools"} and not second.query


def test_every_pooled_client_shares_one_tls_context(make_transport: MakeTransport) -> None:
    """Eight async shards and the sync client must not each load the CA bundle (~25 ms a
    time, on the event loop for the async ones)."""
    from lunos_integrations.transport.pools import shared_ssl_context

    t = make_transport(timeout=37)  # its own pool key

    async def shard_contexts() -> list[object]:
        leases = [t._acquire_async() for _ in range(16)]  # held: each goes to the least busy
        clients = {id(c): c for c, _ in leases}
        for _, release in leases:
            release()
        return [c._transport._pool._ssl_context for c in clients.values()]  # type: ignore[attr-defined]

    contexts = asyncio.run(shard_contexts())
    contexts.append(t.sync_client._transport._pool._ssl_context)  # type: ignore[attr-defined]
    assert len(contexts) >= 3  # several shards and the sync client
    assert all(ctx is shared_ssl_context() for ctx in contexts)
