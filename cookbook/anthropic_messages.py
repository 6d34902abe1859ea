"""The Anthropic route: the same chat over Lunos' ``/v1/messages`` with extended thinking.

Shows that one flag switches the wire protocol: ``api="messages"`` sends the Anthropic
Messages format (system prompt, content blocks, ``thinking``) instead of chat completions,
while your code keeps using the same classes and gets the same kind of answer back:

* ``ChatLunos(..., api="messages", thinking=...)`` — the reasoning text is in
  ``additional_kwargs["reasoning_content"]`` (and signed ``thinking_blocks``, sent back
  verbatim in follow-up turns), the answer in ``content``, usage and cost as usual;
* streaming over the same route;
* ``LunosLLM(..., api="messages")`` — reasoning arrives as a LlamaIndex ``ThinkingBlock``.

Run: ``python cookbook/anthropic_messages.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

from _setup import CLAUDE_MODEL, connection, section
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from llama_index.core.base.llms.types import TextBlock, ThinkingBlock
from llama_index.core.llms import ChatMessage

from lunos_integrations import ChatLunos, LunosLLM

THINKING = {"type": "enabled", "budget_tokens": 1024}
QUESTION = "Is 391 a prime number? Answer yes or no with a one-line reason."


def main() -> None:
    conn = connection()

    section("LangChain: ChatLunos(api='messages', thinking=...)")
    claude = ChatLunos(
        model=CLAUDE_MODEL, api="messages", thinking=THINKING, max_tokens=2048, **conn.kwargs
    )
    messages = [SystemMessage("You are a careful mathematician."), HumanMessage(QUESTION)]
    reply = claude.invoke(messages)
    print("thinking:", reply.additional_kwargs.get("reasoning_content"))
    print("signed thinking blocks:", len(reply.additional_kwargs.get("thinking_blocks", [])))
    print("answer:", reply.content)
    usage = reply.usage_metadata
    assert usage is not None
    print(
        f"usage: {usage['input_tokens']} input + {usage['output_tokens']} output "
        f"tokens | cost: ${reply.response_metadata.get('cost') or 0:.6f}"
        f" | route: {reply.response_metadata.get('api')}"
    )

    section("follow-up turn (the signed thinking block goes back unchanged)")
    follow_up = claude.invoke([*messages, reply, HumanMessage("And 397?")])
    print("answer:", follow_up.content)
    if conn.server is not None:  # offline only: look at what actually went over the wire
        sent = conn.server.requests[-1]
        print(f"sent to {sent.path} (system={sent.json.get('system')!r}):")
        for m in sent.json["messages"]:
            content = m["content"]
            shape = content if isinstance(content, str) else [b["type"] for b in content]
            print(f"  {m['role']}: {shape}")

    section("LangChain: the same route, streamed")
    final: AIMessageChunk | None = None
    for chunk in claude.stream(messages):
        final = chunk if final is None else final + chunk
        print(chunk.content, end="", flush=True)
    print()
    assert final is not None
    print("streamed thinking:", final.additional_kwargs.get("reasoning_content"))
    print("streamed usage:", final.usage_metadata)

    section("LlamaIndex: LunosLLM(api='messages', thinking=...)")
    llm = LunosLLM(
        model=CLAUDE_MODEL, api="messages", thinking=THINKING, max_tokens=2048, **conn.kwargs
    )
    response = llm.chat(
        [
            ChatMessage(role="system", content="You are a careful mathematician."),
            ChatMessage(role="user", content=QUESTION),
        ]
    )
    for block in response.message.blocks:
        if isinstance(block, ThinkingBlock):
            print("thinking block:", block.content)
        elif isinstance(block, TextBlock):
            print("text block:", block.text)


if __name__ == "__main__":
    main()
