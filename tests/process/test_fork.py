"""After ``fork`` a child never uses its parent's sockets, locks or clients.

Why: gunicorn ``--preload``, Celery prefork and ``multiprocessing``'s ``fork`` start method
fork a process whose models already hold keep-alive connections. A child that sends its
request over an inherited socket reads whatever answer arrives on it: its parent's, or a
sibling's (one user's prompt answered with another's completion). These tests fork for
real, with unique prompts the fake model echoes, and check at the server that every child
opened connections of its own while the parent kept using its own.

Every wait is bounded: a hung child is killed and reported, never waited on forever.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from lunos_integrations.catalog import clear_catalog_cache
from lunos_integrations.testing import Delay, LocalLunosServer
from lunos_integrations.transport import pools, tls
from lunos_integrations.usage import track_usage

from .support import (
    ADAPTERS,
    ROUTES,
    Adapter,
    aask,
    ask,
    ask_many_async,
    build,
    connections_by_prompt,
    crossed,
    matches,
    rerun_without_xdist,
)

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is not available on this OS"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

CHILD_TIMEOUT = 60.0

#: The model the forked workers use: inherited through fork, never pickled.
_MODEL: Any = None


def _pool_job(prompt: str) -> tuple[str, str, int]:
    """One job in a ``multiprocessing`` fork worker; sync or async as the prompt says."""
    sync = prompt.endswith("/sync")
    answer = ask(_MODEL, prompt) if sync else asyncio.run(aask(_MODEL, prompt))
    return prompt, answer, os.getpid()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("api", ROUTES)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_fork_pool_rounds_answer_every_job_with_its_own_answer(
    adapter: Adapter, api: str, lunos_server: LocalLunosServer
) -> None:
    """Acceptance: 3 rounds x 2 fork workers x 6 distinct jobs (half sync, half async)."""
    global _MODEL
    model = _MODEL = build(adapter, api, lunos_server)
    assert matches("parent first", ask(model, "parent first"))
    parent_connections = {r.connection for r in lunos_server.requests}
    ctx = multiprocessing.get_context("fork")
    per_child: dict[int, set[int]] = {}
    try:
        for rnd in range(3):
            prompts = [
                f"{adapter}/{api}/round{rnd}/job{j}/{'sync' if j % 2 == 0 else 'async'}"
                for j in range(6)
            ]
            with ctx.Pool(2) as pool:
                results = pool.map_async(_pool_job, prompts, chunksize=1).get(CHILD_TIMEOUT)
            assert [r[0] for r in results] == prompts
            assert crossed((p, a) for p, a, _ in results) == []
            used = connections_by_prompt(lunos_server)
            for prompt, _, pid in results:
                per_child.setdefault(pid, set()).add(used[prompt])
            # The parent is unaffected: it still answers, on the connection it had before.
            after = f"parent after round {rnd}"
            assert matches(after, ask(model, after))
            assert connections_by_prompt(lunos_server)[after] in parent_connections
    finally:
        _MODEL = None
    assert len(per_child) >= 3  # every round has fresh workers
    for pid, connections in per_child.items():
        assert connections, pid
        assert connections.isdisjoint(parent_connections), (pid, connections)
    for a, b in ((a, b) for a in per_child for b in per_child if a < b):
        assert per_child[a].isdisjoint(per_child[b]), "two processes shared a connection"
    print(
        f"\nfork pool {adapter}/{api}: 18 jobs, 0 crossed, 0 hangs, "
        f"{len(per_child)} workers, connections per worker "
        f"{sorted(len(c) for c in per_child.values())}"
    )


def _fork(work: Callable[[], Any]) -> tuple[int, int]:
    """Fork a child that runs ``work`` and writes its JSON result to a pipe; (pid, fd)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            os.close(read)
            with os.fdopen(write, "w") as out:
                json.dump(work(), out)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _collect(children: list[tuple[int, int]], timeout: float = CHILD_TIMEOUT) -> list[Any]:
    """Each child's result; a child still running at the deadline is killed and fails."""
    deadline = time.monotonic() + timeout
    pending = {pid for pid, _ in children}
    codes: dict[int, int] = {}
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                codes[pid] = os.waitstatus_to_exitcode(status)
                pending.discard(pid)
        time.sleep(0.02)
    for pid in pending:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    results = []
    for pid, fd in children:
        with os.fdopen(fd) as pipe:
            text = pipe.read()
        assert pid not in pending, f"child {pid} hung (killed after {timeout} s)"
        assert codes[pid] == 0, f"child {pid} failed with exit code {codes[pid]}"
        results.append(json.loads(text))
    return results


@pytest.mark.timeout(180)
@pytest.mark.parametrize("api", ROUTES)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_gunicorn_pattern_four_children_twenty_calls_each(
    adapter: Adapter, api: str, lunos_server: LocalLunosServer
) -> None:
    """Parent calls, forks 4 children; each makes 10 sync + 10 concurrent async calls."""
    model = build(adapter, api, lunos_server)
    assert matches("parent before fork", ask(model, "parent before fork"))
    parent_connections = {r.connection for r in lunos_server.requests}

    def child(i: int) -> Callable[[], Any]:
        def work() -> Any:
            sync = [f"{adapter}/{api}/child{i}/sync{k}" for k in range(10)]
            pairs = [(p, ask(model, p)) for p in sync]
            concurrent = [f"{adapter}/{api}/child{i}/async{k}" for k in range(10)]
            pairs += list(zip(concurrent, ask_many_async(model, concurrent), strict=True))
            return pairs

        return work

    results = _collect([_fork(child(i)) for i in range(4)])
    used = connections_by_prompt(lunos_server)
    owned: list[set[int]] = []
    for pairs in results:
        assert len(pairs) == 20
        assert crossed(pairs) == []
        owned.append({used[p] for p, _ in pairs})
    for i, connections in enumerate(owned):
        assert connections and connections.isdisjoint(parent_connections), i
        for j in range(i):
            assert connections.isdisjoint(owned[j]), (i, j)
    assert matches("parent after fork", ask(model, "parent after fork"))
    assert connections_by_prompt(lunos_server)["parent after fork"] in parent_connections
    assert matches("parent async after", asyncio.run(aask(model, "parent async after")))


