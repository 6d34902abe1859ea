"""Cost and usage report: several features, one ``app_id`` each, totals per app and per model.

Shows how to attribute spending:

* give every feature its own ``app_id`` (sent as ``X-App-ID``, so the Lunos dashboard splits
  usage the same way);
* wrap the work in ``track_usage()``, which counts requests, tokens and USD for every Lunos
  call — ChatLunos, LunosLLM and both embedding classes — whatever framework made it;
* print the report ``by_app`` and ``by_model``, next to the catalog prices (``list_models``)
  and the account balance (``get_balance``).

Cost is Lunos' reported ``usage.cost`` when present, else tokens x catalog price per million
(after discount). Calls without a known price are counted as unpriced, never as $0.

Run: ``python cookbook/cost_report.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

from _setup import CHAT_MODEL, EMBEDDING_MODEL, connection, section
from llama_index.core.llms import ChatMessage

from lunos_integrations import (
    ChatLunos,
    LunosEmbeddings,
    LunosLLM,
    get_balance,
    list_models,
    track_usage,
)
from lunos_integrations.usage import UsageTotals

SUMMARY_MODEL = "google/gemini-2.5-flash"

TICKETS = [
    "My order arrived without the charger.",
    "Can I change the delivery address after checkout?",
    "The app logs me out every few minutes.",
]


def row(label: str, t: UsageTotals) -> str:
    cost = f"${t.total_cost:.6f}" + (
        "" if t.cost_complete else f" (+{t.unpriced_requests} unpriced)"
    )
    return f"{label:<32} {t.requests:>4} {t.input_tokens:>7} {t.output_tokens:>7} {cost:>14}"


def header(label: str) -> str:
    return f"{label:<32} {'reqs':>4} {'input':>7} {'output':>7} {'cost (USD)':>14}"


def main() -> None:
    conn = connection()

    with track_usage() as usage:
        # Feature 1: a support assistant (LangChain), batched over today's tickets.
        support = ChatLunos(model=CHAT_MODEL, app_id="support-assistant", **conn.kwargs)
        support.batch([f"Draft a short, polite reply to: {t}" for t in TICKETS])

        # Feature 2: a ticket summariser (LlamaIndex) on a different model.
        summariser = LunosLLM(model=SUMMARY_MODEL, app_id="ticket-summariser", **conn.kwargs)
        summariser.chat(
            [ChatMessage(role="user", content="Summarise these tickets: " + " | ".join(TICKETS))]
        )

        # Feature 3: semantic search over the tickets (LangChain embeddings).
        search = LunosEmbeddings(model=EMBEDDING_MODEL, app_id="ticket-search", **conn.kwargs)
        search.embed_documents(TICKETS)
        search.embed_query("missing charger")

    section("by app (X-App-ID)")
    print(header("app_id"))
    for app_id, totals in sorted(usage.by_app.items(), key=lambda kv: str(kv[0])):
        print(row(str(app_id), totals))

    section("by model")
    print(header("model"))
    for model, totals in sorted(usage.by_model.items()):
        print(row(model, totals))
    print(row("TOTAL", usage))

    section("catalog prices (USD per million tokens, after discount)")
    used = set(usage.by_model)
    for info in list_models(**conn.kwargs):
        if info.id in used:
            print(
                f"{info.id:<32} input {info.input_price_per_million}  "
                f"output {info.output_price_per_million}  (discount {info.discount_percentage}%)"
            )

    section("account")
    balance = get_balance(**conn.kwargs)
    print(f"balance: ${balance.balance:.2f}")


if __name__ == "__main__":
    main()
