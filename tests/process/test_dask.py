"""ChatLunos inside a real distributed engine: a Dask ``LocalCluster`` with process workers.

Why: users scale out with engines that ship the model to worker processes by pickling it
(Dask's workers start by spawning). Each answer must come back for its own prompt, and
usage tracked in the workers must add up to what the server actually served.
The cluster is small (2 single-threaded process workers, no dashboard) and every wait is
bounded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lunos_integrations.langchain import ChatLunos
from lunos_integrations.testing import LocalLunosServer

from .support import MODELS, answer_in_worker, crossed, prompt_of

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] is not installed (test extra)"
)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster, timeout=60) as client,
    ):
        client.wait_for_workers(2, timeout=120)
        yield client


@pytest.mark.parametrize("api", ["chat_completions", "messages"])
def test_forty_prompts_over_two_process_workers(
    api: str, dask_client: distributed.Client, lunos_server: LocalLunosServer
) -> None:
    """Acceptance: 40 prompts, 40 matching answers, usage totals equal the server's count."""
    model = ChatLunos(
        model=MODELS[api],
        api=api,
        api_key=lunos_server.api_key,
        base_url=lunos_server.base_url,
        max_retries=0,
        timeout=20,
    )
    prompts = [f"dask/{api}/prompt {i:02d}" for i in range(40)]
    chunks = [prompts[i : i + 5] for i in range(0, 40, 5)]
    addresses = sorted(dask_client.scheduler_info()["workers"])
    assert len(addresses) == 2
    futures = [
        dask_client.submit(
            answer_in_worker,
            model,  # shipped to the worker process by pickling
            chunk,
            i % 2 == 1,  # half batch, half abatch
            workers=[addresses[i % 2]],  # both workers get half the chunks
            allow_other_workers=False,
            pure=False,
        )
        for i, chunk in enumerate(chunks)
    ]
    results = dask_client.gather(futures, errors="raise")
    pairs = [pair for r in results for pair in r["pairs"]]
    assert [p for p, _ in pairs] == prompts
    assert crossed(pairs) == []
    workers = {r["pid"] for r in results}
    assert len(workers) == 2 and os.getpid() not in workers
    served = [r for r in lunos_server.requests if prompt_of(r) in set(prompts)]
    assert len(served) == 40
    assert sum(r["requests"] for r in results) == len(served)
    assert sum(r["total_tokens"] for r in results) == sum(r["reported_tokens"] for r in results)
    print(
        f"\ndask {api}: 40 prompts, {40 - len(crossed(pairs))} matching answers, "
        f"{len(workers)} worker processes, usage requests "
        f"{sum(r['requests'] for r in results)} = server {len(served)}"
    )
