"""The ``prepare`` / ``aprepare`` hook the guard waits in: once per call, before any attempt.

Why these exist (observe.py): a budget may have to wait for the catalog's prices before it
can judge a call, and on the async paths that wait must be awaited, which ``on_attempt``
(called inside the transport) cannot do.
"""

from __future__ import annotations

import asyncio

import pytest

from lunos_integrations.client import LunosClient
from lunos_integrations.errors import LunosError
from lunos_integrations.observe import CallInfo, CallObserver, watching
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.wire.types import EmbeddingRequest

from .conftest import chat_posts, req


class _Recorder(CallObserver):
    def __init__(self, log: list[str], refuse: bool = False, broken: bool = False) -> None:
        self.log, self.refuse, self.broken = log, refuse, broken

    def prepare(self) -> None:
        self.log.append("prepare")
        if self.refuse:
            raise LunosError("refused in prepare")
        if self.broken:
            raise RuntimeError("a bug in an observer")

    async def aprepare(self) -> None:
        self.log.append("aprepare")
        await asyncio.sleep(0)  # really awaited on the async paths
        if self.refuse:
            raise LunosError("refused in aprepare")

    def on_attempt(self, attempt: int, headers: object) -> None:  # type: ignore[override]
        self.log.append(f"attempt {attempt}")

    def on_end(self) -> None:
        self.log.append("end")


def _factory(log: list[str], **kw: bool) -> object:
    def make(info: CallInfo) -> CallObserver:
        assert info.client is not None  # the guard asks the client's catalog for prices
        return _Recorder(log, **kw)

    return make


def test_prepare_runs_once_before_the_first_attempt(client: LunosClient) -> None:
    log: list[str] = []
    with watching(_factory(log)):  # type: ignore[arg-type]
        client.chat(req())
        list(client.stream_chat(req()))
        client.embed(EmbeddingRequest(model="openai/text-embedding-3-small", input=["x"]))
    assert log == ["prepare", "attempt 0", "end"] * 3


def test_aprepare_is_awaited_on_the_async_paths(client: LunosClient) -> None:
    log: list[str] = []

    async def run() -> None:
        with watching(_factory(log)):  # type: ignore[arg-type]
            await client.achat(req())
            async for _ in client.astream_chat(req()):
                pass
            await client.aembed(
                EmbeddingRequest(model="openai/text-embedding-3-small", input=["x"])
            )

    asyncio.run(run())
    assert log == ["aprepare", "attempt 0", "end"] * 3


def test_a_lunos_error_in_prepare_refuses_before_any_request(
    server: LocalLunosServer, client: LunosClient
) -> None:
    log: list[str] = []
    with watching(_factory(log, refuse=True)), pytest.raises(LunosError):  # type: ignore[arg-type]
        client.chat(req())

    async def run() -> None:
        with watching(_factory(log, refuse=True)):  # type: ignore[arg-type]
            await client.achat(req())

    with pytest.raises(LunosError):
        asyncio.run(run())
    assert chat_posts(server) == 0
    assert log == ["prepare", "end", "aprepare", "end"]


def test_a_bug_in_prepare_never_breaks_the_call(client: LunosClient) -> None:
    log: list[str] = []
    with watching(_factory(log, broken=True)):  # type: ignore[arg-type]
        assert client.chat(req()).text
    assert log == ["prepare", "attempt 0", "end"]
