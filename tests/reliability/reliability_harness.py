"""Drivers: one fault test, run through every way a user can call a Lunos chat model.

Why a harness: a fault must be handled the same whichever adapter, mode, call style and
route the user picked, and the bugs we hunt (a hang, a truncated answer returned as
complete, a retry layer missing in one path) tend to live in exactly one of those 16
combinations. A :class:`Driver` is one combination:

    {ChatLunos, LunosLLM} x {sync, async} x {invoke, stream} x {chat_completions, messages}

``await driver.ask(model, prompt)`` returns the answer text or raises what the adapter
raised. Sync calls run in a worker thread so every test can be ``async`` and share one
event loop (and one async connection pool) per test.

Every exception a driver's call or construction raises goes through the secret sweep
(:mod:`secret_sweep`) first: the suite's servers accept only :data:`SWEEP_KEY`, and no
printed form of any error may contain a piece of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from secret_sweep import SWEEP, SWEEP_KEY

from lunos_integrations.client import LunosClient
from lunos_integrations.testing import LocalLunosServer

Framework = Literal["langchain", "llama_index"]
Mode = Literal["sync", "async"]
Call = Literal["invoke", "stream"]
Api = Literal["chat_completions", "messages"]

MODEL_FOR: dict[str, str] = {
    "chat_completions": "openai/gpt-4o",
    "messages": "anthropic/claude-sonnet-4",
}
PATH_FOR: dict[str, str] = {"chat_completions": "/v1/chat/completions", "messages": "/v1/messages"}

#: (title, {figure: value}) pairs recorded by the load tests, printed in the terminal summary.
FIGURES: list[tuple[str, dict[str, Any]]] = []

#: First backoff step for tests: keeps a 3-attempt burst in milliseconds.
FAST_BACKOFF = 0.002
#: Cap on any server-requested wait in tests (Retry-After values used are <= 2 s).
TEST_MAX_RETRY_WAIT = 3.0
#: A timeout no fault case may reach: an error well before it came from the fault itself,
#: which is what "it did not wait for the timeout" checks assert (PATIENT / 2 is a margin
#: no busy machine eats up, and one a wrong wait cannot hide in).
PATIENT = 60.0
#: Allowance for the server's own clock reads when a test compares a client's wait, read
#: off the server (its reply's end to the next arrival), with what was asked: the client
#: starts waiting only after it read that reply, so its wait is never shorter than asked.
CLOCK_READS = 0.01


def answer_for(prompt: str) -> str:
    """What the local server's fake model answers to a plain user prompt."""
    return f"Hello! You said: {prompt}"


@dataclass(frozen=True)
class Answer:
    """What a call returned: the text, and how many stream chunks carried it."""

    text: str
    chunks: int


def _lc_text(message: Any) -> str:
    return str(message.text)


