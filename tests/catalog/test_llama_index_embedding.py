"""LunosEmbedding for LlamaIndex: text, query, batch, async, and a VectorStoreIndex end to end."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding

from lunos_integrations import track_usage
from lunos_integrations.errors import LunosConfigError, LunosInputError
from lunos_integrations.llama_index.embedding import LunosEmbedding
from lunos_integrations.testing.server import LocalLunosServer

MODEL = "openai/text-embedding-3-small"


def _emb(server: LocalLunosServer, **kw: Any) -> LunosEmbedding:
    return LunosEmbedding(model_name=MODEL, api_key=server.api_key, base_url=server.base_url, **kw)


def _bodies(server: LocalLunosServer) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path.endswith("/embeddings")]


def test_is_a_base_embedding(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server)
    assert isinstance(emb, BaseEmbedding)
    assert emb.class_name() == "LunosEmbedding"


def test_text_query_and_batch(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server, embed_batch_size=2)
    q = emb.get_query_embedding("what is lunos?")
    t = emb.get_text_embedding("what is lunos?")
    assert q == t and len(q) == 1536 and isinstance(q[0], float)
    batch = emb.get_text_embedding_batch(["a", "b", "c", "d", "e"])
    assert len(batch) == 5
    assert batch[2] == emb.get_text_embedding("c")
    sizes = [len(b["input"]) for b in _bodies(lunos_server)]
    assert sizes[2:5] == [2, 2, 1]
    assert all(b["encoding_format"] == "float" for b in _bodies(lunos_server))


async def test_async_variants(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server, dimensions=32, embed_batch_size=3)
    q = await emb.aget_query_embedding("hello")
    t = await emb.aget_text_embedding("hello")
    assert q == t and len(q) == 32
    batch = await emb.aget_text_embedding_batch([f"x{i}" for i in range(7)])
    assert len(batch) == 7 and batch[4] == await emb.aget_text_embedding("x4")


def test_vector_store_index_end_to_end(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server)
    docs = [
        Document(text="Lunos is an AI gateway with unified billing."),
        Document(text="Paris is the capital of France."),
        Document(text="Bananas are rich in potassium."),
    ]
    with track_usage() as usage:
        index = VectorStoreIndex.from_documents(docs, embed_model=emb)
        nodes = index.as_retriever(similarity_top_k=1).retrieve("Paris is the capital of France.")
    assert len(nodes) == 1
    assert nodes[0].node.get_content() == "Paris is the capital of France."
    assert nodes[0].score == pytest.approx(1.0, abs=1e-6)
    assert usage.by_model[MODEL].requests >= 2  # documents + query


async def test_vector_store_index_async(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server)
    docs = [Document(text=f"document about topic {i}") for i in range(5)]
    index = VectorStoreIndex.from_documents(docs, embed_model=emb, use_async=True)
    nodes = await index.as_retriever(similarity_top_k=2).aretrieve("document about topic 3")
    assert nodes[0].node.get_content() == "document about topic 3"


def test_key_excluded_from_serialisation(lunos_server: LocalLunosServer) -> None:
    emb = _emb(lunos_server)
    assert lunos_server.api_key not in emb.to_json()
    assert "api_key" not in emb.to_dict()
    assert lunos_server.api_key not in repr(emb)


def test_settings_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LunosInputError) as info:
        LunosEmbedding(api_key="sk-unit", dimensions=0)
    assert info.value.param == "dimensions"
    monkeypatch.delenv("LUNOS_API_KEY", raising=False)
    with pytest.raises(LunosConfigError, match="LUNOS_API_KEY"):
        LunosEmbedding()


def test_env_configuration(monkeypatch: pytest.MonkeyPatch, lunos_server: LocalLunosServer) -> None:
    monkeypatch.setenv("LUNOS_API_KEY", lunos_server.api_key)
    monkeypatch.setenv("LUNOS_BASE_URL", lunos_server.base_url)
    monkeypatch.setenv("LUNOS_APP_ID", "li-app")
    emb = LunosEmbedding()
    assert len(emb.get_query_embedding("env")) == 1536
    # (the catalog fetch that pricing starts may land after the call: skip it)
    (sent,) = [r for r in lunos_server.requests if r.path.endswith("/embeddings")]
    assert sent.headers.get("x-app-id") == "li-app"
