"""LCEL chain: prompt template → ChatLunos → output parser, run on many inputs with ``batch``.

Shows that ``ChatLunos`` is an ordinary LangChain ``Runnable``: it composes with ``|``,
and ``chain.batch(inputs, config={"max_concurrency": n})`` runs the calls concurrently
over one shared connection pool. ``track_usage()`` adds up tokens and cost for the batch.

Run: ``python cookbook/lcel_chain.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

from _setup import CHAT_MODEL, connection, section
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from lunos_integrations import ChatLunos, track_usage


def main() -> None:
    conn = connection()

    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "You write one-line product taglines."),
            ("human", "Write a tagline for {product}."),
        ]
    )
    model = ChatLunos(model=CHAT_MODEL, temperature=0.7, app_id="cookbook-lcel", **conn.kwargs)
    chain = prompt | model | StrOutputParser()

    section("chain.invoke")
    print(chain.invoke({"product": "a solar-powered kettle"}))

    section("chain.batch (max_concurrency=3)")
    products = ["noise-cancelling earmuffs", "a bicycle bell", "a smart plant pot", "a desk lamp"]
    with track_usage() as usage:
        taglines = chain.batch([{"product": p} for p in products], config={"max_concurrency": 3})
    for product, tagline in zip(products, taglines, strict=True):
        print(f"- {product}: {tagline}")
    print(usage)


if __name__ == "__main__":
    main()
