"""Parameter gating against a server that rejects unsupported parameters (strict mode)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from lunos_integrations.catalog import LunosCatalogWarning
from lunos_integrations.catalog.gating import LunosUnsupportedParameterWarning, unsupported
from lunos_integrations.errors import BadRequestError
from lunos_integrations.testing import ErrorReply
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.wire.models import parse_model
from lunos_integrations.wire.types import (
    ChatRequest,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ToolSpec,
)

from .conftest import make_client


@pytest.fixture
def strict() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(strict_parameters=True) as srv:
        yield srv


def _chat_bodies(srv: LocalLunosServer) -> list[dict[str, object]]:
    return [r.json for r in srv.requests if r.path.endswith("/chat/completions")]


def _req(model: str, **kw: object) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", "hello")], **kw)  # type: ignore[arg-type]


def test_unsupported_parameter_dropped_with_one_warning(strict: LocalLunosServer) -> None:
    with make_client(strict) as client:
        with pytest.warns(LunosUnsupportedParameterWarning, match="'temperature'") as record:
            client.chat(_req("openai/o3-mini", temperature=0.0, max_tokens=50))
            client.chat(_req("openai/o3-mini", temperature=0.5))
        assert len([w for w in record if w.category is LunosUnsupportedParameterWarning]) == 1
    bodies = _chat_bodies(strict)
    assert all("temperature" not in b for b in bodies)
    assert bodies[0]["max_tokens"] == 50  # supported parameters untouched


def test_opt_out_keeps_parameters(strict: LocalLunosServer) -> None:
    with (
        make_client(strict, gate_parameters=False) as client,
        pytest.raises(BadRequestError, match="temperature"),
    ):
        client.chat(_req("openai/o3-mini", temperature=0.0))


def test_tools_dropped_for_model_without_tools(strict: LocalLunosServer) -> None:
    tool = ToolSpec(name="lookup", parameters={"type": "object", "properties": {}})
    with make_client(strict) as client, pytest.warns(LunosUnsupportedParameterWarning):
        result = client.chat(
            _req(
                "deepseek/deepseek-r1",
                tools=[tool],
                tool_choice=NamedToolChoice("lookup"),
                seed=1,
                response_format=ResponseFormat(type="json_object"),
            )
        )
    assert result.text
    body = _chat_bodies(strict)[0]
    for key in ("tools", "tool_choice", "seed", "response_format"):
        assert key not in body
    assert body["model"] == "deepseek/deepseek-r1" and body["messages"]


async def test_async_and_streaming_paths_gate(strict: LocalLunosServer) -> None:
    with make_client(strict) as client, pytest.warns(LunosUnsupportedParameterWarning):
        await client.achat(_req("openai/o3-mini", top_p=0.5))
        deltas = [d async for d in client.astream_chat(_req("openai/o3-mini", top_p=0.5))]
        sync_deltas = list(client.stream_chat(_req("openai/o3-mini", frequency_penalty=0.1)))
    assert deltas and sync_deltas
    bodies = _chat_bodies(strict)
    assert all("top_p" not in b and "frequency_penalty" not in b for b in bodies)
    assert bodies[1]["stream"] is True and "stream_options" in bodies[1]


def test_stream_options_gated_when_not_listed() -> None:
    from lunos_integrations.testing.catalog import default_models

    models = default_models()
    for m in models:
        if m["id"] == "openai/gpt-4o":
            m["supportedParameters"] = ["max_tokens"]
    with LocalLunosServer(strict_parameters=True, models=models) as srv, make_client(srv) as c:
        with pytest.warns(LunosUnsupportedParameterWarning, match="stream_options"):
            deltas = list(c.stream_chat(_req("openai/gpt-4o")))
        assert any(d.text for d in deltas)
        assert "stream_options" not in _chat_bodies(srv)[0]


def test_nothing_gated_when_catalog_down(strict: LocalLunosServer) -> None:
    strict.enqueue(ErrorReply(503), path="/models")
    with make_client(strict, gate_parameters=True) as client, pytest.warns(LunosCatalogWarning):
        result = client.chat(_req("openai/gpt-4o", temperature=0.2))
    assert result.text  # chat still works
    assert _chat_bodies(strict)[0]["temperature"] == 0.2


async def test_catalog_down_async_chat_still_works(lunos_server: LocalLunosServer) -> None:
    lunos_server.enqueue(ErrorReply(500), path="/models")
    with make_client(lunos_server) as client, pytest.warns(LunosCatalogWarning):
        result = await client.achat(_req("openai/gpt-4o", temperature=0.2))
    assert result.text
    assert result.usage is not None and result.usage.cost is None  # no prices: unknown, not 0


def test_unlisted_model_or_unlisted_parameters_are_not_gated() -> None:
    coarse = parse_model({"id": "a/b", "supportedParameters": ["tools", "temperature"]})
    fine = parse_model({"id": "a/c", "supportedParameters": ["tools", "tool_choice"]})
    open_ = parse_model({"id": "a/d"})
    assert coarse is not None and fine is not None and open_ is not None
    req = _req("a/b", tools=[ToolSpec(name="t")], tool_choice="required", parallel_tool_calls=True)
    # coarse vocabulary: "tools" covers tool_choice and parallel_tool_calls
    assert unsupported(req, coarse, "chat_completions") == {}
    # fine vocabulary: exact names only
    assert unsupported(req, fine, "chat_completions") == {"parallel_tool_calls": None}
    assert unsupported(_req("a/d", temperature=1.0, seed=3), open_, "chat_completions") == {}


def test_max_tokens_never_gated_on_messages_route() -> None:
    info = parse_model({"id": "a/b", "supportedParameters": ["temperature"]})
    assert info is not None
    req = _req("a/b", max_tokens=10, thinking={"type": "enabled", "budget_tokens": 1024})
    assert unsupported(req, info, "messages") == {"thinking": None}
    assert unsupported(req, info, "chat_completions") == {"max_tokens": None, "thinking": None}


def test_gating_does_not_mutate_callers_request(strict: LocalLunosServer) -> None:
    req = _req("openai/o3-mini", temperature=0.3)
    with make_client(strict) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.chat(req)
    assert req.temperature == 0.3
