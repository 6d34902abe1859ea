"""Tool-calling agent: ``langchain.agents.create_agent`` (a LangGraph graph) driving ChatLunos.

Shows two plain Python functions turned into tools with ``@tool``, an agent that decides
which to call, and ``agent.stream(..., stream_mode="updates")`` printing each step as the
graph runs it: the model's tool calls (name + arguments), each tool's result, and the final
answer. ChatLunos sends the tools in the OpenAI format Lunos accepts and parses the calls
back into ``AIMessage.tool_calls``; nothing here is Lunos-specific beyond the model class.

Run: ``python cookbook/langgraph_agent.py`` (offline unless ``LUNOS_API_KEY`` is set).
"""

from __future__ import annotations

from _setup import CHAT_MODEL, connection, section
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool

from lunos_integrations import ChatLunos


@tool
def get_weather(city: str) -> str:
    """Return the current weather for a city."""
    forecasts = {"paris": "sunny, 22 °C", "oslo": "light rain, 9 °C"}
    return f"{city}: {forecasts.get(city.lower(), 'cloudy, 15 °C')}"


@tool
def celsius_to_fahrenheit(celsius: float) -> str:
    """Convert a temperature from degrees Celsius to degrees Fahrenheit."""
    return f"{celsius} °C = {celsius * 9 / 5 + 32:.1f} °F"


def main() -> None:
    conn = connection()
    model = ChatLunos(model=CHAT_MODEL, temperature=0, app_id="cookbook-agent", **conn.kwargs)
    agent = create_agent(
        model,
        tools=[get_weather, celsius_to_fahrenheit],
        system_prompt="You are a concise travel assistant. Use the tools; do not guess.",
    )

    question = (
        'What is the weather in "Paris"? Use get_weather, then convert 22 degrees '
        "with celsius_to_fahrenheit."
    )
    section("agent.stream (one line per step)")
    print("user:", question)
    for step in agent.stream({"messages": [("user", question)]}, stream_mode="updates"):
        for node, update in step.items():
            for message in (update or {}).get("messages", []):
                if isinstance(message, AIMessage) and message.tool_calls:
                    for call in message.tool_calls:
                        print(f"[{node}] tool call: {call['name']}({call['args']})")
                elif isinstance(message, ToolMessage):
                    print(f"[{node}] tool result ({message.name}): {message.content}")
                elif isinstance(message, AIMessage):
                    print(f"[{node}] final answer: {message.content}")


if __name__ == "__main__":
    main()
