"""Spend limits: a LangGraph agent stuck in a tool loop, and a LlamaIndex ingestion run,
each stopped by its budget before the call that would pass it.

``track_usage(budget_usd=...)`` holds every call's worst case (offline input estimate x
input price + ``max_tokens`` x output price, from the catalog) before it is sent and
refuses, with ``BudgetExceededError``, the first call that could take the run past its
budget: nothing of that call reaches the server. ``budgets={"ingest": ...}`` does the same
per ``X-App-ID``, so one app's job cannot eat another's money.

1. A LangGraph graph whose model node is forced to call a tool every turn
   (``tool_choice="required"``) and whose tool node always sends it back: the classic agent
   stuck in a loop. Its recursion limit is far away; the budget ends it.
2. A LlamaIndex ``IngestionPipeline`` embedding many documents with ``LunosEmbedding`` under
   a per-app budget that covers only part of them: it stops with the budget, and what was
   embedded before the stop is reported.

Run: ``python cookbook/spend_guard.py`` (offline unless ``LUNOS_API_KEY`` is set; online it
spends at most the two budgets below, about a fifth of a US cent).
"""

from __future__ import annotations

from _setup import CHAT_MODEL, EMBEDDING_MODEL, connection, section
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline

from lunos_integrations import ChatLunos, LunosEmbedding, track_usage
from lunos_integrations.errors import BudgetExceededError

AGENT_BUDGET = 0.002  # USD for the whole agent run
INGEST_BUDGET = 0.0001  # USD for the "ingest" app's embeddings


@tool
def check_status(ticket: str) -> str:
    """Look up the status of a support ticket."""
    return f"ticket {ticket}: still pending, check again"


def agent_in_a_loop(conn_kwargs: dict[str, object]) -> None:
    section("LangGraph: an agent stuck in a tool loop, stopped by budget_usd")
    model = ChatLunos(model=CHAT_MODEL, max_tokens=64, app_id="agent", **conn_kwargs)
    forced = model.bind_tools([check_status], tool_choice="required")
    calls = 0

    def call_model(state: MessagesState) -> dict[str, list[AIMessage]]:
        nonlocal calls
        calls += 1
        return {"messages": [forced.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call_model)
    graph.add_node("tools", ToolNode([check_status]))
    graph.add_edge(START, "model")
    graph.add_edge("model", "tools")
    graph.add_edge("tools", "model")  # the bug: nothing ever ends the loop
    app = graph.compile()

    question = 'Is ticket "T-1042" resolved? Use check_status.'
    with track_usage(budget_usd=AGENT_BUDGET) as usage:
        try:
            app.invoke({"messages": [("user", question)]}, {"recursion_limit": 500})
            print("unexpected: the loop ended by itself")
        except BudgetExceededError as exc:
            print(f"stopped after {calls} model calls ({calls - 1} answered)")
            print(f"refused: {type(exc).__name__}: {exc}")
    print(
        f"spent ${usage.total_cost:.6f} of the ${AGENT_BUDGET:.6f} budget in {usage.requests} calls"
    )
    assert usage.total_cost <= AGENT_BUDGET


def ingestion_with_an_app_budget(conn_kwargs: dict[str, object]) -> None:
    section("LlamaIndex: ingestion under budgets={'ingest': ...}")
    embed = LunosEmbedding(
        model_name=EMBEDDING_MODEL, app_id="ingest", embed_batch_size=10, **conn_kwargs
    )
    documents = [
        Document(text=f"Support article {i}: how to reset a password on device model {i}. " * 8)
        for i in range(60)
    ]
    pipeline = IngestionPipeline(transformations=[embed])
    embedded = 0
    with track_usage(budgets={"ingest": INGEST_BUDGET}) as usage:
        for start in range(0, len(documents), 10):  # ten documents per pipeline run
            try:
                embedded += len(pipeline.run(documents=documents[start : start + 10]))
            except BudgetExceededError as exc:
                print(
                    f"refused: {exc.limit} = ${exc.budget:.6f}, spent ${exc.spent:.6f}, "
                    f"this batch could cost ${exc.worst_case:.6f}"
                )
                break
    app = usage.by_app.get("ingest")
    spent = app.total_cost if app is not None else 0.0
    print(f"embedded {embedded} of {len(documents)} documents before the budget stopped the run")
    print(f"app 'ingest' spent ${spent:.6f} of ${INGEST_BUDGET:.6f}")
    assert spent <= INGEST_BUDGET


def main() -> None:
    conn = connection()
    agent_in_a_loop(conn.kwargs)
    ingestion_with_an_app_budget(conn.kwargs)


if __name__ == "__main__":
    main()
