"""Structured output: json_schema response format where supported, forced tool call otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from lunos_integrations.llama_index import LunosLLM

Bodies = Callable[[], list[dict[str, Any]]]
PROMPT = PromptTemplate("Extract the city from: {text}")


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str
    population: int


# (llm kwargs, expected path). gpt-4o-mini lists response_format; Claude on the messages
# route does not, so it gets a forced tool call; the method can also be chosen explicitly.
CASES = [
    pytest.param({"model": "openai/gpt-4o-mini"}, "json_schema", id="chat-json_schema"),
    pytest.param(
        {"model": "openai/gpt-4o-mini", "structured_output_method": "function_calling"},
        "tool",
        id="chat-forced-tool",
    ),
    pytest.param(
        {"model": "anthropic/claude-sonnet-4", "api": "messages"}, "tool", id="messages-forced-tool"
    ),
    pytest.param(
        {
            "model": "google/gemini-2.5-flash",
            "api": "messages",
            "structured_output_method": "json_schema",
        },
        "json_schema",
        id="messages-json_schema",
    ),
]


def _check_body(body: dict[str, Any], path: str, api: str) -> None:
    if path == "json_schema":
        assert "tools" not in body
        if api == "messages":
            assert body["output_config"]["format"]["type"] == "json_schema"
        else:
            assert body["response_format"]["type"] == "json_schema"
            assert body["response_format"]["json_schema"]["name"] == "City"
    else:
        assert "response_format" not in body
        names = [t.get("name") or t["function"]["name"] for t in body["tools"]]
        assert names == ["City"]
        # Forced by name (llama-cpp-python's server honours no "required").
        assert body["tool_choice"] in (
            {"type": "function", "function": {"name": "City"}},
            {"type": "tool", "name": "City"},
            {"type": "tool", "name": "City", "disable_parallel_tool_use": True},
        )


@pytest.mark.parametrize(("kwargs", "path"), CASES)
def test_structured_predict(
    make_llm: Callable[..., LunosLLM], bodies: Bodies, kwargs: dict[str, Any], path: str
) -> None:
    llm = make_llm(**kwargs)
    city = llm.structured_predict(City, PROMPT, text="Paris in France")
    assert isinstance(city, City)
    assert isinstance(city.population, int) and city.name and city.country
    _check_body(bodies()[-1], path, llm.api)


@pytest.mark.parametrize(("kwargs", "path"), CASES)
async def test_astructured_predict(
    make_llm: Callable[..., LunosLLM], bodies: Bodies, kwargs: dict[str, Any], path: str
) -> None:
    llm = make_llm(**kwargs)
    city = await llm.astructured_predict(City, PROMPT, text="Lyon in France")
    assert isinstance(city, City)
    _check_body(bodies()[-1], path, llm.api)


@pytest.mark.parametrize(("kwargs", "path"), CASES)
def test_stream_structured_predict(
    make_llm: Callable[..., LunosLLM], bodies: Bodies, kwargs: dict[str, Any], path: str
) -> None:
    llm = make_llm(**kwargs)
    partials = list(llm.stream_structured_predict(City, PROMPT, text="Nice in France"))
    assert partials
    final = City.model_validate(partials[-1].model_dump())
    assert final == llm.structured_predict(City, PROMPT, text="Nice in France")
    body = bodies()[-2]
    assert body["stream"] is True
    _check_body(body, path, llm.api)


async def test_astream_structured_predict(make_llm: Callable[..., LunosLLM]) -> None:
    for kwargs in (
        {"model": "openai/gpt-4o-mini"},
        {"model": "anthropic/claude-sonnet-4", "api": "messages"},
    ):
        llm = make_llm(**kwargs)
        gen = await llm.astream_structured_predict(City, PROMPT, text="Rome in Italy")
        partials = [p async for p in gen]
        assert City.model_validate(partials[-1].model_dump()).population >= 0


def test_as_structured_llm(route_llm: LunosLLM) -> None:
    sllm = route_llm.as_structured_llm(City)
    response = sllm.chat([ChatMessage(role="user", content="Berlin in Germany")])
    assert isinstance(response.raw, City)
    assert City.model_validate_json(response.message.content or "") == response.raw
