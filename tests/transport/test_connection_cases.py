"""Issue 23: failures a retry cannot fix are sent once and say what to fix; a dead pooled
connection is resent once whatever max_retries is; a cut reply says the server answered;
TLS trust is read per configuration (a private CA made here, SSL_CERT_FILE changed
mid-process).

Against raw peers (testing/peers.py) on 127.0.0.1; counts come from the peers themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lunos_integrations import errors as E
from lunos_integrations.config import resolve_config
from lunos_integrations.testing.peers import RefusingProxy, TinyHTTPServer
from lunos_integrations.transport.http import Transport

from .private_ca import PrivateCA, make_private_ca

TLS_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "LUNOS_CA_BUNDLE", "LUNOS_USE_TRUSTSTORE")


@pytest.fixture(autouse=True)
def _no_tls_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TLS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def transports() -> Iterator[list[Transport]]:
    made: list[Transport] = []
    yield made
    for t in made:
        t.close()


def _transport(made: list[Transport], base_url: str, **kw: Any) -> Transport:
    kw.setdefault("retry_backoff", 0.01)
    t = Transport(resolve_config(api_key="sk-test-peer", base_url=base_url, **kw))
    made.append(t)
    return t


@pytest.fixture
def ca(tmp_path: Path) -> PrivateCA:
    return make_private_ca(tmp_path / "ca")


# ---------------------------------------------------------------- stale pooled connection


def test_stale_pooled_connection_is_resent_once_with_max_retries_0(
    transports: list[Transport],
) -> None:
    with TinyHTTPServer(stale=True) as peer:
        t = _transport(transports, peer.base_url, max_retries=0, timeout=31.1)
        for _ in range(3):
            assert t.request("POST", "/chat/completions", body={"x": 1}).status_code == 200
        # Calls 2 and 3 each met a dead kept-alive connection first, then a fresh one.
        assert peer.answered == 3
        assert len(peer.requests) == 5
        assert peer.connections == 3


def test_stale_pooled_connection_async(transports: list[Transport]) -> None:
    with TinyHTTPServer(stale=True) as peer:
        t = _transport(transports, peer.base_url, max_retries=0, timeout=31.2)

        async def calls() -> list[int]:
            out = [(await t.arequest("GET", "/models")).status_code for _ in range(2)]
            await t.aclose()
            return out

        assert asyncio.run(calls()) == [200, 200]
        assert (peer.answered, len(peer.requests), peer.connections) == (2, 3, 2)


def test_a_fresh_connection_dying_is_not_taken_for_a_stale_one(
    transports: list[Transport],
) -> None:
    """Only a reused connection earns the free resend: a new one that dies is an attempt."""
    with TinyHTTPServer(cut_after=0) as peer:  # every answer cut: each attempt is fresh
        t = _transport(transports, peer.base_url, max_retries=0, timeout=31.3)
        with pytest.raises(E.IncompleteResponseError):
            t.request("POST", "/chat/completions", body={"x": 1})
        assert len(peer.requests) == 1


# ---------------------------------------------------------------- cut non-streamed replies


def test_cut_post_body_says_the_server_answered_and_is_not_resent(
    transports: list[Transport],
) -> None:
    with TinyHTTPServer(cut_after=17) as peer:
        t = _transport(transports, peer.base_url, max_retries=3, timeout=31.4)
        with pytest.raises(E.IncompleteResponseError) as ei:
            t.request("POST", "/chat/completions", body={"x": 1})
        text = str(ei.value)
        assert "answered 200 to POST /chat/completions but the body was cut after 17 bytes" in text
        assert "Could not reach" not in text and ei.value.received == 17
        assert len(peer.requests) == 1  # part of an answer arrived: it may have been billed


def test_cut_get_body_is_retried(transports: list[Transport]) -> None:
    with TinyHTTPServer(cut_after=5) as peer:
        t = _transport(transports, peer.base_url, max_retries=1, timeout=31.5)
        with pytest.raises(E.IncompleteResponseError, match=r"cut after 5 bytes \(2 attempts\)"):
            t.request("GET", "/models")
        assert len(peer.requests) == 2


def test_cut_body_async(transports: list[Transport]) -> None:
    with TinyHTTPServer(cut_after=0) as peer:
        t = _transport(transports, peer.base_url, max_retries=2, timeout=31.6)

        async def call() -> BaseException:
            try:
                await t.arequest("POST", "/chat/completions", body={"x": 1})
            except E.LunosError as exc:
                return exc
            finally:
                await t.aclose()
            raise AssertionError("no error")

        exc = asyncio.run(call())
        assert isinstance(exc, E.IncompleteResponseError) and exc.received == 0
        assert len(peer.requests) == 3  # nothing had arrived: resent up to max_retries


# ---------------------------------------------------------------- proxy 407


def test_proxy_407_to_connect_is_sent_once_and_hides_the_password(
    transports: list[Transport],
) -> None:
    with RefusingProxy() as proxy:
        secret_proxy = proxy.url.replace("http://", "http://alice:pr0xy-s3cret@")
        t = _transport(
            transports, "https://lunos.test/v1", proxy=secret_proxy, max_retries=3, timeout=31.7
        )
        with pytest.raises(E.ProxyAuthenticationError) as ei:
            t.request("GET", "/models")
        assert len(proxy.requests) == 1 and proxy.requests[0].startswith("CONNECT ")
    text = f"{ei.value} {ei.value!r}"
    assert "pr0xy-s3cret" not in text and "alice:***@" in text
    assert "407" in text and "credentials" in text


def test_proxy_407_to_a_forwarded_request_is_sent_once(transports: list[Transport]) -> None:
    with RefusingProxy() as proxy:
        t = _transport(
            transports, "http://lunos.test/v1", proxy=proxy.url, max_retries=3, timeout=31.8
        )
        with pytest.raises(E.ProxyAuthenticationError, match="407"):
            t.request("POST", "/chat/completions", body={"x": 1})
        assert len(proxy.requests) == 1 and proxy.requests[0].startswith("POST http://")


# ---------------------------------------------------------------- TLS with a private CA


def test_untrusted_certificate_is_tried_once_and_names_the_fix(
    ca: PrivateCA, transports: list[Transport]
) -> None:
    with TinyHTTPServer(ssl_context=ca.server_context()) as peer:
        t = _transport(transports, peer.base_url, max_retries=4, timeout=31.9)
        with pytest.raises(E.TLSVerificationError) as ei:
            t.request("GET", "/models")
        assert peer.connections == 1
    text = str(ei.value)
    assert "SSL_CERT_FILE" in text and "ca_bundle" in text and "certifi" in text


def test_ssl_cert_file_set_mid_process_reaches_new_models(
    ca: PrivateCA, transports: list[Transport], monkeypatch: pytest.MonkeyPatch
) -> None:
    with TinyHTTPServer(ssl_context=ca.server_context()) as peer:
        before = _transport(transports, peer.base_url, max_retries=0, timeout=32.0)
        with pytest.raises(E.TLSVerificationError):
            before.request("GET", "/models")
        monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))  # the user fixes their setup
        after = _transport(transports, peer.base_url, max_retries=0, timeout=32.0)
        assert after.request("GET", "/models").status_code == 200
        assert after.config.pool_key() != before.config.pool_key()
        with pytest.raises(E.TLSVerificationError, match="certifi"):
            before.request("GET", "/models")  # configured before the fix: keeps its trust


def test_ca_bundle_argument_and_async(ca: PrivateCA, transports: list[Transport]) -> None:
    with TinyHTTPServer(ssl_context=ca.server_context()) as peer:
        t = _transport(
            transports, peer.base_url, ca_bundle=str(ca.ca_file), max_retries=0, timeout=32.1
        )

        async def call() -> int:
            try:
                return (await t.arequest("GET", "/models")).status_code
            finally:
                await t.aclose()

        assert asyncio.run(call()) == 200


def test_truststore_with_the_private_ca_added(ca: PrivateCA, transports: list[Transport]) -> None:
    pytest.importorskip("truststore", reason="truststore is not installed")
    with TinyHTTPServer(ssl_context=ca.server_context()) as peer:
        bare = _transport(transports, peer.base_url, use_truststore=True, timeout=32.2)
        with pytest.raises(E.TLSVerificationError, match="operating system's trust store"):
            bare.request("GET", "/models")
        t = _transport(
            transports,
            peer.base_url,
            use_truststore=True,
            ca_bundle=str(ca.ca_file),
            timeout=32.2,
        )
        assert t.request("GET", "/models").status_code == 200


def test_a_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(E.LunosConfigError, match="neither a file nor a directory"):
        resolve_config(api_key="sk-x", ca_bundle=str(tmp_path / "nope.pem"))


def test_chat_model_and_its_catalog_fetch_each_try_an_untrusted_host_once(
    ca: PrivateCA,
) -> None:
    pytest.importorskip("langchain_core")
    from lunos_integrations.langchain import ChatLunos

    with TinyHTTPServer(ssl_context=ca.server_context()) as peer:
        model = ChatLunos(
            model="openai/gpt-4o", api_key="sk-test-peer", base_url=peer.base_url, timeout=32.3
        )
        with pytest.raises(E.TLSVerificationError):
            model.invoke("hi")
        # One handshake for the chat call, at most one for the catalog: not 3 + 3.
        assert 1 <= peer.connections <= 2


def test_adapters_take_the_trust_settings(ca: PrivateCA, tmp_path: Path) -> None:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    from llama_index.core.base.llms.types import ChatMessage

    from lunos_integrations.langchain import ChatLunos
    from lunos_integrations.llama_index import LunosLLM

    with TinyHTTPServer(ssl_context=ca.server_context()) as peer:
        common: dict[str, Any] = {
            "model": "openai/gpt-4o",
            "api_key": "sk-test-peer",
            "base_url": peer.base_url,
            "ca_bundle": str(ca.ca_file),
        }
        assert ChatLunos(**common).invoke("hi").content == "peer says hi"
        llm = LunosLLM(**common, use_truststore=True)
        assert llm.chat([ChatMessage(role="user", content="hi")]).message.content == "peer says hi"
    with pytest.raises(E.LunosConfigError, match="neither a file nor a directory"):
        ChatLunos(model="openai/gpt-4o", api_key="sk-x", ca_bundle=str(tmp_path / "no.pem"))
