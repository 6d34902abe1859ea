"""The GenAI client metrics and the cost counter, counted against what the calls did."""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations import errors as E
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.scripting import ErrorReply
from lunos_integrations.wire.types import ChatRequest, Message

from .conftest import Otel


def _chat(text: str = "hello") -> ChatRequest:
    return ChatRequest(model="openai/gpt-4o", messages=[Message("user", text)])


def _by(points: list[Any], **attrs: Any) -> list[Any]:
    return [p for p in points if all(p.attributes.get(k) == v for k, v in attrs.items())]


def test_token_usage_duration_and_chunk_metrics(otel: Otel) -> None:
    with LocalLunosServer(report_cost=True) as server, otel.client(server, app_id="app") as client:
        result = client.chat(_chat())
        deltas = list(client.stream_chat(_chat("please write a long answer"), api="messages"))
    metrics = otel.metrics()
    assert set(metrics) == {
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.duration",
        "gen_ai.client.operation.time_to_first_chunk",
        "gen_ai.client.operation.time_per_output_chunk",
        "lunos.client.cost",
    }
    usage = metrics["gen_ai.client.token.usage"]
    inputs = _by(usage, **{"gen_ai.token.type": "input", "lunos.route": "chat_completions"})
    outputs = _by(usage, **{"gen_ai.token.type": "output", "lunos.route": "chat_completions"})
    assert result.usage is not None
    assert [(p.count, p.sum) for p in inputs] == [(1, result.usage.input_tokens)]
    assert [(p.count, p.sum) for p in outputs] == [(1, result.usage.output_tokens)]
    assert sum(p.count for p in usage) == 4  # input and output of both calls
    for point in usage:
        assert point.attributes["gen_ai.request.model"] == "openai/gpt-4o"
        assert point.attributes["gen_ai.system"] == "lunos"
        assert point.attributes["lunos.app_id"] == "app"
        assert point.attributes["server.address"] == "127.0.0.1"
    assert sum(p.count for p in metrics["gen_ai.client.operation.duration"]) == 2
    first = metrics["gen_ai.client.operation.time_to_first_chunk"]
    assert [(p.count, p.attributes["lunos.route"]) for p in first] == [(1, "messages")]
    gaps = metrics["gen_ai.client.operation.time_per_output_chunk"]
    assert sum(p.count for p in gaps) == len(deltas) - 1
    cost = metrics["lunos.client.cost"]
    assert {p.attributes["lunos.usage.cost_source"] for p in cost} == {"server"}
    streamed = next(d.usage for d in deltas if d.usage is not None)
    assert result.usage.cost is not None
    assert streamed.cost is None  # this server's messages stream reports no cost: not counted
    assert sum(p.value for p in cost) == pytest.approx(result.usage.cost)
    boundaries = metrics["gen_ai.client.token.usage"][0].explicit_bounds
    assert tuple(boundaries[:3]) == (1.0, 4.0, 16.0)


def test_failures_carry_error_type(otel: Otel, server: LocalLunosServer) -> None:
    server.enqueue(ErrorReply(404))
    with otel.client(server) as client, pytest.raises(E.NotFoundError):
        client.chat(_chat())
    durations = otel.metrics()["gen_ai.client.operation.duration"]
    assert [p.attributes.get("error.type") for p in durations] == ["NotFoundError"]
    assert "gen_ai.client.token.usage" not in otel.metrics()


def test_metrics_without_a_tracer_provider(otel: Otel, server: LocalLunosServer) -> None:
    from lunos_integrations.telemetry import Telemetry

    only_metrics = Telemetry(meter_provider=otel.meter_provider)
    with otel.client(server, telemetry=only_metrics) as client:
        client.chat(_chat())
    assert otel.spans() == []
    assert sum(p.count for p in otel.metrics()["gen_ai.client.operation.duration"]) == 1
    assert "traceparent" not in server.requests[-1].headers
