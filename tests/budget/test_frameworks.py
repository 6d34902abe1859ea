"""The guard through LangChain and LlamaIndex, in forked children and with pickled models.

The budget travels with the context, not with the model: a pickled and restored model is
guarded by the ``track_usage`` block it is called in, and a forked child spends against
its own copy of the budget (a budget is per process), never its parent's.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import select
from typing import Any

import pytest
from langchain_core.exceptions import ModelError
from llama_index.core.base.llms.types import ChatMessage

from lunos_integrations import ChatLunos, LunosEmbedding, LunosLLM, track_usage
from lunos_integrations.errors import BudgetExceededError
from lunos_integrations.testing.server import LocalLunosServer

from .conftest import MODEL, chat_posts, req, worst_case

HI_WORST = worst_case(req("hi"))


def _chat(server: LocalLunosServer, **kw: Any) -> ChatLunos:
    return ChatLunos(
        model=MODEL, api_key=server.api_key, base_url=server.base_url, max_tokens=10, **kw
    )


def test_langchain_refusal_is_a_model_error(server: LocalLunosServer) -> None:
    chat = _chat(server)
    with track_usage(budget_usd=HI_WORST * 0.5), pytest.raises(BudgetExceededError) as info:
        chat.invoke("hi")
    assert isinstance(info.value, ModelError)  # what LangChain code catches
    assert info.value.is_retryable is False  # so ModelRetryMiddleware does not retry it
    assert chat_posts(server) == 0


def test_langchain_abatch_under_a_budget(server: LocalLunosServer) -> None:
    chat = _chat(server)
    budget = HI_WORST * 20

    async def run() -> list[Any]:
        with track_usage(budget_usd=budget):
            return await chat.abatch(
                ["hi"] * 50, config={"max_concurrency": 50}, return_exceptions=True
            )

    outcomes = asyncio.run(run())
    refused = [o for o in outcomes if isinstance(o, BudgetExceededError)]
    assert refused and len(refused) < 50
    assert all(isinstance(o, BudgetExceededError) or o.content for o in outcomes)
    assert server.router.billing.total <= budget


def test_langchain_stream_is_guarded(server: LocalLunosServer) -> None:
    chat = _chat(server)
    with track_usage(budget_usd=HI_WORST * 1.5) as usage:
        text = "".join(str(c.content) for c in chat.stream("hi"))
        with pytest.raises(BudgetExceededError):
            list(chat.stream("hi"))
    assert text and usage.budget is not None
    assert usage.budget.spent == pytest.approx(server.router.billing.total)


def test_llama_index_llm_and_embedding_under_a_per_app_budget(server: LocalLunosServer) -> None:
    settings = {"api_key": server.api_key, "base_url": server.base_url, "app_id": "ingest"}
    llm = LunosLLM(model=MODEL, max_tokens=10, **settings)
    embed = LunosEmbedding(model_name="openai/text-embedding-3-small", **settings)
    with track_usage(budgets={"ingest": HI_WORST * 1.5}) as usage:
        llm.chat([ChatMessage(role="user", content="hi")])
        vectors = embed.get_text_embedding_batch(["a short text"] * 4)
        with pytest.raises(BudgetExceededError) as info:
            llm.chat([ChatMessage(role="user", content="hi")])
    assert len(vectors) == 4 and info.value.app_id == "ingest"
    assert usage.budget is not None
    assert usage.budget.spent == pytest.approx(server.router.billing.total_for("ingest"))


def test_a_pickled_model_is_guarded_by_the_block_it_runs_in(server: LocalLunosServer) -> None:
    restored = pickle.loads(pickle.dumps(_chat(server)))
    with track_usage(budget_usd=HI_WORST * 0.5), pytest.raises(BudgetExceededError):
        restored.invoke("hi")
    assert chat_posts(server) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is not available on this OS")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_spends_against_its_own_copy(server: LocalLunosServer) -> None:
    chat = _chat(server)
    with track_usage(budget_usd=HI_WORST * 1.5) as usage:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one call fits its copy of the budget, a second does not
            outcome: dict[str, Any] = {}
            try:
                chat.invoke("hi")
                try:
                    chat.invoke("hi")
                    outcome["second"] = "sent"
                except BudgetExceededError:
                    outcome["second"] = "refused"
                assert usage.budget is not None
                outcome["spent"] = usage.budget.spent
            finally:
                os.write(write, json.dumps(outcome).encode())
                os._exit(0)
        os.close(write)
        ready, _, _ = select.select([read], [], [], 60)
        data = os.read(read, 4096) if ready else b"{}"
        os.close(read)
        if not ready:
            os.kill(pid, 9)
        os.waitpid(pid, 0)
        child = json.loads(data)
        assert usage.budget is not None
        assert usage.budget.spent == 0.0  # the child's spending is not the parent's
        chat.invoke("hi")  # so the parent still has its whole budget
    assert child["second"] == "refused" and child["spent"] > 0
    assert chat_posts(server) == 2
