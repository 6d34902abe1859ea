"""Distributed: ChatLunos on a Dask cluster, LunosEmbedding in a multi-process ingestion.

Shows that Lunos models travel to other processes the way these engines ship work: by
pickling. A pickled model carries its settings and its key (inside its ``SecretStr``), never
its connections; each worker process opens its own. Two engines:

* **Dask** — a ``distributed.LocalCluster`` with two *process* workers; each task runs
  ``ChatLunos.batch`` (or ``abatch``) on a slice of the prompts and returns the answers
  with the usage it tracked, so the parent adds usage up across processes.
* **LlamaIndex** — ``IngestionPipeline(num_workers=2)`` splits documents and embeds the
  chunks with ``LunosEmbedding`` in two worker processes.

Each answer is checked against its own prompt (offline, the fake model echoes it).
Requires ``pip install "dask[distributed]"``.

Run: ``python cookbook/distributed_workers.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
from typing import TYPE_CHECKING, Any

from _setup import CHAT_MODEL, EMBEDDING_MODEL, connection, section

from lunos_integrations import track_usage

if TYPE_CHECKING:
    from lunos_integrations import ChatLunos, LunosEmbedding

# Worker processes start by importing this file (as ``__mp_main__``), so the heavy imports
# live in the functions that need them: each worker loads only its own framework.

QUESTIONS = [f"Summarise support ticket #{n} in one line." for n in range(101, 113)]


def answer_slice(model: ChatLunos, prompts: list[str], use_async: bool) -> dict[str, Any]:
    """Runs in a Dask worker process, on a copy of ``model`` unpickled there."""
    with track_usage() as usage:
        if use_async:
            replies = asyncio.run(model.abatch(prompts))
        else:
            replies = model.batch(prompts, config={"max_concurrency": 3})
    return {
        "pid": os.getpid(),
        "answers": [str(r.content) for r in replies],
        "usage": usage.snapshot(),
    }


def dask_batch(model: ChatLunos, offline: bool) -> None:
    from distributed import Client, LocalCluster

    slices = [QUESTIONS[i : i + 3] for i in range(0, len(QUESTIONS), 3)]
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,  # separate worker processes: the model is shipped by pickling
            dashboard_address=None,
            # Workers may log a heartbeat error while the cluster shuts down; not ours.
            silence_logs=logging.CRITICAL,
        ) as cluster,
        Client(cluster) as client,
    ):
        futures = client.map(
            answer_slice,
            [model] * len(slices),
            slices,
            [i % 2 == 1 for i in range(len(slices))],  # half with batch, half with abatch
            pure=False,
        )
        results = client.gather(futures)

    matched = 0
    for prompts, result in zip(slices, results, strict=True):
        for prompt, answer in zip(prompts, result["answers"], strict=True):
            print(f"[worker {result['pid']}] {prompt} -> {answer}")
            matched += answer == f"Hello! You said: {prompt}"
    requests = sum(r["usage"]["requests"] for r in results)
    tokens = sum(r["usage"]["total_tokens"] for r in results)
    cost = sum(r["usage"]["total_cost"] for r in results)
    if offline:  # the fake model echoes each prompt, so a crossed answer would show
        print(f"answers matched to their prompts: {matched}/{len(QUESTIONS)}")
    print(f"worker processes: {len({r['pid'] for r in results})}")
    print(f"usage added up from the workers: {requests} requests, {tokens} tokens, ${cost:.6f}")


def ingestion(embed: LunosEmbedding) -> None:
    from llama_index.core import Document
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import MetadataMode

    notes = "note {n} on ticket {t}: the parcel arrived late."
    documents = [
        Document(text=" ".join(notes.format(n=n, t=t) for n in range(12))) for t in range(101, 105)
    ]
    # A whitespace tokenizer: the default is a tiktoken encoding, which each worker would
    # rebuild by name (and, outside LlamaIndex's bundled cache, try to download).
    splitter = SentenceSplitter(chunk_size=64, chunk_overlap=0, tokenizer=str.split)
    pipeline = IngestionPipeline(transformations=[splitter, embed])
    nodes = pipeline.run(documents=documents, num_workers=2)

    # Re-embed the texts here and compare: every node must carry its own text's vector.
    texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes]
    again = embed.get_text_embedding_batch(texts)
    same = sum(
        _cosine(node.embedding or [], vector) > 0.999
        for node, vector in zip(nodes, again, strict=True)
    )
    print(f"nodes embedded in 2 worker processes: {len(nodes)}")
    print(f"vectors matching their own text: {same}/{len(nodes)}")


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) or 1.0)


def main() -> None:
    from lunos_integrations import ChatLunos, LunosEmbedding

    conn = connection()

    section("Dask LocalCluster: ChatLunos.batch / abatch in 2 worker processes")
    model = ChatLunos(model=CHAT_MODEL, app_id="cookbook-distributed", **conn.kwargs)
    dask_batch(model, conn.offline)

    section("LlamaIndex IngestionPipeline(num_workers=2) with LunosEmbedding")
    ingestion(LunosEmbedding(model_name=EMBEDDING_MODEL, **conn.kwargs))


if __name__ == "__main__":
    main()
