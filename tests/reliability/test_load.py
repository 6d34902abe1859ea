"""Load: many concurrent calls with a steady trickle of injected faults.

Contract: transient faults are absorbed by the one retry layer (every call succeeds),
streams that break mid-way raise instead of returning a partial answer, the connection pool
stays bounded, and nothing is left open afterwards. Figures are printed in the terminal
summary ("Lunos reliability: load figures").
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import pytest
from reliability_harness import FIGURES, Answer, Driver, answer_for, chat_requests
from secret_sweep import SWEEP_KEY

from lunos_integrations.errors import StreamTruncatedError
from lunos_integrations.testing import Action, ErrorReply, LocalLunosServer, StreamFault


class SeededFaultServer(LocalLunosServer):
    """A local server that faults a seeded fraction of *distinct request bodies*, once each.

    Why body-keyed: with a thousand concurrent requests the arrival order is random, so "the
    N-th request fails" would fault different calls (and sometimes the same call twice) on
    every run. Keyed on a hash of (seed, body), the same logical calls are faulted on every
    run whatever the order, and a retry (same body) is never faulted again, so the number of
    faults and of requests is known exactly.

    The fault is queued for the request's own path just before the base class pops it; the
    server loop is single-threaded and nothing awaits in between, so no other request can
    take it.
    """

    def __init__(self, action: Action, rate: float, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fault_action = action
        self.fault_rate = rate
        self.fault_seed = seed
        self._seen: set[bytes] = set()

    def selects(self, body: bytes) -> bool:
        digest = hashlib.sha256(self.fault_seed.to_bytes(8, "big") + body).digest()
        return int.from_bytes(digest[:8], "big") < self.fault_rate * 2**64

    async def _serve(self, request: Any, reader: Any, writer: Any) -> tuple[bool, bool]:
        if request.method == "POST" and request.body not in self._seen:
            self._seen.add(request.body)
            if self.selects(request.body):
                self.script.add(self.fault_action, request.path)
        return await super()._serve(request, reader, writer)


class Sampler:
    """Polls open-connection counts while a load runs, keeping the peaks."""

    def __init__(self, server: LocalLunosServer, model: Any) -> None:
        self.server = server
        self.model = model
        self.peak_server_open = 0
        self.peak_pool = 0
        self._task: asyncio.Task[None] | None = None

    def _pool_size(self) -> int:
        client = self.model.client.transport.async_client
        return len(client._transport._pool.connections)

    async def _run(self) -> None:
        while True:
            self.peak_server_open = max(self.peak_server_open, self.server.open_connections)
            self.peak_pool = max(self.peak_pool, self._pool_size())
            await asyncio.sleep(0.002)

    def __enter__(self) -> Sampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


LOAD_DRIVERS = [
    pytest.param(Driver(fw, "async", "invoke", "chat_completions"), id=fw)
    for fw in ("langchain", "llama_index")
]
STREAM_DRIVERS = [
    pytest.param(Driver(fw, "async", "stream", api), id=f"{fw}-{api}")
    for fw in ("langchain", "llama_index")
    for api in ("chat_completions", "messages")
]
#: A private pool per load test: pools are keyed on socket settings, so an unusual timeout
#: keeps other tests' leases from holding this pool (and its connections) open.
LOAD_TIMEOUT = 61.25


async def _wait_closed(server: LocalLunosServer, timeout: float = 5.0) -> bool:
    return await asyncio.to_thread(server.wait_for_open_connections, 0, timeout)


@pytest.mark.parametrize("driver", LOAD_DRIVERS)
async def test_a_thousand_concurrent_ainvoke_with_5_percent_503(driver: Driver) -> None:
    n = 1000
    fault = ErrorReply(503, headers={"x-should-retry": "true"})
    async with SeededFaultServer(fault, rate=0.05, seed=8, api_key=SWEEP_KEY) as server:
        model = driver.build(server.base_url, server.api_key, timeout=LOAD_TIMEOUT)
        prompts = [f"request number {i}" for i in range(n)]
        started = time.perf_counter()
        with Sampler(server, model) as sampler:
            results = await asyncio.gather(
                *(driver.ask(model, p) for p in prompts), return_exceptions=True
            )
        wall = time.perf_counter() - started
        pool_after = sampler._pool_size()
        limit = model.client.config.max_connections
        await model.aclose()
        closed = await _wait_closed(server)

        errors = [r for r in results if not isinstance(r, Answer)]
        assert not errors, f"{len(errors)} calls failed, first: {errors[0]!r}"
        wrong = [
            p
            for p, r in zip(prompts, results, strict=True)
            if not isinstance(r, Answer) or r.text != answer_for(p)
        ]
        assert not wrong, f"{len(wrong)} wrong answers, e.g. {wrong[0]!r}"
        sent = chat_requests(server, driver.path)
        faulted = [r for r in sent if r.action is not None]
        assert 0.02 * n <= len(faulted) <= 0.08 * n, len(faulted)
        assert len(sent) == n + len(faulted)  # one retry per fault, none for the rest
        assert sampler.peak_pool <= limit
        assert sampler.peak_server_open <= limit + 1  # + a sync catalog fetch (LunosLLM)
        assert closed, f"{server.open_connections} connections left open after aclose()"

        FIGURES.append(
            (
                f"{n} concurrent ainvoke, 5% 503 ({driver.framework}, {driver.api})",
                {
                    "wall time (s)": wall,
                    "calls/s": n / wall,
                    "calls succeeded": n - len(errors),
                    "503s injected": len(faulted),
                    "chat requests sent (incl. retries)": len(sent),
                    "TCP connections opened": server.total_connections,
                    "peak open connections (server)": sampler.peak_server_open,
                    "peak httpx pool size": sampler.peak_pool,
                    "pool limit (max_connections)": limit,
                    "pool size after the load": pool_after,
                    "open connections after aclose()": server.open_connections,
                },
            )
        )


@pytest.mark.parametrize("driver", STREAM_DRIVERS)
async def test_two_hundred_concurrent_astream_with_2_percent_resets(driver: Driver) -> None:
    n = 200
    fault = StreamFault(disconnect_after_events=6, reset=True)
    async with SeededFaultServer(fault, rate=0.02, seed=3, api_key=SWEEP_KEY) as server:
        model = driver.build(server.base_url, server.api_key, timeout=LOAD_TIMEOUT)
        prompts = [f"stream number {i} please" for i in range(n)]
        started = time.perf_counter()
        with Sampler(server, model) as sampler:
            results = await asyncio.gather(
                *(driver.ask(model, p) for p in prompts), return_exceptions=True
            )
        wall = time.perf_counter() - started
        limit = model.client.config.max_connections
        await model.aclose()
        closed = await _wait_closed(server)

        sent = chat_requests(server, driver.path)
        faulted_prompts = {_prompt_of(r.json) for r in sent if r.action is not None}
        raised = {p for p, r in zip(prompts, results, strict=True) if not isinstance(r, Answer)}
        for p, r in zip(prompts, results, strict=True):
            if isinstance(r, Answer):
                # Completed streams are exact: never a partial answer reported as complete.
                assert r.text == answer_for(p), (p, r)
            else:
                assert isinstance(r, StreamTruncatedError), repr(r)
        assert raised == faulted_prompts
        assert 1 <= len(raised) <= 0.06 * n, len(raised)
        assert len(sent) == n  # a stream that broke after it started is not retried
        assert sampler.peak_pool <= limit
        assert closed, f"{server.open_connections} connections left open after aclose()"

        FIGURES.append(
            (
                f"{n} concurrent astream, 2% mid-stream resets ({driver.framework}, {driver.api})",
                {
                    "wall time (s)": wall,
                    "streams completed exactly": n - len(raised),
                    "streams raised StreamTruncatedError": len(raised),
                    "partial answers reported complete": 0,
                    "chat requests sent": len(sent),
                    "TCP connections opened": server.total_connections,
                    "peak open connections (server)": sampler.peak_server_open,
                    "peak httpx pool size": sampler.peak_pool,
                    "pool limit (max_connections)": limit,
                    "open connections after aclose()": server.open_connections,
                },
            )
        )


def _prompt_of(body: Any) -> str:
    """The user prompt inside a chat or messages request body."""
    content = body["messages"][-1]["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)
