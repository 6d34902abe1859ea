"""LocalLunosServer over plain HTTP: routes, auth, catalog, embeddings, errors, connections."""

from __future__ import annotations

import asyncio
import json
import math
import socket
from typing import Any

import httpx
import pytest

from lunos_integrations.testing import LocalLunosServer, count_tokens, default_models

CHAT = "/chat/completions"


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_base_and_root_urls(lunos_server: LocalLunosServer) -> None:
    assert lunos_server.base_url == f"http://127.0.0.1:{lunos_server.port}/v1"
    assert lunos_server.root_url == f"http://127.0.0.1:{lunos_server.port}"
    assert lunos_server.api_key == "sk-lunos-local-test"


def test_non_loopback_host_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        LocalLunosServer(host="0.0.0.0")


# ------------------------------------------------------------------------------------ auth


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"x-api-key": "sk-lunos-local-test"}],
    ids=["missing", "wrong", "x-api-key-not-on-chat"],
)
def test_chat_requires_bearer_key(lunos_server: LocalLunosServer, headers: dict[str, str]) -> None:
    r = httpx.post(
        lunos_server.base_url + CHAT,
        headers=headers,
        json={"model": "openai/gpt-4o", "messages": user("hi")},
    )
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "code": "invalid_api_key",
            "message": "Missing or invalid secret key",
            "type": "authentication_error",
        }
    }


def test_messages_accepts_x_api_key_and_bearer(lunos_server: LocalLunosServer) -> None:
    body = {"model": "anthropic/claude-sonnet-4", "max_tokens": 50, "messages": user("hi")}
    url = lunos_server.base_url + "/messages"
    assert (
        httpx.post(url, headers={"x-api-key": lunos_server.api_key}, json=body).status_code == 200
    )
    bearer = {"Authorization": f"Bearer {lunos_server.api_key}"}
    assert httpx.post(url, headers=bearer, json=body).status_code == 200
    assert httpx.post(url, headers={"x-api-key": "nope"}, json=body).status_code == 401


def test_no_auth_mode_accepts_anonymous_requests() -> None:
    with LocalLunosServer(require_auth=False) as server:
        r = httpx.post(
            server.base_url + CHAT, json={"model": "openai/gpt-4o", "messages": user("hi")}
        )
        assert r.status_code == 200


def test_balance_shape_and_its_own_401_envelope(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    r = http.get("/balance")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True
    assert body["message"] == "Balance retrieved successfully"
    assert set(body["data"]) == {
        "balance",
        "email",
        "alertBalance",
        "enableAlert",
        "updatedAt",
        "isAlertEnabled",
        "isBalanceLow",
    }
    assert body["data"]["balance"] == 10.5
    anon = httpx.get(lunos_server.base_url + "/balance")
    assert anon.status_code == 401
    assert anon.json() == {
        "success": False,
        "message": "Missing or invalid secret key",
        "error": "UNAUTHORIZED",
    }


def test_x_app_id_and_request_details_are_recorded(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    http.post(
        CHAT,
        params={"trace": "1"},
        headers={"X-App-ID": "Web Chat"},
        json={"model": "openai/gpt-4o", "messages": user("hi")},
    )
    [rec] = lunos_server.requests
    assert rec.method == "POST"
    assert rec.path == "/v1/chat/completions"
    assert rec.query == {"trace": "1"}
    assert rec.headers["x-app-id"] == "Web Chat"
    assert rec.json == {"model": "openai/gpt-4o", "messages": user("hi")}
    assert json.loads(rec.body) == rec.json
    assert rec.action is None


# ------------------------------------------------------------------------------------ models


def test_models_default_shape_is_data_and_documented_fields(http: httpx.Client) -> None:
    r = http.get("/models")
    assert r.status_code == 200
    models = r.json()["data"]
    ids = [m["id"] for m in models]
    assert ids == [m["id"] for m in default_models()]
    gpt = next(m for m in models if m["id"] == "openai/gpt-4o")
    for key in (
        "id",
        "modelId",
        "name",
        "provider",
        "parameters",
        "pricePerMillionTokens",
        "supportedParameters",
        "inputModalities",
        "outputModalities",
        "supportReasoning",
        "maxCompletionTokens",
    ):
        assert key in gpt
    assert set(gpt["parameters"]) >= {"context", "max_output_tokens"}
    assert set(gpt["pricePerMillionTokens"]) == {"input", "output", "discountPercentage"}
    assert any(m["pricePerMillionTokens"]["discountPercentage"] > 0 for m in models)


def test_models_listing_needs_no_key_but_rejects_a_wrong_one(
    lunos_server: LocalLunosServer,
) -> None:
    assert httpx.get(lunos_server.base_url + "/models").status_code == 200
    wrong = httpx.get(lunos_server.base_url + "/models", headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "input=text,image",
            {
                "openai/gpt-4o",
                "openai/gpt-4o-mini",
                "anthropic/claude-sonnet-4",
                "google/gemini-2.5-flash",
            },
        ),
        ("input=audio", {"google/gemini-2.5-flash"}),
        ("input=text,pdf&output=text", {"anthropic/claude-sonnet-4", "google/gemini-2.5-flash"}),
        ("output=embedding", {"openai/text-embedding-3-small"}),
        ("output=image", set()),
    ],
)
def test_model_filters(http: httpx.Client, query: str, expected: set[str]) -> None:
    r = http.get("/models?" + query)
    assert {m["id"] for m in r.json()["data"]} == expected


