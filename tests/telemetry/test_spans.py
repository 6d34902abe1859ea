"""One CLIENT span per logical call, attribute by attribute, on every path.

Each test counts the local server's requests beside the spans, so a span per attempt
(instead of per call) or a missing span is caught; durations are never asserted.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from lunos_integrations import errors as E
from lunos_integrations.catalog import aget_balance, alist_models, get_balance, list_models
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.testing.scripting import ErrorReply, StreamFault, StreamReply
from lunos_integrations.wire.types import ChatRequest, EmbeddingRequest, Message

from .conftest import Otel

APIS = ["chat_completions", "messages"]


def _chat(text: str = "hello", **kw: Any) -> ChatRequest:
    return ChatRequest(model="openai/gpt-4o", messages=[Message("user", text)], **kw)


def _posts(server: LocalLunosServer) -> list[Any]:
    return [r for r in server.requests if r.method == "POST"]


def _common(attrs: Any, server: LocalLunosServer, route: str) -> None:
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.system"] == "lunos"  # legacy names by default (no opt-in)
    assert "gen_ai.provider.name" not in attrs
    assert attrs["gen_ai.request.model"] == "openai/gpt-4o"
    assert attrs["lunos.route"] == route
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == server.port
    assert "http.response.status_code" not in attrs  # only failures carry it
    assert attrs["lunos.request_id"].startswith("req_local_")
    assert attrs["gen_ai.response.model"] == "openai/gpt-4o"
    assert attrs["gen_ai.response.id"]
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.usage.output_tokens"] > 0
    assert "http.request.resend_count" not in attrs
    assert "error.type" not in attrs


@pytest.mark.parametrize("api", APIS)
def test_chat_span_attributes(otel: Otel, server: LocalLunosServer, api: str) -> None:
    seed = 7 if api == "chat_completions" else None  # the messages route has no seed
    request = _chat(max_tokens=50, temperature=0.5, top_p=0.9, seed=seed, stop=["END"])
    with otel.client(server, app_id="billing app") as client:
        result = client.chat(request, api=api)  # type: ignore[arg-type]
    span = otel.span()
    assert span.name == "chat openai/gpt-4o"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    attrs = dict(span.attributes or {})
    _common(attrs, server, api)
    assert attrs["gen_ai.request.stream"] is False
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.temperature"] == 0.5
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs.get("gen_ai.request.seed") == seed
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert attrs["gen_ai.response.finish_reasons"] == (result.finish_reason,)
    assert attrs["lunos.app_id"] == "billing app"
    assert attrs["gen_ai.usage.input_tokens"] == result.usage.input_tokens  # type: ignore[union-attr]
    assert "gen_ai.input.messages" not in attrs  # content is opt-in
    assert len(_posts(server)) == 1


async def test_async_chat_is_one_span(otel: Otel, server: LocalLunosServer) -> None:
    async with otel.client(server) as client:
        await client.achat(_chat())
    _common(dict(otel.span().attributes or {}), server, "chat_completions")


@pytest.mark.parametrize("api", APIS)
def test_stream_span_covers_the_whole_stream(
    otel: Otel, server: LocalLunosServer, api: str
) -> None:
    with otel.client(server) as client:
        stream = client.stream_chat(_chat("please write a long answer"), api=api)  # type: ignore[arg-type]
        deltas = [next(stream), next(stream)]
        assert otel.spans() == []  # still open while the stream runs
        deltas.extend(stream)
    attrs = dict(otel.span().attributes or {})
    _common(attrs, server, api)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0
    assert attrs["gen_ai.response.finish_reasons"]
    assert len(deltas) > 2


@pytest.mark.parametrize("api", APIS)
async def test_async_stream_is_one_span(otel: Otel, server: LocalLunosServer, api: str) -> None:
    async with otel.client(server) as client:
        async for _ in client.astream_chat(_chat(), api=api):  # type: ignore[arg-type]
            pass
    attrs = dict(otel.span().attributes or {})
    _common(attrs, server, api)
    assert attrs["gen_ai.request.stream"] is True


def test_retries_are_one_span_with_a_resend_count_and_traceparent_on_each(
    otel: Otel, server: LocalLunosServer
) -> None:
    server.enqueue(ErrorReply(503))
    server.enqueue(ErrorReply(429, headers={"retry-after": "0"}))
    with otel.client(server) as client:
        client.chat(_chat())
    span = otel.span()
    attrs = dict(span.attributes or {})
    assert attrs["http.request.resend_count"] == 2 == len(_posts(server)) - 1
    assert "http.response.status_code" not in attrs  # the call succeeded in the end
    context = span.get_span_context()
    flags = int(context.trace_flags)
    expected = f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    assert [r.headers.get("traceparent") for r in _posts(server)] == [expected] * 3


def test_traceparent_can_be_switched_off(otel: Otel, server: LocalLunosServer) -> None:
    with otel.client(server, telemetry=otel.telemetry(propagate=False)) as client:
        client.chat(_chat())
    assert otel.span()
    assert "traceparent" not in _posts(server)[0].headers


def test_a_4xx_marks_the_span_failed(otel: Otel, server: LocalLunosServer) -> None:
    server.enqueue(ErrorReply(403))
    with otel.client(server) as client, pytest.raises(E.PermissionDeniedError):
        client.chat(_chat())
    span = otel.span()
    attrs = dict(span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert attrs["error.type"] == "PermissionDeniedError"
    assert attrs["http.response.status_code"] == 403
    assert [e.name for e in span.events] == ["exception"]
    assert span.events[0].attributes["exception.type"] == "PermissionDeniedError"  # type: ignore[index]
    assert "exception.stacktrace" not in (span.events[0].attributes or {})
    assert "gen_ai.usage.input_tokens" not in attrs


def test_a_truncated_stream_is_an_error_span(otel: Otel, server: LocalLunosServer) -> None:
    chunk = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "openai/gpt-4o",
        "choices": [{"index": 0, "delta": {"content": "partial"}, "finish_reason": None}],
    }
    server.enqueue(
        StreamReply([chunk, "[DONE]"], fault=StreamFault(truncate_before_terminator=True))
    )
    with otel.client(server) as client, pytest.raises(E.StreamTruncatedError):
        list(client.stream_chat(_chat()))
    span = otel.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "StreamTruncatedError"  # type: ignore[index]
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0  # type: ignore[index]


def test_closing_a_stream_early_is_not_an_error(otel: Otel, server: LocalLunosServer) -> None:
    with otel.client(server) as client:
        stream = client.stream_chat(_chat("please write a long answer"))
        next(stream)
        stream.close()
    span = otel.span()
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["lunos.stream.closed_early"] is True  # type: ignore[index]


def test_fallback_hop_is_one_span(otel: Otel, server: LocalLunosServer) -> None:
    request = ChatRequest(
        model="nobody/missing-model",
        messages=[Message("user", "hi")],
        fallback_model="openai/gpt-4o",
    )
    with otel.client(server) as client:
        client.chat(request)
    span = otel.span()
    attrs = dict(span.attributes or {})
    assert span.name == "chat nobody/missing-model"
    assert attrs["gen_ai.request.model"] == "nobody/missing-model"
    assert attrs["lunos.fallback_model"] == "openai/gpt-4o"
    assert attrs["gen_ai.response.model"] == "openai/gpt-4o"
    assert attrs["http.request.resend_count"] == 1 == len(_posts(server)) - 1
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.filterwarnings(
    "ignore::lunos_integrations.parameters.LunosUnsupportedParameterWarning"
)
def test_a_learned_parameter_drop_is_recorded(otel: Otel) -> None:
    with (
        LocalLunosServer(catalog_profile="none", strict_parameters=True) as strict,
        otel.client(strict) as client,
    ):
        client.chat(
            ChatRequest(model="openai/o3-mini", messages=[Message("user", "hi")], temperature=0.0)
        )
    attrs = dict(otel.span().attributes or {})
    assert attrs["lunos.dropped_parameters"] == ("temperature",)
    assert attrs["gen_ai.request.temperature"] == 0.0  # what the caller asked for
    assert attrs["http.request.resend_count"] == 1 == len(_posts(strict)) - 1


def test_embeddings_span(otel: Otel, server: LocalLunosServer) -> None:
    with otel.client(server) as client:
        client.embed(EmbeddingRequest(model="openai/text-embedding-3-small", input=["a", "b"]))
    span = otel.span()
    attrs = dict(span.attributes or {})
    assert span.name == "embeddings openai/text-embedding-3-small"
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["lunos.route"] == "embeddings"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert "gen_ai.request.stream" not in attrs


async def test_async_embeddings_span(otel: Otel, server: LocalLunosServer) -> None:
    async with otel.client(server) as client:
        await client.aembed(EmbeddingRequest(model="openai/text-embedding-3-small", input=["a"]))
    assert otel.span().attributes["gen_ai.operation.name"] == "embeddings"  # type: ignore[index]


async def test_models_and_balance_spans(otel: Otel, server: LocalLunosServer) -> None:
    with otel.client(server) as client:
        list_models(client=client)
        get_balance(client=client)
    async with otel.client(server) as client:
        await alist_models(client=client)
        await aget_balance(client=client)
    spans = otel.spans()
    assert [s.name for s in spans] == ["models", "balance", "models", "balance"]
    assert [s.attributes["lunos.route"] for s in spans] == [  # type: ignore[index]
        "models",
        "balance",
        "models",
        "balance",
    ]
    assert len(server.requests) == 4


def test_latest_names_on_opt_in(
    otel: Otel, server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental")
    with otel.client(server) as client:
        client.chat(_chat())
    attrs = dict(otel.span().attributes or {})
    assert attrs["gen_ai.provider.name"] == "lunos"
    assert "gen_ai.system" not in attrs


def test_server_cost_is_recorded_with_its_source(otel: Otel) -> None:
    with LocalLunosServer(report_cost=True) as srv, otel.client(srv) as client:
        result = client.chat(_chat())
    attrs = dict(otel.span().attributes or {})
    assert result.usage is not None and result.usage.cost is not None
    assert attrs["lunos.usage.cost"] == result.usage.cost
    assert attrs["lunos.usage.cost_source"] == "server"


@pytest.mark.parametrize(
    ("semconv", "write_name"),
    [
        ("latest", "gen_ai.usage.cache_write.input_tokens"),
        ("legacy", "gen_ai.usage.cache_creation.input_tokens"),
    ],
)
def test_prompt_cache_tokens(
    otel: Otel, server: LocalLunosServer, semconv: Any, write_name: str
) -> None:
    system = Message("system", "You are a careful assistant. " * 20)
    request = ChatRequest(model="openai/gpt-4o", messages=[system, Message("user", "hi")])
    with otel.client(server, telemetry=otel.telemetry(semconv=semconv)) as client:
        first = client.chat(request, api="messages")
        second = client.chat(request, api="messages")
    assert first.usage is not None and second.usage is not None
    one, two = (dict(s.attributes or {}) for s in otel.spans())
    assert one[write_name] == first.usage.cache_creation_tokens > 0
    assert two["gen_ai.usage.cache_read.input_tokens"] == second.usage.cache_read_tokens > 0
