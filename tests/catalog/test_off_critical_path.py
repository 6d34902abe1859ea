"""No chat, stream or embedding request waits for ``GET /v1/models``.

A slow, trickling, missing or unauthorised catalog must not delay or fail any call, and a
wrong key must show its ``AuthenticationError`` without a catalog warning in front of it.
A slow catalog is judged by the server's own record (every call ended while its
``/models`` request was still unanswered); a trickling one, which never finishes, by a
"did not hang" bound far above a call and far below the 600 s a wait for it would take.
The measured figures live in benchmarks/cold_start.py.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lunos_integrations.catalog import LunosCatalogWarning, shared_catalog
from lunos_integrations.testing import LocalLunosServer, StreamFault

pytestmark = pytest.mark.timeout(60)

MODEL = "openai/gpt-4o-mini"
SLOW = 40.0  # seconds the catalog takes; every call below must end before it answers
#: A call that waited for a trickling catalog would wait for its timeout (600 s).
NOT_HUNG = 20.0


def _flows(srv: LocalLunosServer) -> dict[str, Callable[[], Any]]:
    from llama_index.core.llms import ChatMessage

    from lunos_integrations.langchain import ChatLunos, LunosEmbeddings
    from lunos_integrations.llama_index import LunosLLM

    settings: dict[str, Any] = {"base_url": srv.base_url, "api_key": srv.api_key}
    lc = ChatLunos(model=MODEL, **settings)
    lc_messages = ChatLunos(model="anthropic/claude-sonnet-4", api="messages", **settings)
    li = LunosLLM(model=MODEL, **settings)
    emb = LunosEmbeddings(model="openai/text-embedding-3-small", **settings)
    msgs = [ChatMessage(role="user", content="hi")]
    return {
        "ChatLunos.invoke": lambda: lc.invoke("hi"),
        "ChatLunos.ainvoke": lambda: asyncio.run(lc.ainvoke("hi")),
        "ChatLunos.stream": lambda: list(lc.stream("hi")),
        "ChatLunos.stream (messages)": lambda: list(lc_messages.stream("hi")),
        "LunosLLM.chat": lambda: li.chat(msgs),
        "LunosLLM.stream_chat": lambda: list(li.stream_chat(msgs)),
        "LunosEmbeddings.embed_query": lambda: emb.embed_query("hi"),
    }


@pytest.fixture
def slow() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(catalog_profile="slow", catalog_delay=SLOW) as srv:
        shared_catalog(srv.base_url).price_wait = 0.05  # the production bound
        yield srv


def test_first_calls_do_not_wait_for_a_slow_catalog(slow: LocalLunosServer) -> None:
    for name, call in _flows(slow).items():
        call()
        catalog = [r for r in slow.requests if r.path.endswith("/models")]
        answered = [r for r in catalog if r.replied is not None]
        assert not answered, f"{name} ended after the catalog answered: it waited for it"
    # the prompt is always the first request on the wire: no /models before the first chat
    paths = [r.path for r in slow.requests]
    assert not paths[0].endswith("/models"), paths


def test_a_trickling_catalog_hangs_nothing() -> None:
    with LocalLunosServer() as srv:
        shared_catalog(srv.base_url).price_wait = 0.05
        # every /models answer trickles one byte every 0.5 s
        for _ in range(20):
            srv.enqueue(StreamFault(split_writes=1, write_pause=0.5), path="/v1/models")
        for name, call in _flows(srv).items():
            started = time.monotonic()
            call()
            elapsed = time.monotonic() - started
            assert elapsed < NOT_HUNG, f"{name} took {elapsed:.2f} s behind a trickling catalog"


@pytest.mark.parametrize("profile", ["none", "unauthorized"])
def test_calls_work_without_a_catalog_and_stay_quiet(profile: str) -> None:
    from lunos_integrations import track_usage

    with (
        LocalLunosServer(catalog_profile=profile) as srv,  # type: ignore[arg-type]
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        with track_usage() as usage:
            flows = _flows(srv)
            for call in flows.values():
                call()
    assert usage.requests == len(flows) and usage.input_tokens > 0
    assert usage.unpriced_requests == len(flows)  # unknown cost: None, not 0
    assert not [w for w in caught if issubclass(w.category, LunosCatalogWarning)]


def test_a_wrong_key_raises_its_error_without_a_catalog_warning(
    lunos_server: LocalLunosServer,
) -> None:
    from lunos_integrations.errors import AuthenticationError
    from lunos_integrations.langchain import ChatLunos
    from lunos_integrations.llama_index import LunosLLM

    settings: dict[str, Any] = {"base_url": lunos_server.base_url, "api_key": "sk-wrong"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Exception) as lc_error:
            ChatLunos(model=MODEL, **settings).invoke("hi")
        with pytest.raises(AuthenticationError):
            from llama_index.core.llms import ChatMessage

            LunosLLM(model=MODEL, **settings).chat([ChatMessage(role="user", content="hi")])
        shared_catalog(lunos_server.base_url).cache.wait(lunos_server.base_url, 5.0)
    cause = lc_error.value.__cause__ or lc_error.value
    assert isinstance(cause, AuthenticationError)
    assert not [w for w in caught if issubclass(w.category, LunosCatalogWarning)], [
        str(w.message) for w in caught
    ]


def test_reading_a_profile_without_a_catalog_warns_once() -> None:
    """The data was needed and is missing: that is worth one warning (not per call)."""
    from lunos_integrations.langchain import ChatLunos

    with LocalLunosServer(catalog_profile="unauthorized") as srv:
        chat = ChatLunos(model=MODEL, base_url=srv.base_url, api_key=srv.api_key)
        with pytest.warns(LunosCatalogWarning, match="could not be used") as record:
            assert chat.profile is not None and "max_input_tokens" not in chat.profile
            other = ChatLunos(model=MODEL, base_url=srv.base_url, api_key=srv.api_key)
            assert other.profile is not None and len(other.profile) == 0
        assert len([w for w in record if w.category is LunosCatalogWarning]) == 1