@pytest.mark.parametrize("shape", ["array", "data", "data_models"])
def test_catalog_shapes(shape: Any) -> None:
    with LocalLunosServer(catalog_shape=shape) as server:
        body = httpx.get(server.base_url + "/models").json()
    if shape == "array":
        models = body
    elif shape == "data":
        models = body["data"]
    else:
        models = body["data"]["models"]
    assert isinstance(models, list)
    assert "openai/gpt-4o" in {m["id"] for m in models}


def test_custom_catalog_replaces_the_default() -> None:
    custom = [dict(default_models()[0], id="acme/tiny", modelId="acme/tiny")]
    with LocalLunosServer(models=custom) as server:
        h = {"Authorization": f"Bearer {server.api_key}"}
        assert [m["id"] for m in httpx.get(server.base_url + "/models").json()["data"]] == [
            "acme/tiny"
        ]
        ok = httpx.post(
            server.base_url + CHAT, headers=h, json={"model": "acme/tiny", "messages": user("hi")}
        )
        assert ok.json()["model"] == "acme/tiny"
        gone = httpx.post(
            server.base_url + CHAT,
            headers=h,
            json={"model": "openai/gpt-4o", "messages": user("hi")},
        )
        assert gone.status_code == 404


@pytest.mark.parametrize("path", [CHAT, "/messages", "/embeddings"])
def test_unknown_model_is_404_model_not_found(http: httpx.Client, path: str) -> None:
    r = http.post(path, json={"model": "x", "messages": user("hi"), "input": "a"})
    assert r.status_code == 404
    assert r.json() == {
        "error": {
            "code": "model_not_found",
            "message": "The model 'x' does not exist",
            "param": "model",
            "type": "invalid_request_error",
        }
    }