@dataclass(frozen=True)
class Driver:
    framework: Framework
    mode: Mode
    call: Call
    api: Api

    def __str__(self) -> str:
        return f"{self.framework}-{self.mode}-{self.call}-{self.api}"

    @property
    def is_stream(self) -> bool:
        return self.call == "stream"

    @property
    def is_async(self) -> bool:
        return self.mode == "async"

    @property
    def model_id(self) -> str:
        return MODEL_FOR[self.api]

    @property
    def path(self) -> str:
        """The chat route this driver posts to (for path-filtered scripted faults)."""
        return PATH_FOR[self.api]

    # ------------------------------------------------------------------ construction

    def build(
        self,
        base_url: str,
        api_key: str,
        *,
        max_retries: int = 2,
        timeout: float = 5.0,
        stream_idle_timeout: float | None = None,
        retry_backoff: float | None = FAST_BACKOFF,
        max_retry_wait: float | None = TEST_MAX_RETRY_WAIT,
        **extra: Any,
    ) -> Any:
        """The adapter, built through its public constructor.

        Neither adapter exposes ``retry_backoff`` / ``max_retry_wait`` (see the report), so
        when those are given the adapter's own resolved config is copied with them changed
        and a client built from it is swapped in. Everything else (base URL, key, retries,
        timeouts, route) still goes through the adapter's own argument handling.
        """
        common: dict[str, Any] = {
            "model": self.model_id,
            "api": self.api,
            "base_url": base_url,
            "api_key": api_key,
            "max_retries": max_retries,
            "timeout": timeout,
            "stream_idle_timeout": stream_idle_timeout,
            **extra,
        }
        try:
            if self.framework == "langchain":
                from lunos_integrations.langchain import ChatLunos

                model: Any = ChatLunos(**common)
            else:
                from lunos_integrations.llama_index import LunosLLM

                model = LunosLLM(**common)
        except Exception as exc:
            SWEEP.check_exception(exc, f"{self} construction")
            raise
        if retry_backoff is not None or max_retry_wait is not None:
            original: LunosClient = model.client
            config = original.config
            config = dataclasses.replace(
                config,
                retry_backoff=config.retry_backoff if retry_backoff is None else retry_backoff,
                max_retry_wait=config.max_retry_wait if max_retry_wait is None else max_retry_wait,
            )
            fast = LunosClient(config=config)
            original.close()
            model._client = fast
        return model

    # ------------------------------------------------------------------ calls

    def _lc_input(self, prompt: str | Sequence[Any]) -> Any:
        return prompt

    def _li_messages(self, prompt: str | Sequence[Any]) -> list[Any]:
        from llama_index.core.llms import ChatMessage

        if isinstance(prompt, str):
            return [ChatMessage(role="user", content=prompt)]
        return list(prompt)

    def _ask_sync(self, model: Any, prompt: str | Sequence[Any], kwargs: dict[str, Any]) -> Answer:
        if self.framework == "langchain":
            if self.call == "invoke":
                return Answer(_lc_text(model.invoke(prompt, **kwargs)), 0)
            full = None
            n = 0
            for chunk in model.stream(prompt, **kwargs):
                full = chunk if full is None else full + chunk
                n += 1
            return Answer(_lc_text(full) if full is not None else "", n)
        messages = self._li_messages(prompt)
        if self.call == "invoke":
            return Answer(str(model.chat(messages, **kwargs).message.content), 0)
        parts: list[str] = []
        last = None
        for last in model.stream_chat(messages, **kwargs):
            parts.append(last.delta or "")
        return _li_stream_answer(parts, last)

    async def _ask_async(
        self, model: Any, prompt: str | Sequence[Any], kwargs: dict[str, Any]
    ) -> Answer:
        if self.framework == "langchain":
            if self.call == "invoke":
                return Answer(_lc_text(await model.ainvoke(prompt, **kwargs)), 0)
            full = None
            n = 0
            async for chunk in model.astream(prompt, **kwargs):
                full = chunk if full is None else full + chunk
                n += 1
            return Answer(_lc_text(full) if full is not None else "", n)
        messages = self._li_messages(prompt)
        if self.call == "invoke":
            return Answer(str((await model.achat(messages, **kwargs)).message.content), 0)
        parts: list[str] = []
        last = None
        async for last in await model.astream_chat(messages, **kwargs):
            parts.append(last.delta or "")
        return _li_stream_answer(parts, last)

    async def ask(self, model: Any, prompt: str | Sequence[Any], /, **kwargs: Any) -> Answer:
        """Call ``model`` this driver's way; the answer, or whatever the adapter raised
        (after the secret sweep checked it)."""
        try:
            if self.mode == "sync":
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(
                    _SYNC_CALLS, lambda: self._ask_sync(model, prompt, kwargs)
                )
            return await self._ask_async(model, prompt, kwargs)
        except Exception as exc:
            SWEEP.check_exception(exc, str(self))
            raise

    async def timed(
        self, model: Any, prompt: str | Sequence[Any], /, **kwargs: Any
    ) -> tuple[Answer | BaseException, float]:
        """``ask`` plus elapsed seconds; an exception is returned, not raised."""
        started = time.perf_counter()
        try:
            out: Answer | BaseException = await self.ask(model, prompt, **kwargs)
        except AssertionError:  # the secret sweep (or a harness check) failed: not a result
            raise
        except Exception as exc:  # returned so that the test can assert on timing too
            out = exc
        return out, time.perf_counter() - started


