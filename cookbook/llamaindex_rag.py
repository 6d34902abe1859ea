"""LlamaIndex RAG: a ``VectorStoreIndex`` over bundled text files, LunosEmbedding + LunosLLM.

Shows the usual LlamaIndex pipeline with Lunos for both halves: ``SimpleDirectoryReader``
loads ``cookbook/data/*.txt``, ``LunosEmbedding`` embeds the chunks into an in-memory
``VectorStoreIndex``, and a streaming query engine retrieves the best chunks and streams
``LunosLLM``'s answer token by token, then lists the source nodes (file and score).

Nothing is downloaded: LlamaIndex's sentence splitter uses the tokenizer and NLTK data
bundled inside ``llama-index-core``.

Run: ``python cookbook/llamaindex_rag.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

from pathlib import Path

from _setup import CHAT_MODEL, EMBEDDING_MODEL, connection, section
from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.base.response.schema import StreamingResponse

from lunos_integrations import LunosEmbedding, LunosLLM, track_usage

DATA_DIR = Path(__file__).parent / "data"


def main() -> None:
    conn = connection()
    Settings.llm = LunosLLM(model=CHAT_MODEL, temperature=0, app_id="cookbook-rag", **conn.kwargs)
    Settings.embed_model = LunosEmbedding(
        model_name=EMBEDDING_MODEL, app_id="cookbook-rag", **conn.kwargs
    )
    if conn.offline:
        print(
            "note: the local server's embeddings are hash-based, not semantic, so offline the "
            "retrieved chunks are arbitrary; with a real key they are the relevant ones."
        )

    with track_usage() as usage:
        section("indexing")
        documents = SimpleDirectoryReader(str(DATA_DIR), required_exts=[".txt"]).load_data()
        index = VectorStoreIndex.from_documents(documents)
        print(f"indexed {len(documents)} files from {DATA_DIR.name}/")

        section("streaming query")
        query_engine = index.as_query_engine(streaming=True, similarity_top_k=2)
        question = "How long do I have to return unworn boots, and how is the refund paid?"
        print("question:", question)
        response = query_engine.query(question)
        assert isinstance(response, StreamingResponse)  # because streaming=True
        print("answer: ", end="", flush=True)
        for text in response.response_gen:
            print(text, end="", flush=True)
        print()

        section("source nodes")
        for node in response.source_nodes:
            name = node.node.metadata.get("file_name", "?")
            snippet = node.node.get_content().splitlines()[0]
            print(f"- {name} (score {node.score:.3f}): {snippet}")

    section("usage")
    for model, totals in usage.by_model.items():
        print(
            f"{model}: {totals.requests} requests, {totals.total_tokens} tokens, "
            f"${totals.total_cost:.6f}"
        )


if __name__ == "__main__":
    main()