def test_unknown_path_and_missing_v1_prefix_are_404(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    assert http.get("/nope").status_code == 404
    r = httpx.post(lunos_server.root_url + "/chat/completions", json={})
    assert r.status_code == 404
    assert "error" in r.json()
    assert http.get(CHAT).status_code == 405


def test_malformed_json_is_400_in_lunos_envelope(http: httpx.Client) -> None:
    r = http.post(CHAT, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_json"
    assert http.post(CHAT, json=[1, 2]).status_code == 400
    assert http.post(CHAT, json={"model": "openai/gpt-4o"}).status_code == 400


def test_embedding_model_cannot_chat_and_chat_model_cannot_embed(http: httpx.Client) -> None:
    r = http.post(CHAT, json={"model": "openai/text-embedding-3-small", "messages": user("x")})
    assert r.status_code == 400
    assert (
        http.post("/embeddings", json={"model": "openai/gpt-4o", "input": "x"}).status_code == 400
    )


def test_image_input_rejected_for_text_only_model(http: httpx.Client) -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
    ]
    messages = [{"role": "user", "content": content}]
    bad = http.post(CHAT, json={"model": "deepseek/deepseek-r1", "messages": messages})
    assert bad.status_code == 400
    assert "image" in bad.json()["error"]["message"]
    ok = http.post(CHAT, json={"model": "openai/gpt-4o", "messages": messages})
    assert ok.json()["choices"][0]["message"]["content"] == (
        "Hello! You said: What is this? [attachments: image]"
    )


# ------------------------------------------------------------------------------------ chat basics


def test_chat_json_reply_and_usage(http: httpx.Client) -> None:
    r = http.post(CHAT, json={"model": "openai/gpt-4o", "messages": user("Hi there, bot!")})
    body = r.json()
    assert r.headers["content-type"].startswith("application/json")
    assert body["object"] == "chat.completion"
    msg = body["choices"][0]["message"]
    assert msg == {"role": "assistant", "content": "Hello! You said: Hi there, bot!"}
    assert body["choices"][0]["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] == count_tokens("Hi there, bot!") == 5
    assert usage["completion_tokens"] == count_tokens(msg["content"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "cost" not in usage


def test_max_tokens_truncates_with_length(http: httpx.Client) -> None:
    r = http.post(
        CHAT, json={"model": "openai/gpt-4o", "messages": user("one two three"), "max_tokens": 3}
    )
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == "Hello! You"
    assert choice["finish_reason"] == "length"
    assert r.json()["usage"]["completion_tokens"] == 3


def test_stop_sequence_cuts_before_it(http: httpx.Client) -> None:
    r = http.post(
        CHAT,
        json={
            "model": "openai/gpt-4o",
            "messages": user("alpha beta gamma"),
            "stop": ["gamma", "beta"],
        },
    )
    choice = r.json()["choices"][0]
    assert choice["message"]["content"] == "Hello! You said: alpha "
    assert choice["finish_reason"] == "stop"


def test_say_exactly(http: httpx.Client) -> None:
    r = http.post(CHAT, json={"model": "openai/gpt-4o", "messages": user('Say "pong" please')})
    assert r.json()["choices"][0]["message"]["content"] == "pong"


def test_prompt_cache_counts_repeated_system_text(http: httpx.Client) -> None:
    messages = [{"role": "system", "content": "You are a terse assistant."}, *user("hi")]
    first = http.post(CHAT, json={"model": "openai/gpt-4o", "messages": messages}).json()
    second = http.post(CHAT, json={"model": "openai/gpt-4o", "messages": messages}).json()
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["usage"]["prompt_tokens_details"]["cached_tokens"] == count_tokens(
        "You are a terse assistant."
    )


def test_report_cost_uses_catalog_prices_after_discount() -> None:
    with LocalLunosServer(report_cost=True) as server:
        h = {"Authorization": f"Bearer {server.api_key}"}
        body = httpx.post(
            server.base_url + CHAT,
            headers=h,
            json={"model": "google/gemini-2.5-flash", "messages": user("hi")},
        ).json()
    usage = body["usage"]
    expected = (usage["prompt_tokens"] * 0.3 + usage["completion_tokens"] * 2.5) / 1e6 * 0.9
    assert math.isclose(usage["cost"], expected, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("param", "model", "status"),
    [
        ("temperature", "openai/o3-mini", 400),
        ("tools", "deepseek/deepseek-r1", 400),
        ("response_format", "anthropic/claude-sonnet-4", 400),
        ("temperature", "openai/gpt-4o", 200),
        ("observability", "openai/o3-mini", 200),  # unknown Lunos extras are tolerated
    ],
)
def test_strict_parameters(param: str, model: str, status: int) -> None:
    values = {
        "temperature": 0.5,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "response_format": {"type": "json_object"},
        "observability": True,
    }
    with LocalLunosServer(strict_parameters=True) as server:
        r = httpx.post(
            server.base_url + CHAT,
            headers={"Authorization": f"Bearer {server.api_key}"},
            json={"model": model, "messages": user("hi"), param: values[param]},
        )
    assert r.status_code == status
    if status == 400:
        assert r.json()["error"]["param"] == param
        assert param in r.json()["error"]["message"]


def test_non_strict_mode_tolerates_unsupported_parameters(http: httpx.Client) -> None:
    r = http.post(CHAT, json={"model": "openai/o3-mini", "messages": user("hi"), "temperature": 1})
    assert r.status_code == 200


# ------------------------------------------------------------------------------------ embeddings


def test_embeddings_are_deterministic_unit_vectors(http: httpx.Client) -> None:
    model = "openai/text-embedding-3-small"
    a = http.post("/embeddings", json={"model": model, "input": ["hello", "world"]}).json()
    b = http.post("/embeddings", json={"model": model, "input": "hello"}).json()
    assert a["object"] == "list"
    assert [d["index"] for d in a["data"]] == [0, 1]
    assert all(d["object"] == "embedding" for d in a["data"])
    vec = a["data"][0]["embedding"]
    assert len(vec) == 1536
    assert vec == b["data"][0]["embedding"]
    assert vec != a["data"][1]["embedding"]
    assert math.isclose(sum(v * v for v in vec), 1.0, rel_tol=1e-9)
    assert a["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    assert a["model"] == model


def test_embeddings_honour_dimensions_and_reject_bad_input(http: httpx.Client) -> None:
    model = "openai/text-embedding-3-small"
    r = http.post("/embeddings", json={"model": model, "input": "x", "dimensions": 8}).json()
    assert len(r["data"][0]["embedding"]) == 8
    assert http.post("/embeddings", json={"model": model, "input": []}).status_code == 400
    bad_dims = http.post("/embeddings", json={"model": model, "input": "x", "dimensions": 0})
    assert bad_dims.status_code == 400


# ------------------------------------------------------------------------------------ HTTP layer


def _raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            part = sock.recv(65536)
            if not part:
                break
            chunks.append(part)
    return b"".join(chunks)


def test_chunked_request_body_is_accepted(lunos_server: LocalLunosServer) -> None:
    body = json.dumps({"model": "openai/gpt-4o", "messages": user("chunky")}).encode()
    chunked = b"".join(
        f"{len(body[i : i + 10]):x}\r\n".encode() + body[i : i + 10] + b"\r\n"
        for i in range(0, len(body), 10)
    )
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: Bearer sk-lunos-local-test\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunked
        + b"0\r\n\r\n"
    )
    response = _raw_exchange(lunos_server.port, request)
    head, _, payload = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in head
    assert json.loads(payload)["choices"][0]["message"]["content"] == "Hello! You said: chunky"
    assert lunos_server.requests[0].json["messages"][0]["content"] == "chunky"


def test_garbage_request_line_gets_400(lunos_server: LocalLunosServer) -> None:
    response = _raw_exchange(lunos_server.port, b"HELLO\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 400 ")


def test_keep_alive_reuses_one_connection(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    for _ in range(5):
        assert http.get("/models").status_code == 200
    with http.stream(
        "POST", CHAT, json={"model": "openai/gpt-4o", "messages": user("s"), "stream": True}
    ) as r:
        r.read()
    assert http.get("/models").status_code == 200
    assert lunos_server.total_connections == 1
    assert lunos_server.open_connections == 1


async def test_async_context_manager_and_many_concurrent_keepalive_connections() -> None:
    """1,000 simultaneous connections, each doing two requests on the same socket."""
    n = 1000
    async with LocalLunosServer() as server:

        async def one(i: int) -> list[int]:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            statuses = []
            for _ in range(2):
                writer.write(b"GET /v1/models?output=embedding HTTP/1.1\r\nHost: x\r\n\r\n")
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                statuses.append(int(head.split(b" ")[1]))
            await asyncio.sleep(0.2)  # hold the connection so all are open at once
            writer.close()
            await writer.wait_closed()
            return statuses

        results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), 60)
        assert results == [[200, 200]] * n
        assert server.total_connections == n
        assert len(server.requests) == 2 * n
        assert await asyncio.to_thread(server.wait_for_open_connections, 0, 5.0)


def test_reset_clears_records_script_and_cache(
    lunos_server: LocalLunosServer, http: httpx.Client
) -> None:
    from lunos_integrations.testing import ErrorReply

    messages = [{"role": "system", "content": "sys"}, *user("hi")]
    http.post(CHAT, json={"model": "openai/gpt-4o", "messages": messages})
    lunos_server.enqueue(ErrorReply(500))
    lunos_server.reset()
    assert lunos_server.requests == []
    assert len(lunos_server.script) == 0
    assert lunos_server.total_connections == 0
    r = http.post(CHAT, json={"model": "openai/gpt-4o", "messages": messages})
    assert r.status_code == 200
    assert r.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def test_session_fixture_is_shared(lunos_server_session: LocalLunosServer) -> None:
    lunos_server_session.reset()
    r = httpx.get(lunos_server_session.base_url + "/models")
    assert r.status_code == 200
    assert len(lunos_server_session.requests) == 1


def test_convenience_fixtures(lunos_base_url: str, lunos_api_key: str) -> None:
    r = httpx.get(lunos_base_url + "/balance", headers={"Authorization": f"Bearer {lunos_api_key}"})
    assert r.json()["success"] is True


def test_stop_with_a_stream_in_progress_is_prompt() -> None:
    from lunos_integrations.testing import StreamFault

    server = LocalLunosServer().start()
    server.enqueue(StreamFault(idle_after_events=1, idle_seconds=60))
    client = httpx.Client(timeout=10)
    with client.stream(
        "POST",
        server.base_url + CHAT,
        json={"model": "openai/gpt-4o", "messages": user("hi"), "stream": True},
        headers={"Authorization": f"Bearer {server.api_key}"},
    ) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
        thread = server._thread
        assert thread is not None
        server.stop(timeout=30)  # the stream would idle for 60 s
        assert not thread.is_alive(), "stop waited for the open stream instead of ending it"
        with pytest.raises(httpx.TransportError):
            list(lines)
    client.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.root_url + "/v1/models", timeout=2)
