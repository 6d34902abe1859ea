"""Async clients live and die with their event loop: ``asyncio.run`` per call stays bounded.

Why: scripts, notebooks, Celery tasks and Lambda handlers call ``asyncio.run(model.ainvoke(
...))`` over and over. Each run is a new loop, and an async connection pool cannot outlive
its loop; pools that were only dropped (never closed) kept one socket per run open and
warned at garbage collection. The measurement runs in a fresh interpreter with
``-W error::ResourceWarning`` so that any socket closed by the garbage collector instead of
by us shows up.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.transport.pools import POOLS, _Shards

from .support import aask, build, matches

ROOT = Path(__file__).resolve().parents[2]

_SCRIPT = r"""
import asyncio, gc, json, os, sys
unraisable = []
sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value}")
from lunos_integrations.langchain import ChatLunos, LunosEmbeddings
from lunos_integrations.llama_index import LunosLLM
from lunos_integrations.transport.pools import POOLS, _Shards
from tests.process.support import aask, matches, socket_fds

key, url = os.environ["T_KEY"], os.environ["T_URL"]
common = dict(api_key=key, base_url=url, max_retries=0, timeout=20)
chat = ChatLunos(model="openai/gpt-4o", **common)
claude = LunosLLM(model="anthropic/claude-sonnet-4", api="messages", **common)
embed = LunosEmbeddings(model="openai/text-embedding-3-small", **common)

async def one_run(i):
    answers = [await aask(chat, f"run {i} chat"), await aask(claude, f"run {i} claude")]
    streamed = "".join([str(c.content) async for c in chat.astream(f"run {i} stream")])
    vector = await embed.aembed_query(f"run {i}")
    assert matches(f"run {i} chat", answers[0]) and matches(f"run {i} claude", answers[1])
    assert matches(f"run {i} stream", streamed) and len(vector) == 1536
    return POOLS.stats()["async_clients"]

during = [asyncio.run(one_run(0))]
gc.collect()
after_one = socket_fds()
for i in range(1, 50):
    during.append(asyncio.run(one_run(i)))
gc.collect()
after_fifty = socket_fds()
print(json.dumps({
    "after_one": after_one, "after_fifty": after_fifty, "during_max": max(during),
    "async_clients_after": POOLS.stats()["async_clients"], "unraisable": unraisable,
}))
"""


@pytest.mark.timeout(180)
def test_fifty_asyncio_runs_keep_sockets_bounded_without_resource_warnings(
    lunos_server: LocalLunosServer,
) -> None:
    env = {
        **os.environ,
        "T_KEY": lunos_server.api_key,
        "T_URL": lunos_server.base_url,
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    result = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", _SCRIPT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=150,
    )
    assert result.returncode == 0, result.stderr
    assert "ResourceWarning" not in result.stderr, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\n50 x asyncio.run (4 calls each): {figures}")
    assert figures["unraisable"] == []
    # Each run's pool exists while the loop runs and is closed when it shuts down.
    assert figures["during_max"] >= 1
    assert figures["async_clients_after"] == 0
    assert figures["after_fifty"] <= figures["after_one"]
    assert lunos_server.wait_for_open_connections(0, timeout=5)
    assert lunos_server.total_connections >= 50  # every run really used its own pool


def _async_clients(model: object) -> int:
    """Live async clients of ``model``'s own pool (each test uses its own pool key)."""
    entry = POOLS._entries.get(model.client.config.pool_key())  # type: ignore[attr-defined]
    return 0 if entry is None else sum(len(s.clients) for s in entry.by_loop.values())


@pytest.mark.timeout(60)
def test_loops_closed_without_shutdown_are_forgotten_on_the_next_loop(
    lunos_server: LocalLunosServer,
) -> None:
    """Hand-made loops (``run_until_complete`` then ``close``) skip ``shutdown_asyncgens``:
    their pools cannot be closed properly any more (the garbage collector closes those
    sockets), but they are not kept either: at most one such pool stays, not one per loop."""
    model = build("langchain", "chat_completions", lunos_server, max_connections=91)
    sizes = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for i in range(20):
            loop = asyncio.new_event_loop()
            try:
                assert matches(f"loop {i}", loop.run_until_complete(aask(model, f"loop {i}")))
            finally:
                loop.close()
            sizes.append(_async_clients(model))
        gc.collect()
    assert sizes[0] >= 1
    assert sizes == [sizes[0]] * 20


@pytest.mark.timeout(60)
def test_concurrent_loops_in_threads_each_get_a_pool_closed_at_their_end(
    lunos_server: LocalLunosServer,
) -> None:
    """Bounded by live loops: three threads, each with its own ``asyncio.run``."""
    model = build("llama_index", "chat_completions", lunos_server, max_connections=92)
    seen: list[int] = []
    errors: list[BaseException] = []
    start, measured = threading.Barrier(3), threading.Barrier(3)

    def worker(n: int) -> None:
        async def run() -> None:
            start.wait(10)
            prompts = [f"thread {n} call {k}" for k in range(5)]
            answers = await asyncio.gather(*(aask(model, p) for p in prompts))
            assert all(matches(p, a) for p, a in zip(prompts, answers, strict=True))
            seen.append(_async_clients(model))
            await asyncio.to_thread(measured.wait, 10)  # all three loops are alive here

        try:
            asyncio.run(run())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    per_loop = _shards_per_loop(model)
    assert max(seen) == 3 * per_loop  # three live loops, three pools
    assert _async_clients(model) == 0  # each closed with its loop
    assert lunos_server.wait_for_open_connections(0, timeout=5)


def _shards_per_loop(model: object) -> int:
    config = model.client.config  # type: ignore[attr-defined]
    return len(_Shards(config).clients)
