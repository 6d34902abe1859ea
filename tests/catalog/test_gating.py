"""Unsupported parameters: learned from the server's 400 (default), or pre-filtered (opt-in).

The local server's ``"strict"`` profile lists only the documented parameter names and
rejects every other optional parameter with a 400 naming it; ``"documented"`` rejects only
an unlisted ``response_format``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from lunos_integrations.catalog import LunosCatalogWarning, shared_catalog
from lunos_integrations.catalog.gating import LunosUnsupportedParameterWarning, dropped_fields
from lunos_integrations.errors import BadRequestError, UnsupportedParameterError
from lunos_integrations.parameters import ParameterMemory, gate_mode, rejected_parameter
from lunos_integrations.testing import ErrorReply, JSONReply
from lunos_integrations.testing.server import LocalLunosServer
from lunos_integrations.wire.models import parse_model
from lunos_integrations.wire.types import (
    ChatRequest,
    Message,
    ResponseFormat,
    ToolSpec,
)

from .conftest import make_client


@pytest.fixture
def strict() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(catalog_profile="strict") as srv:
        yield srv


@pytest.fixture
def documented() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(catalog_profile="documented") as srv:
        yield srv


def _chat_bodies(srv: LocalLunosServer, path: str = "/chat/completions") -> list[dict[str, object]]:
    return [r.json for r in srv.requests if r.path.endswith(path)]


def _req(model: str, **kw: object) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", "hello")], **kw)  # type: ignore[arg-type]


def _unsupported_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if w.category is LunosUnsupportedParameterWarning]


def test_rejected_parameter_costs_one_extra_request_per_process(strict: LocalLunosServer) -> None:
    with make_client(strict) as client, warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        first = client.chat(_req("openai/gpt-4o", stop=["END"], temperature=0.0))
        second = client.chat(_req("openai/gpt-4o", stop=["END"], temperature=0.5))
    bodies = _chat_bodies(strict)
    # first call: sent as asked, rejected, re-sent without 'stop'; second call: learned
    assert [("stop" in b) for b in bodies] == [True, False, False]
    assert all("temperature" in b for b in bodies)  # listed: untouched
    assert first.text and second.text
    messages = _unsupported_warnings(record)
    assert len(messages) == 1 and "'stop'" in messages[0] and "openai/gpt-4o" in messages[0]
    assert client.parameters.rejected("openai/gpt-4o") == {"stop"}


def test_each_rejected_parameter_is_learned_once(strict: LocalLunosServer) -> None:
    with make_client(strict) as client, warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        client.chat(_req("openai/gpt-4o", stop=["END"], seed=7))
        client.chat(_req("openai/gpt-4o", stop=["END"], seed=7))
    bodies = _chat_bodies(strict)
    assert len(bodies) == 3 + 1  # stop and seed rejected one after the other, then none
    assert not {"stop", "seed"} & set(bodies[-1])
    assert sorted(m.split("'")[1] for m in _unsupported_warnings(record)) == ["seed", "stop"]


def test_clients_of_one_base_url_share_what_was_learned(strict: LocalLunosServer) -> None:
    with make_client(strict) as one, make_client(strict) as two:
        with pytest.warns(LunosUnsupportedParameterWarning):
            one.chat(_req("openai/gpt-4o", seed=1))
        two.chat(_req("openai/gpt-4o", seed=1))
    assert len(_chat_bodies(strict)) == 3
    assert one.parameters is two.parameters is shared_catalog(strict.base_url).parameters


def test_a_private_memory_learns_on_its_own(strict: LocalLunosServer) -> None:
    with (
        make_client(strict, parameter_memory=ParameterMemory()) as own,
        pytest.warns(LunosUnsupportedParameterWarning),
    ):
        own.chat(_req("openai/gpt-4o", seed=1))
    assert shared_catalog(strict.base_url).parameters.rejected("openai/gpt-4o") == frozenset()


def test_documented_profile_accepts_stop_and_seed(documented: LocalLunosServer) -> None:
    with make_client(documented) as client, warnings.catch_warnings():
        warnings.simplefilter("error", LunosUnsupportedParameterWarning)
        client.chat(_req("openai/gpt-4o", stop=["END"], seed=3))
    (body,) = _chat_bodies(documented)
    assert body["stop"] == ["END"] and body["seed"] == 3


@pytest.mark.parametrize("profile", ["documented", "strict"])
def test_default_stream_reports_usage_once_with_cost(profile: str) -> None:
    from lunos_integrations import track_usage

    with (
        LocalLunosServer(catalog_profile=profile) as srv,  # type: ignore[arg-type]
        make_client(srv) as client,
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        with track_usage() as usage:
            deltas = list(client.stream_chat(_req("openai/gpt-4o-mini")))
        carrying = [d.usage for d in deltas if d.usage is not None]
        bodies = _chat_bodies(srv)
    assert usage.requests == 1 and len(carrying) <= 1
    if profile == "documented":  # stream_options accepted: usage and cost arrive
        assert len(bodies) == 1 and bodies[0]["stream_options"] == {"include_usage": True}
        assert len(carrying) == 1 and carrying[0].cost is not None and carrying[0].cost > 0
        assert usage.cost_complete and usage.total_cost == pytest.approx(carrying[0].cost)
    else:  # strict rejects stream_options (learned, one warning) and sends usage anyway
        assert len(bodies) == 2 and "stream_options" not in bodies[1]
        assert any("stream_options" in m for m in _unsupported_warnings(record))
        assert len(carrying) == 1 and carrying[0].cost is not None and carrying[0].cost > 0
        assert usage.cost_complete and usage.total_cost == pytest.approx(carrying[0].cost)


def test_stream_and_async_paths_learn(strict: LocalLunosServer) -> None:
    import asyncio

    async def run() -> None:
        with make_client(strict) as client:
            with pytest.warns(LunosUnsupportedParameterWarning, match="'seed'"):
                await client.achat(_req("openai/gpt-4o-mini", seed=1))
            # A stream also asks for usage (stream_options), which this strict server
            # rejects for the model too: both are learned, each announced once.
            with pytest.warns(LunosUnsupportedParameterWarning) as seen:
                async for _ in client.astream_chat(_req("openai/gpt-4o-mini", stop=["X"])):
                    pass
            named = sorted(str(w.message).split("'")[1] for w in seen)
            assert named == ["stop", "stream_options"], named
            with pytest.warns(LunosUnsupportedParameterWarning, match="'frequency_penalty'"):
                list(client.stream_chat(_req("openai/gpt-4o-mini", frequency_penalty=0.1)))

    asyncio.run(run())
    assert all(
        not {"seed", "stop", "frequency_penalty"} & set(b) for b in _chat_bodies(strict)[-1:]
    )


def test_messages_route_learns_from_the_anthropic_envelope(strict: LocalLunosServer) -> None:
    with make_client(strict) as client:
        with pytest.warns(LunosUnsupportedParameterWarning, match="'stop_sequences'"):
            client.chat(_req("openai/o3-mini", stop=["END"], max_tokens=20), api="messages")
        client.chat(_req("openai/o3-mini", stop=["END"], max_tokens=20), api="messages")
    bodies = _chat_bodies(strict, "/messages")
    assert [("stop_sequences" in b) for b in bodies] == [True, False, False]


def test_tools_and_response_format_are_raised_not_dropped(strict: LocalLunosServer) -> None:
    tool = ToolSpec(name="f", description="d", parameters={"type": "object", "properties": {}})
    fmt = ResponseFormat(type="json_schema", name="x", schema={"type": "object"})
    with make_client(strict) as client:
        with pytest.raises(UnsupportedParameterError) as info:
            client.chat(_req("deepseek/deepseek-r1", tools=[tool]))
        assert info.value.param == "tools" and "deepseek/deepseek-r1" in str(info.value)
        with pytest.raises(UnsupportedParameterError, match="response_format"):
            client.chat(_req("deepseek/deepseek-r1", response_format=fmt))
    assert len(_chat_bodies(strict)) == 2  # one request each: nothing retried


def test_extra_body_is_never_dropped(strict: LocalLunosServer) -> None:
    with make_client(strict) as client, pytest.raises(UnsupportedParameterError) as info:
        client.chat(_req("openai/gpt-4o", extra_body={"seed": 5}))
    assert info.value.param == "seed" and len(_chat_bodies(strict)) == 1


def test_gate_parameters_false_raises_a_typed_error_naming_the_parameter(
    strict: LocalLunosServer,
) -> None:
    with (
        make_client(strict, gate_parameters=False) as client,
        pytest.raises(UnsupportedParameterError) as info,
    ):
        client.chat(_req("openai/gpt-4o", seed=1))
    err = info.value
    assert isinstance(err, BadRequestError) and err.status_code == 400 and err.param == "seed"
    assert "Unsupported parameter 'seed'" in str(err)  # the server's own words surface
    assert len(_chat_bodies(strict)) == 1


def test_400_naming_a_parameter_that_was_not_sent_is_not_retried(
    lunos_server: LocalLunosServer,
) -> None:
    lunos_server.enqueue(
        ErrorReply(
            400,
            body={
                "error": {
                    "message": "Unsupported parameter 'logit_bias'",
                    "param": "logit_bias",
                    "code": "unsupported_parameter",
                }
            },
        ),
        path="/v1/chat/completions",
    )
    with make_client(lunos_server) as client, pytest.raises(BadRequestError) as info:
        client.chat(_req("openai/gpt-4o", seed=1))
    assert not isinstance(info.value, UnsupportedParameterError)
    assert len(_chat_bodies(lunos_server)) == 1


@pytest.mark.parametrize(
    "error",
    [
        {"message": "Invalid request", "code": "invalid_request_error"},  # no parameter named
        {"message": "temperature must be <= 2", "param": "temperature"},  # a value, not support
    ],
)
def test_other_400s_are_not_retried(lunos_server: LocalLunosServer, error: dict[str, str]) -> None:
    lunos_server.enqueue(ErrorReply(400, body={"error": error}), path="/v1/chat/completions")
    with make_client(lunos_server) as client, pytest.raises(BadRequestError) as info:
        client.chat(_req("openai/gpt-4o", temperature=3.0))
    assert not isinstance(info.value, UnsupportedParameterError)
    assert len(_chat_bodies(lunos_server)) == 1
    assert client.parameters.rejected("openai/gpt-4o") == frozenset()


def test_a_retried_call_never_loops(lunos_server: LocalLunosServer) -> None:
    """A server that rejects the same parameter forever: dropped once, then the error."""
    reject = {"error": {"message": "Unsupported parameter 'seed'", "param": "seed"}}
    for _ in range(3):
        lunos_server.enqueue(ErrorReply(400, body=reject), path="/v1/chat/completions")
    with (
        make_client(lunos_server) as client,
        pytest.raises(BadRequestError),
        pytest.warns(LunosUnsupportedParameterWarning),
    ):
        client.chat(_req("openai/gpt-4o", seed=1))
    assert len(_chat_bodies(lunos_server)) == 2


def test_catalog_mode_prefilters_with_one_warning(strict: LocalLunosServer) -> None:
    with make_client(strict, gate_parameters="catalog") as client:
        with pytest.warns(LunosUnsupportedParameterWarning, match="'temperature'") as record:
            client.chat(_req("openai/o3-mini", temperature=0.0, max_tokens=50))
            client.chat(_req("openai/o3-mini", temperature=0.5))
        assert len(_unsupported_warnings(record)) == 1
    bodies = _chat_bodies(strict)
    assert len(bodies) == 2 and all("temperature" not in b for b in bodies)
    assert bodies[0]["max_tokens"] == 50


def test_catalog_mode_never_prefilters_stream_options() -> None:
    info = parse_model({"id": "m", "supportedParameters": ["temperature"]})
    assert info is not None
    req = _req("m", stream=True, include_usage=True, temperature=1.0)
    assert dropped_fields(req, info, "chat_completions") == {}


def test_learning_works_without_a_catalog() -> None:
    with (
        LocalLunosServer(catalog_profile="none", strict_parameters=True) as srv,
        make_client(srv) as client,
        warnings.catch_warnings(record=True) as record,
    ):
        warnings.simplefilter("always")
        client.chat(_req("openai/o3-mini", temperature=0.0))
        client.chat(_req("openai/o3-mini", temperature=0.0))
    assert len(_chat_bodies(srv)) == 3
    assert len(_unsupported_warnings(record)) == 1
    assert not [w for w in record if w.category is LunosCatalogWarning]  # pricing stays quiet


def test_learning_does_not_mutate_the_callers_request(strict: LocalLunosServer) -> None:
    req = _req("openai/gpt-4o", seed=4)
    with make_client(strict) as client, pytest.warns(LunosUnsupportedParameterWarning):
        client.chat(req)
    assert req.seed == 4


def test_gate_mode_values() -> None:
    assert gate_mode(True) == gate_mode("learn") == "learn"
    assert gate_mode("catalog") == "catalog" and gate_mode(False) == "off"
    from lunos_integrations.errors import LunosInputError

    with pytest.raises(LunosInputError, match="gate_parameters"):
        gate_mode("sometimes")


def test_rejected_parameter_parses_both_envelopes() -> None:
    from lunos_integrations.errors import error_from_response

    body = {"model": "m", "messages": [], "seed": 1, "stop_sequences": ["x"]}
    openai_style = error_from_response(
        400, b'{"error":{"message":"Unsupported parameter","param":"seed"}}', {}
    )
    anthropic_style = error_from_response(
        400,
        b'{"type":"error","error":{"type":"invalid_request_error",'
        b'"message":"stop_sequences: Unsupported parameter"}}',
        {},
    )
    balance_style = error_from_response(
        400, b'{"success":false,"message":"Parameter seed is not supported"}', {}
    )
    assert rejected_parameter(openai_style, body) == "seed"
    assert rejected_parameter(anthropic_style, body) == "stop_sequences"
    assert rejected_parameter(balance_style, body) == "seed"
    not_json = error_from_response(400, b"<html>bad</html>", {"content-type": "text/html"})
    assert rejected_parameter(not_json, body) is None


def test_scripted_success_after_rejection_is_what_the_caller_gets(
    lunos_server: LocalLunosServer,
) -> None:
    reject = {"error": {"message": "Unsupported parameter: 'seed'", "param": "seed"}}
    lunos_server.enqueue(ErrorReply(400, body=reject), path="/v1/chat/completions")
    lunos_server.enqueue(
        JSONReply(
            {
                "id": "x",
                "object": "chat.completion",
                "model": "openai/gpt-4o",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "retried"},
                        "finish_reason": "stop",
                    }
                ],
            },
        ),
        path="/v1/chat/completions",
    )
    with make_client(lunos_server) as client, pytest.warns(LunosUnsupportedParameterWarning):
        assert client.chat(_req("openai/gpt-4o", seed=1)).text == "retried"
