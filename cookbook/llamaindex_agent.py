"""LlamaIndex agent: a ``FunctionAgent`` with Python tools, driven by LunosLLM.

Shows LunosLLM as a native function-calling LLM (``is_function_calling_model`` comes from
the Lunos catalog, so agents accept it without flags): two ``FunctionTool``s built from
plain functions, ``agent.run(...)`` as an async workflow, and ``handler.stream_events()``
printing every tool call with its arguments, every tool result and the streamed answer.

Run: ``python cookbook/llamaindex_agent.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

import asyncio

from _setup import CHAT_MODEL, connection, section
from llama_index.core.agent.workflow import (
    AgentStream,
    FunctionAgent,
    ToolCall,
    ToolCallResult,
)
from llama_index.core.tools import FunctionTool

from lunos_integrations import LunosLLM

STOCK = {"tent": 4, "backpack": 0, "sleeping bag": 12}


def check_stock(product: str) -> str:
    """Return how many units of a product are in stock."""
    units = STOCK.get(product.lower())
    return f"{product}: unknown product" if units is None else f"{product}: {units} in stock"


def delivery_quote(weight_kg: float) -> str:
    """Return the UK delivery price in GBP for a parcel of the given weight in kilograms."""
    price = 4.5 if weight_kg <= 2 else 4.5 + 1.25 * (weight_kg - 2)
    return f"{weight_kg} kg parcel: {price:.2f} GBP"


async def run() -> None:
    conn = connection()
    llm = LunosLLM(model=CHAT_MODEL, temperature=0, app_id="cookbook-li-agent", **conn.kwargs)
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(check_stock), FunctionTool.from_defaults(delivery_quote)],
        llm=llm,
        system_prompt="You help customers of an outdoor shop. Use the tools for facts.",
    )

    question = 'Is the "tent" available (check_stock), and what does delivery_quote say for 3 kg?'
    section("agent.run + stream_events")
    print("user:", question)
    handler = agent.run(question)
    streamed = False
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            print(f"tool result ({event.tool_name}): {event.tool_output.content}")
        elif isinstance(event, ToolCall):
            print(f"tool call: {event.tool_name}({event.tool_kwargs})")
        elif isinstance(event, AgentStream) and event.delta:
            if not streamed:
                print("answer (streamed): ", end="", flush=True)
                streamed = True
            print(event.delta, end="", flush=True)
    if streamed:
        print()
    output = await handler
    print("final response:", output)


if __name__ == "__main__":
    asyncio.run(run())
