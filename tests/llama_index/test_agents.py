"""End-to-end LlamaIndex runs: FunctionAgent, ReActAgent and a VectorStoreIndex query engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ReActAgent, ToolCallResult
from llama_index.core.tools import FunctionTool

from lunos_integrations.llama_index import LunosEmbedding, LunosLLM
from lunos_integrations.testing import JSONReply, LocalLunosServer

Bodies = Callable[[], list[dict[str, Any]]]


def _weather_tool(calls: list[str]) -> FunctionTool:
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        calls.append(city)
        return f"Sunny and 24C in {city}"

    return FunctionTool.from_defaults(get_weather)


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "non-streaming"])
async def test_function_agent_calls_python_tool_and_finishes(
    route_llm: LunosLLM, bodies: Bodies, streaming: bool
) -> None:
    """The fake model calls the offered tool natively, then answers from the tool result."""
    calls: list[str] = []
    agent = FunctionAgent(tools=[_weather_tool(calls)], llm=route_llm, streaming=streaming)
    handler = agent.run("What is the weather in Paris?")
    tool_results: list[ToolCallResult] = []
    deltas: list[str] = []
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            tool_results.append(event)
        elif isinstance(event, AgentStream):
            deltas.append(event.delta)
    output = await handler

    assert calls == ["Paris"]  # the Python tool really ran, with model-chosen arguments
    assert [r.tool_name for r in tool_results] == ["get_weather"]
    assert str(output) == "The tool returned: Sunny and 24C in Paris"
    if streaming:
        assert "".join(deltas).endswith("The tool returned: Sunny and 24C in Paris")
    sent = bodies()
    assert len(sent) == 2  # one tool-calling turn, one answering turn
    assert all(b.get("stream", False) is streaming for b in sent)
    assert "Sunny and 24C in Paris" in str(sent[1]["messages"])


def _scripted(api: str, text: str, model: str) -> JSONReply:
    """A canned reply in the route's own JSON shape (the fake model cannot speak ReAct)."""
    if api == "messages":
        return JSONReply(
            {
                "id": "msg_scripted",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 50, "output_tokens": 20},
            }
        )
    return JSONReply(
        {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
        }
    )


async def test_react_agent_with_scripted_turns(
    lunos_server: LocalLunosServer, route_llm: LunosLLM, bodies: Bodies
) -> None:
    """ReAct needs the model to *write* "Thought/Action/Action Input" text.

    The deterministic fake model only echoes or calls tools natively, so the two model turns
    are scripted (``srv.enqueue(JSONReply(...))`` in the route's wire format). Everything
    else is real: LunosLLM encodes the ReAct prompt, the agent parses the scripted text,
    runs the Python tool and feeds the observation back in the second request, which this
    test checks.
    """
    calls: list[str] = []
    path = "/messages" if route_llm.api == "messages" else "/chat/completions"
    route_llm.metadata  # noqa: B018 - fetch the catalog first; scripts apply to chat only
    lunos_server.enqueue(
        _scripted(
            route_llm.api,
            (
                "Thought: I need to use a tool to help me answer the question.\n"
                "Action: get_weather\n"
                'Action Input: {"city": "Lisbon"}'
            ),
            route_llm.model,
        ),
        path=path,
    )
    lunos_server.enqueue(
        _scripted(
            route_llm.api,
            (
                "Thought: I can answer without using any more tools.\n"
                "Answer: It is sunny and 24C in Lisbon."
            ),
            route_llm.model,
        ),
        path=path,
    )

    agent = ReActAgent(tools=[_weather_tool(calls)], llm=route_llm, streaming=False)
    output = await agent.run("What is the weather in Lisbon?")

    assert calls == ["Lisbon"]
    assert str(output) == "It is sunny and 24C in Lisbon."
    first, second = bodies()
    system = first["system"] if route_llm.api == "messages" else first["messages"][0]["content"]
    assert "get_weather" in str(system)  # the ReAct prompt lists the tool
    assert "Observation: Sunny and 24C in Lisbon" in str(second["messages"])


@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming-query"])
def test_query_engine_over_vector_index(
    lunos_server: LocalLunosServer, route_llm: LunosLLM, streaming: bool
) -> None:
    """Embeddings via LunosEmbedding (same local server); answer via LunosLLM.

    The fake embeddings are hash-based (not semantic), so the test asserts what is true of
    any retriever: the answer is produced from the retrieved node's text, which the fake
    model echoes back from the prompt.
    """
    embed = LunosEmbedding(api_key=lunos_server.api_key, base_url=lunos_server.base_url)
    docs = [
        Document(text="Lunos is an AI gateway with one API for many models."),
        Document(text="Bananas are yellow and rich in potassium."),
    ]
    index = VectorStoreIndex.from_documents(docs, embed_model=embed)
    engine = index.as_query_engine(llm=route_llm, similarity_top_k=1, streaming=streaming)
    response = engine.query("What is Lunos?")
    text = response.get_response().response if streaming else str(response)  # type: ignore[union-attr]
    assert response.source_nodes and response.source_nodes[0].text in (text or "")
    assert "What is Lunos?" in (text or "")
    assert any(r.path.endswith("/embeddings") for r in lunos_server.requests)
    embed.close() if hasattr(embed, "close") else None
