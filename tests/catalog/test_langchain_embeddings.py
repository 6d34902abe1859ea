"""LunosEmbeddings: the langchain-tests standard suites plus batching, dimensions, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from lunos_integrations import track_usage
from lunos_integrations.errors import LunosConfigError, LunosInputError
from lunos_integrations.langchain.embeddings import LunosEmbeddings
from lunos_integrations.testing import Delay, RecordedRequest, peak_concurrency
from lunos_integrations.testing.server import LocalLunosServer

MODEL = "openai/text-embedding-3-small"


class TestLunosEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[LunosEmbeddings]:
        return LunosEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": MODEL, "api_key": "sk-unit-test-key"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "LUNOS_API_KEY": "sk-from-env",
                "LUNOS_BASE_URL": "https://gateway.example/v1",
                "LUNOS_APP_ID": "env-app",
            },
            {"model": MODEL},
            {
                "api_key": "sk-from-env",
                "base_url": "https://gateway.example/v1",
                "app_id": "env-app",
            },
        )


class TestLunosEmbeddingsIntegration(EmbeddingsIntegrationTests):
    server: LocalLunosServer | None = None

    @pytest.fixture(autouse=True)
    def _server(self, lunos_server_session: LocalLunosServer) -> Iterator[None]:
        type(self).server = lunos_server_session
        yield

    @property
    def embeddings_class(self) -> type[LunosEmbeddings]:
        return LunosEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        assert self.server is not None
        return {"model": MODEL, "api_key": self.server.api_key, "base_url": self.server.base_url}


def _emb(server: LocalLunosServer, **kw: Any) -> LunosEmbeddings:
    return LunosEmbeddings(model=MODEL, api_key=server.api_key, base_url=server.base_url, **kw)


def _embedding_requests(server: LocalLunosServer) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path.endswith("/embeddings")]


def _embedding_bodies(server: LocalLunosServer) -> list[dict[str, Any]]:
    return [r.json for r in _embedding_requests(server)]


def test_sends_raw_strings_and_float_format(lunos_server: LocalLunosServer) -> None:
    vectors = _emb(lunos_server).embed_documents(["héllo wörld", "second"])
    body = _embedding_bodies(lunos_server)[0]
    assert body["input"] == ["héllo wörld", "second"]
    assert body["encoding_format"] == "float"
    assert "dimensions" not in body
    assert len(vectors) == 2 and all(isinstance(x, float) for x in vectors[0])


def test_dimensions(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server, dimensions=64)
    assert len(emb.embed_query("short")) == 64
    assert _embedding_bodies(lunos_server)[0]["dimensions"] == 64


def test_chunking_preserves_order(lunos_server: LocalLunosServer) -> None:
    texts = [f"text number {i}" for i in range(23)]
    emb = _emb(lunos_server, chunk_size=5, max_concurrency=3)
    batched = emb.embed_documents(texts)
    sizes = sorted(len(b["input"]) for b in _embedding_bodies(lunos_server))
    assert sizes == [3, 5, 5, 5, 5]  # chunks may finish in any order; vectors may not
    one_by_one = [_emb(lunos_server).embed_query(t) for t in texts]
    assert batched == one_by_one  # deterministic fake: same text, same vector, same order


async def test_async_chunking_preserves_order(lunos_server: LocalLunosServer) -> None:
    texts = [f"async text {i}" for i in range(10)]
    emb = _emb(lunos_server, chunk_size=3, max_concurrency=2)
    batched = await emb.aembed_documents(texts)
    assert len(_embedding_bodies(lunos_server)) == 4
    assert batched == [await emb.aembed_query(t) for t in texts]


async def test_async_concurrency_is_bounded(lunos_server: LocalLunosServer) -> None:
    for _ in range(6):
        lunos_server.enqueue(Delay(0.2), path="/embeddings")
    emb = _emb(lunos_server, chunk_size=1, max_concurrency=2)
    await emb.aembed_documents([f"t{i}" for i in range(6)])
    # the server's own view: never more than two embedding requests at once
    assert peak_concurrency(_embedding_requests(lunos_server)) == 2


def test_sync_concurrency_is_used(lunos_server: LocalLunosServer) -> None:
    for _ in range(4):
        lunos_server.enqueue(Delay(1.0), path="/embeddings")
    emb = _emb(lunos_server, chunk_size=1, max_concurrency=4)
    emb.embed_documents(["a", "b", "c", "d"])
    # One after another, no two would overlap at the server; each is held 1 s there, so
    # threads that started together overlap however busy the machine is.
    assert peak_concurrency(_embedding_requests(lunos_server)) >= 2


def test_empty_input_makes_no_request(lunos_server: LocalLunosServer) -> None:
    assert _emb(lunos_server).embed_documents([]) == []
    assert _embedding_bodies(lunos_server) == []


def test_usage_tracked_across_threads(lunos_server: LocalLunosServer) -> None:
    with track_usage() as usage:
        _emb(lunos_server, chunk_size=2, max_concurrency=3).embed_documents(["a"] * 7)
    assert usage.by_model[MODEL].requests == 4
    assert usage.total_cost > 0


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"dimensions": 0}, "dimensions"),
        ({"model": " "}, "model"),
    ],
)
def test_bad_settings_name_the_parameter(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(LunosInputError) as info:
        LunosEmbeddings(api_key="sk-unit-test-key", **kwargs)
    assert info.value.param == param


def test_bad_inputs_name_the_parameter(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server)
    with pytest.raises(LunosInputError) as info:
        emb.embed_documents("not a list")  # type: ignore[arg-type]
    assert info.value.param == "texts"
    with pytest.raises(LunosInputError) as info:
        emb.embed_documents(["ok", 3])  # type: ignore[list-item]
    assert info.value.param == "texts[1]"


def test_missing_key_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUNOS_API_KEY", raising=False)
    with pytest.raises(LunosConfigError, match="LUNOS_API_KEY"):
        LunosEmbeddings()


def test_key_never_in_repr_or_dump() -> None:
    emb = LunosEmbeddings(api_key="sk-very-secret-value")
    assert "sk-very-secret-value" not in repr(emb)
    assert "sk-very-secret-value" not in str(emb.model_dump())
    assert "sk-very-secret-value" not in emb.model_dump_json()
