"""LunosEmbedding inside LlamaIndex's ``IngestionPipeline(num_workers=2)``.

Why: the pipeline pickles its transformations into worker processes (``run``: a spawn
pool; ``arun``: a ``ProcessPoolExecutor``, which forks on Linux). Every node must come back
with the embedding of its own text: the fake model's vectors are derived from the text, so
a vector computed for another node's text is caught.
"""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode

from lunos_integrations.llama_index import LunosEmbedding
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.fake_embeddings import embedding_vector

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

DOCS = [
    Document(text=" ".join(f"Document {d} sentence {s} on topic {d * 7 + s}." for s in range(30)))
    for d in range(4)
]


def _splitter() -> SentenceSplitter:
    # A whitespace tokenizer: the default one is a tiktoken encoding, which a worker
    # unpickles by name and, outside LlamaIndex's bundled cache, tries to download.
    return SentenceSplitter(chunk_size=64, chunk_overlap=0, tokenizer=str.split)


@pytest.mark.parametrize("mode", ["run", "arun"])
def test_every_node_gets_the_embedding_of_its_own_text(
    mode: str, lunos_server: LocalLunosServer
) -> None:
    embed = LunosEmbedding(
        model_name="openai/text-embedding-3-small",
        api_key=lunos_server.api_key,
        base_url=lunos_server.base_url,
        embed_batch_size=4,
        max_retries=0,
        timeout=20,
    )
    pipeline = IngestionPipeline(transformations=[_splitter(), embed])
    if mode == "run":
        nodes = pipeline.run(documents=DOCS, num_workers=2)
    else:
        nodes = asyncio.run(pipeline.arun(documents=DOCS, num_workers=2))
    assert len(nodes) >= 8
    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    assert len(set(texts)) == len(texts)
    expected = [embedding_vector(text, 1536) for text in texts]
    wrong = [t for t, n, e in zip(texts, nodes, expected, strict=True) if n.embedding != e]
    assert wrong == []
    embedded = [
        text
        for r in lunos_server.requests
        if r.path == "/v1/embeddings" and isinstance(r.json, dict)
        for text in r.json["input"]
    ]
    assert sorted(embedded) == sorted(texts)  # each node embedded once, by the workers
    print(f"\nIngestionPipeline.{mode}(num_workers=2): {len(nodes)} nodes, 0 mismatched")