@pytest.mark.timeout(120)
def test_child_starts_with_empty_pools_and_the_parents_leases() -> None:
    """The at-fork hook ran: nothing inherited is reachable, lease counts are kept."""
    with LocalLunosServer() as server:
        model = build("langchain", "chat_completions", server)
        ask(model, "warm up")
        before = pools.POOLS.stats()
        assert before["sync_clients"] >= 1

        def work() -> Any:
            return {
                "stats": pools.POOLS.stats(),
                "pid_matches": pools.POOLS._pid == os.getpid(),
                "tls_context_reset": not tls.CONTEXTS._contexts,
                "answer": ask(model, "in the child"),
            }

        (result,) = _collect([_fork(work)])
    assert result["stats"] == {**before, "sync_clients": 0, "async_clients": 0}
    assert result["pid_matches"] and result["tls_context_reset"]
    assert matches("in the child", result["answer"])


@pytest.mark.timeout(120)
def test_fork_without_python_hooks_is_caught_by_the_pid_check(
    lunos_server: LocalLunosServer, request: pytest.FixtureRequest
) -> None:
    """A fork made from C (here libc's fork through ctypes) skips ``os.register_at_fork``
    hooks; the pid check on the next pool access must still reset the pools."""
    if rerun_without_xdist(request):
        return
    model = build("langchain", "chat_completions", lunos_server)
    assert matches("parent", ask(model, "parent"))
    parent_connections = {r.connection for r in lunos_server.requests}
    libc_fork = ctypes.PyDLL(None).fork  # PyDLL: the GIL stays held across the call
    libc_fork.restype = ctypes.c_int
    read, write = os.pipe()
    pid = libc_fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            stale = pools.POOLS._pid != os.getpid()  # the hook did not run
            answer = ask(model, "raw fork child")
            with os.fdopen(write, "w") as out:
                json.dump([stale, answer, pools.POOLS._pid == os.getpid()], out)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    (result,) = _collect([(pid, read)])
    assert result == [True, "Hello! You said: raw fork child", True]
    assert connections_by_prompt(lunos_server)["raw fork child"] not in parent_connections
    assert matches("parent again", ask(model, "parent again"))


@pytest.mark.timeout(120)
def test_locks_held_by_another_thread_at_fork_do_not_deadlock_the_child(
    lunos_server: LocalLunosServer,
) -> None:
    """Every process-wide lock is held by a parent thread at the moment of the fork."""
    from lunos_integrations.catalog import shared
    from lunos_integrations.catalog.state import CACHE

    model = build("langchain", "chat_completions", lunos_server)
    assert matches("parent", ask(model, "parent"))
    with track_usage() as usage:
        locks = [
            pools.POOLS._lock,
            tls.CONTEXTS._lock,
            CACHE._lock,
            CACHE._key_lock(lunos_server.base_url),
            shared._SHARED_LOCK,
            shared.shared_catalog(lunos_server.base_url)._warned_lock,
            shared.shared_catalog(lunos_server.base_url).parameters._lock,
            usage._lock,
        ]
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            for lock in locks:
                lock.acquire()
            holding.set()
            release.wait(30)
            for lock in reversed(locks):
                lock.release()

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert holding.wait(10)
        try:

            def work() -> Any:
                clear_catalog_cache()  # the next call fetches again, under the per-URL lock
                answers = [ask(model, "child sync"), asyncio.run(aask(model, "child async"))]
                return [answers, usage.requests]

            children = [_fork(work)]
        finally:
            release.set()
            holder.join(10)
        (result,) = _collect(children, timeout=30)
    assert result == [["Hello! You said: child sync", "Hello! You said: child async"], 2]
    assert matches("parent after", ask(model, "parent after"))


@pytest.mark.timeout(120)
def test_fork_while_another_thread_is_mid_call(lunos_server: LocalLunosServer) -> None:
    """A parent thread waits for a slow answer while the process forks: both the child's
    calls and the parent thread's call get their own answers."""
    model = build("llama_index", "chat_completions", lunos_server)
    assert matches("warm", ask(model, "warm"))
    lunos_server.enqueue(Delay(1.0), "/v1/chat/completions")
    answers: list[str] = []
    slow = threading.Thread(target=lambda: answers.append(ask(model, "slow parent call")))
    slow.start()
    deadline = time.monotonic() + 5
    while len(lunos_server.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # the slow request has reached the server
    children = [_fork(lambda i=i: [ask(model, f"mid-call child {i}")]) for i in range(2)]
    results = _collect(children)
    slow.join(10)
    assert answers == ["Hello! You said: slow parent call"]
    assert results == [[f"Hello! You said: mid-call child {i}"] for i in range(2)]
