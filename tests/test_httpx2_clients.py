"""Issue 23: injected httpx2 clients drive both adapters (invoke, ainvoke, stream, astream,
both routes), their errors come out typed, and anything else is refused at construction.

Against the local server (and the raw peers for a stale connection); httpx2 needs Python
3.11+, so this module skips, saying so, where it is not importable.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

httpx2 = pytest.importorskip("httpx2", reason="httpx2 is not installed (it needs Python 3.11+)")

import httpx  # noqa: E402
from llama_index.core.base.llms.types import ChatMessage  # noqa: E402

from lunos_integrations import errors as E  # noqa: E402
from lunos_integrations.client import LunosClient  # noqa: E402
from lunos_integrations.config import resolve_config  # noqa: E402
from lunos_integrations.langchain import ChatLunos  # noqa: E402
from lunos_integrations.llama_index import LunosLLM  # noqa: E402
from lunos_integrations.testing import ErrorReply, LocalLunosServer, StreamFault  # noqa: E402
from lunos_integrations.testing.peers import TinyHTTPServer  # noqa: E402
from lunos_integrations.wire.types import EmbeddingRequest  # noqa: E402

ROUTES = [("chat_completions", "openai/gpt-4o"), ("messages", "anthropic/claude-sonnet-4")]
EXPECTED = "Hello! You said: ping"


@pytest.fixture
def clients() -> Iterator[tuple[Any, Any]]:
    sync, aclient = httpx2.Client(), httpx2.AsyncClient()
    yield sync, aclient
    sync.close()


def _chat(server: LocalLunosServer, api: str, model: str, pair: tuple[Any, Any], **kw: Any) -> Any:
    return ChatLunos(
        model=model,
        api=api,
        api_key=server.api_key,
        base_url=server.base_url,
        http_client=pair[0],
        http_async_client=pair[1],
        **kw,
    )


def _llm(server: LocalLunosServer, api: str, model: str, pair: tuple[Any, Any], **kw: Any) -> Any:
    return LunosLLM(
        model=model,
        api=api,
        api_key=server.api_key,
        base_url=server.base_url,
        http_client=pair[0],
        http_async_client=pair[1],
        **kw,
    )


def _posts(server: LocalLunosServer) -> list[Any]:
    return [r for r in server.requests if r.method == "POST"]


@pytest.mark.parametrize(("api", "model"), ROUTES)
async def test_langchain_all_four_calls(
    lunos_server: LocalLunosServer, clients: tuple[Any, Any], api: str, model: str
) -> None:
    chat = _chat(lunos_server, api, model, clients)
    assert chat.invoke("ping").content == EXPECTED
    assert "".join(str(c.content) for c in chat.stream("ping")) == EXPECTED
    assert (await chat.ainvoke("ping")).content == EXPECTED
    assert "".join([str(c.content) async for c in chat.astream("ping")]) == EXPECTED
    assert len(_posts(lunos_server)) == 4
    assert all(
        r.headers.get("authorization", "").startswith("Bearer ") for r in _posts(lunos_server)
    )
    await clients[1].aclose()


@pytest.mark.parametrize(("api", "model"), ROUTES)
async def test_llama_index_all_four_calls(
    lunos_server: LocalLunosServer, clients: tuple[Any, Any], api: str, model: str
) -> None:
    llm = _llm(lunos_server, api, model, clients)
    msgs = [ChatMessage(role="user", content="ping")]
    assert llm.chat(msgs).message.content == EXPECTED
    assert "".join(r.delta or "" for r in llm.stream_chat(msgs)) == EXPECTED
    assert (await llm.achat(msgs)).message.content == EXPECTED
    gen: AsyncIterator[Any] = await llm.astream_chat(msgs)
    assert "".join([r.delta or "" async for r in gen]) == EXPECTED
    assert len(_posts(lunos_server)) == 4
    await clients[1].aclose()


async def test_core_client_embeddings(
    lunos_server: LocalLunosServer, clients: tuple[Any, Any]
) -> None:
    client = LunosClient(
        api_key=lunos_server.api_key,
        base_url=lunos_server.base_url,
        http_client=clients[0],
        http_async_client=clients[1],
    )
    request = EmbeddingRequest(model="openai/text-embedding-3-small", input=["a", "b"])
    assert len(client.embed(request).vectors) == 2
    assert len((await client.aembed(request)).vectors) == 2
    await clients[1].aclose()


def test_retries_and_status_errors_are_typed(
    lunos_server: LocalLunosServer, clients: tuple[Any, Any]
) -> None:
    lunos_server.enqueue(ErrorReply(429, headers={"Retry-After": "0"}))
    chat = _chat(lunos_server, *ROUTES[0], clients, max_retries=1)
    assert chat.invoke("ping").content == EXPECTED
    lunos_server.enqueue(ErrorReply(401))
    with pytest.raises(E.AuthenticationError):
        chat.invoke("ping")
    assert len(_posts(lunos_server)) == 3


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


async def test_transport_errors_are_typed_not_httpx2s(clients: tuple[Any, Any]) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    chat = ChatLunos(
        model="openai/gpt-4o",
        api_key="sk-test",
        base_url=url,
        max_retries=0,
        http_client=clients[0],
        http_async_client=clients[1],
    )
    with pytest.raises(E.APIConnectionError, match="Could not reach") as ei:
        chat.invoke("ping")
    cause = ei.value.__cause__  # the adapter's class wraps the core error, which wraps httpx2's
    assert isinstance(cause, E.APIConnectionError)
    assert isinstance(cause.__cause__, httpx2.ConnectError)
    with pytest.raises(E.APIConnectionError):
        await chat.ainvoke("ping")
    await clients[1].aclose()


async def test_the_progress_clock_bounds_httpx2_reads(
    lunos_server: LocalLunosServer, clients: tuple[Any, Any]
) -> None:
    """The deadline hooks wrap httpcore2's streams and raise *its* timeout, which httpx2
    maps; a foreign timeout class would escape untyped."""
    chat = _chat(lunos_server, *ROUTES[0], clients, stream_idle_timeout=0.3)
    for stream in (True, False):
        lunos_server.enqueue(StreamFault(idle_after_events=2, idle_seconds=30))
        with pytest.raises(E.StreamIdleTimeoutError):
            if stream:
                list(chat.stream("ping"))
            else:
                [c async for c in chat.astream("ping")]
    await clients[1].aclose()


def test_stale_pooled_connection_with_an_httpx2_client() -> None:
    from lunos_integrations.transport.http import Transport

    with TinyHTTPServer(stale=True) as peer, httpx2.Client() as client:
        config = resolve_config(api_key="sk-test", base_url=peer.base_url, max_retries=0)
        t = Transport(config, http_client=client)
        for _ in range(2):
            assert t.request("GET", "/models").status_code == 200
        assert (peer.answered, len(peer.requests)) == (2, 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"http_client": "not a client"},
            r"http_client must be an httpx\.Client or httpx2\.Client",
        ),
        ({"http_client": httpx2.AsyncClient()}, "pass it as http_async_client instead"),
        ({"http_async_client": httpx.Client()}, "pass it as http_client instead"),
    ],
)
@pytest.mark.parametrize("adapter", ["langchain", "llama_index"])
def test_other_clients_are_refused_at_construction(
    adapter: str, kwargs: dict[str, Any], match: str
) -> None:
    cls: Any = ChatLunos if adapter == "langchain" else LunosLLM
    with pytest.raises(E.LunosConfigError, match=match):
        cls(model="openai/gpt-4o", api_key="sk-test", **kwargs)


async def test_the_package_pools_can_run_on_httpx2(
    lunos_server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LUNOS_HTTP_STACK picks what the package's own pools are built with (read per model;
    the default, "auto", is httpx2 when installed)."""
    monkeypatch.setenv("LUNOS_HTTP_STACK", "httpx2")
    chat = ChatLunos(
        model="openai/gpt-4o", api_key=lunos_server.api_key, base_url=lunos_server.base_url
    )
    assert chat.invoke("ping").content == EXPECTED
    assert "".join([str(c.content) async for c in chat.astream("ping")]) == EXPECTED
    assert isinstance(chat.client.transport.sync_client, httpx2.Client)
    assert isinstance(chat.client.transport.async_client, httpx2.AsyncClient)
    monkeypatch.setenv("LUNOS_HTTP_STACK", "httpx")
    default = ChatLunos(
        model="openai/gpt-4o", api_key=lunos_server.api_key, base_url=lunos_server.base_url
    )
    assert type(default.client.transport.sync_client) is httpx.Client
    assert default.invoke("ping").content == EXPECTED
    assert default.client.config.pool_key() != chat.client.config.pool_key()
    monkeypatch.delenv("LUNOS_HTTP_STACK")
    assert resolve_config(api_key="sk-test").http_stack == "httpx2"  # auto: installed here
    await chat.client.aclose()


def test_an_unknown_http_stack_is_a_config_error() -> None:
    with pytest.raises(E.LunosConfigError, match="http_stack must be one of"):
        resolve_config(api_key="sk-test", http_stack="requests")
