"""Quickstart: one Lunos model from LangChain and from LlamaIndex, with token usage and cost.

Shows:

* ``ChatLunos.invoke`` — the answer, ``usage_metadata`` (input/output tokens) and the call's
  cost in USD (``response_metadata["cost"]``: reported by Lunos, else computed from the
  catalog's per-million prices);
* ``ChatLunos.stream`` — text as it arrives, with usage delivered once, on the last chunk;
* ``LunosLLM.chat`` (LlamaIndex) — the same model, usage and cost in ``additional_kwargs``.

Run: ``python cookbook/quickstart.py`` — offline against an embedded local server when
``LUNOS_API_KEY`` is unset, against the real API when it is set.
"""

from __future__ import annotations

from typing import Any

from _setup import CHAT_MODEL, connection, section
from langchain_core.messages import AIMessageChunk, UsageMetadata
from llama_index.core.llms import ChatMessage

from lunos_integrations import ChatLunos, LunosLLM


def cost_text(cost: Any) -> str:
    return f"${cost:.6f}" if isinstance(cost, (int, float)) else "unknown (model not priced)"


def usage_text(usage: UsageMetadata | None) -> str:
    if usage is None:
        return "not reported"
    return (
        f"{usage['input_tokens']} input + {usage['output_tokens']} output "
        f"= {usage['total_tokens']} tokens"
    )


def main() -> None:
    conn = connection()

    section("LangChain: ChatLunos.invoke")
    chat = ChatLunos(model=CHAT_MODEL, app_id="cookbook-quickstart", **conn.kwargs)
    reply = chat.invoke("What is Lunos, in one sentence?")
    print("answer:", reply.content)
    print("usage:", usage_text(reply.usage_metadata))
    print("cost:", cost_text(reply.response_metadata.get("cost")))

    section("LangChain: ChatLunos.stream")
    final: AIMessageChunk | None = None
    print("answer: ", end="", flush=True)
    for chunk in chat.stream("Name three things a unified AI gateway gives you."):
        print(chunk.content, end="", flush=True)
        final = chunk if final is None else final + chunk
    print()
    assert final is not None
    print("usage:", usage_text(final.usage_metadata))
    print("cost:", cost_text(final.response_metadata.get("cost")))

    section("LlamaIndex: LunosLLM.chat")
    llm = LunosLLM(model=CHAT_MODEL, app_id="cookbook-quickstart", **conn.kwargs)
    response = llm.chat([ChatMessage(role="user", content="Say hello from LlamaIndex.")])
    print("answer:", response.message.content)
    extra = response.additional_kwargs
    print(
        f"usage: {extra.get('prompt_tokens')} input + {extra.get('completion_tokens')} output "
        f"= {extra.get('total_tokens')} tokens"
    )
    print("cost:", cost_text(extra.get("cost")))


if __name__ == "__main__":
    main()
