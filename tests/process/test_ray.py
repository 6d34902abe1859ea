"""The Dask check again on Ray: ``ray.init(num_cpus=2)``, the model shipped by pickling.

Why: Ray is the other engine users reach for; its workers are fresh processes that receive
the model (and the task's arguments) pickled, and each answer must match its prompt. Ray
starts offline here (no dashboard, a small object store) in well under the time limit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from lunos_integrations.langchain import ChatLunos
from lunos_integrations.testing import LocalLunosServer

from .support import answer_in_worker, crossed, prompt_of

ray = pytest.importorskip("ray", reason="ray is not installed (it has no wheel for this platform)")

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024 * 1024,
        # Workers import the task's module the way pytest imported it here.
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()


def test_forty_prompts_over_ray_workers(ray_session: Any, lunos_server: LocalLunosServer) -> None:
    model = ChatLunos(
        model="openai/gpt-4o",
        api_key=lunos_server.api_key,
        base_url=lunos_server.base_url,
        max_retries=0,
        timeout=20,
    )
    prompts = [f"ray/prompt {i:02d}" for i in range(40)]
    chunks = [prompts[i : i + 5] for i in range(0, 40, 5)]
    task = ray.remote(num_cpus=1)(answer_in_worker)
    shipped = ray.put(model)  # pickled once into the object store
    refs = [task.remote(shipped, chunk, i % 2 == 1) for i, chunk in enumerate(chunks)]
    results = ray.get(refs, timeout=180)
    pairs = [pair for r in results for pair in r["pairs"]]
    assert [p for p, _ in pairs] == prompts
    assert crossed(pairs) == []
    workers = {r["pid"] for r in results}
    assert workers and os.getpid() not in workers
    served = [r for r in lunos_server.requests if prompt_of(r) in set(prompts)]
    assert len(served) == 40
    assert sum(r["requests"] for r in results) == len(served)
    print(
        f"\nray: 40 prompts, {40 - len(crossed(pairs))} matching answers, "
        f"{len(workers)} worker processes, usage requests {sum(r['requests'] for r in results)}"
        f" = server {len(served)}"
    )