def chat_requests(server: Any, path: str) -> list[Any]:
    """Requests the server received on one chat route (the catalog fetch is not counted)."""
    return [r for r in server.requests if r.path == path]


def server_waits(server: Any, path: str) -> list[float]:
    """How long the client waited before each retry, measured by the server itself.

    From the moment the server finished sending one reply on ``path`` to the arrival of the
    next request there: the client's whole wait, read off the server's clock, so it does not
    grow with whatever else shares the machine (16 drivers in one event loop, lazy imports,
    a busy core) the way a timer around the call does.
    """
    reqs = chat_requests(server, path)
    return [b.arrived - (a.replied or a.arrived) for a, b in itertools.pairwise(reqs)]


def _li_stream_answer(parts: list[str], last: Any) -> Answer:
    text = "".join(parts)
    if last is not None:
        # LlamaIndex stream items carry the running total; it must agree with the deltas.
        assert str(last.message.content or "") == text, (last.message.content, text)
    return Answer(text, len(parts))


#: Sync calls run here (not the loop's small default pool) so that a whole matrix of sync
#: drivers can wait concurrently without queueing behind each other.
_SYNC_CALLS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sync-driver")

Case = Callable[[Driver, LocalLunosServer, Callable[..., Any]], Awaitable[None]]


async def run_matrix(params: Sequence[Any], case: Case, *, concurrent: bool = True) -> None:
    """Run ``case`` for every driver at once, each against its own fresh server.

    Why: cases that must wait (Retry-After, timeouts) would cost their wait 16 times if run
    one after another; run together they cost it once, while a private server per driver
    keeps each one's scripted faults and request counts its own. Every failing driver is
    reported, not just the first.
    """
    chosen: list[Driver] = [p.values[0] for p in params]

    async def one(driver: Driver) -> None:
        async with LocalLunosServer(api_key=SWEEP_KEY) as server:
            made: list[Any] = []

            def make(**kwargs: Any) -> Any:
                kwargs.setdefault("base_url", server.base_url)
                kwargs.setdefault("api_key", server.api_key)
                model = driver.build(kwargs.pop("base_url"), kwargs.pop("api_key"), **kwargs)
                made.append(model)
                return model

            try:
                await case(driver, server, make)
            finally:
                for model in made:
                    await model.aclose()

    if concurrent:
        results = await asyncio.gather(*(one(d) for d in chosen), return_exceptions=True)
    else:
        results = []
        for d in chosen:
            try:
                results.append(await one(d))
            except Exception as exc:  # collected and reported like gather's
                results.append(exc)
    failures = [
        f"{d}: {type(r).__name__}: {r}"
        for d, r in zip(chosen, results, strict=True)
        if isinstance(r, BaseException)
    ]
    assert not failures, f"{len(failures)}/{len(chosen)} drivers failed:\n" + "\n".join(failures)


def drivers(
    *,
    frameworks: Iterable[Framework] = ("langchain", "llama_index"),
    modes: Iterable[Mode] = ("sync", "async"),
    calls: Iterable[Call] = ("invoke", "stream"),
    apis: Iterable[Api] = ("chat_completions", "messages"),
) -> list[Any]:
    """The matrix as ``pytest.param`` objects with readable ids."""
    out = []
    for fw in frameworks:
        for mode in modes:
            for call in calls:
                for api in apis:
                    d = Driver(fw, mode, call, api)
                    out.append(pytest.param(d, id=str(d)))
    return out


ALL = drivers()
STREAMS = drivers(calls=("stream",))
INVOKES = drivers(calls=("invoke",))
ASYNC_STREAMS = drivers(modes=("async",), calls=("stream",))
SYNC_STREAMS = drivers(modes=("sync",), calls=("stream",))
