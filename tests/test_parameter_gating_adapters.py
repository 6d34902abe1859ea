"""Both adapters send what the user set, learn rejections, and expose ``gate_parameters``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lunos_integrations.catalog.gating import LunosUnsupportedParameterWarning
from lunos_integrations.errors import LunosInputError
from lunos_integrations.testing import LocalLunosServer

# deepseek/deepseek-r1 in the local catalog does not list "seed".
MODEL = "deepseek/deepseek-r1"


@pytest.fixture
def strict() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(catalog_profile="strict") as srv:
        yield srv


def _chat_bodies(server: LocalLunosServer) -> list[dict[str, object]]:
    return [r.json for r in server.requests if r.path == "/v1/chat/completions"]


def test_chatlunos_sends_seed_when_the_server_accepts_it(lunos_server: LocalLunosServer) -> None:
    """The full catalog does not list seed for this model, and the server accepts it."""
    from lunos_integrations.langchain import ChatLunos

    llm = ChatLunos(
        model=MODEL, seed=7, base_url=lunos_server.base_url, api_key=lunos_server.api_key
    )
    llm.invoke("hi")
    assert [b["seed"] for b in _chat_bodies(lunos_server)] == [7]


def test_chatlunos_learns_a_rejected_parameter(strict: LocalLunosServer) -> None:
    from lunos_integrations.langchain import ChatLunos

    llm = ChatLunos(model=MODEL, seed=7, base_url=strict.base_url, api_key=strict.api_key)
    with pytest.warns(LunosUnsupportedParameterWarning, match="seed"):
        assert llm.invoke("hi").content
    llm.invoke("again")
    assert [("seed" in b) for b in _chat_bodies(strict)] == [True, False, False]


def test_chatlunos_opt_out_raises_naming_the_parameter(strict: LocalLunosServer) -> None:
    from langchain_core.exceptions import LangChainException

    from lunos_integrations.errors import UnsupportedParameterError
    from lunos_integrations.langchain import ChatLunos

    llm = ChatLunos(
        model=MODEL,
        seed=7,
        gate_parameters=False,
        base_url=strict.base_url,
        api_key=strict.api_key,
    )
    with pytest.raises((UnsupportedParameterError, LangChainException)) as info:
        llm.invoke("hi")
    err = info.value
    chain = [err, err.__cause__]
    assert any(getattr(e, "param", None) == "seed" for e in chain), chain
    assert _chat_bodies(strict)[0]["seed"] == 7


@pytest.mark.parametrize("gate", ["learn", True, False])
def test_lunosllm_gating_and_opt_out(gate: object, strict: LocalLunosServer) -> None:
    from llama_index.core.llms import ChatMessage

    from lunos_integrations.errors import UnsupportedParameterError
    from lunos_integrations.llama_index import LunosLLM

    llm = LunosLLM(
        model=MODEL,
        gate_parameters=gate,
        additional_kwargs={"seed": 7},
        base_url=strict.base_url,
        api_key=strict.api_key,
    )
    if gate is False:
        with pytest.raises(UnsupportedParameterError, match="seed"):
            llm.chat([ChatMessage(role="user", content="hi")])
        assert [b["seed"] for b in _chat_bodies(strict)] == [7]
    else:
        with pytest.warns(LunosUnsupportedParameterWarning, match="seed"):
            llm.chat([ChatMessage(role="user", content="hi")])
        assert [("seed" in b) for b in _chat_bodies(strict)] == [True, False]


def test_bad_gate_parameters_is_rejected_at_construction() -> None:
    from lunos_integrations.langchain import ChatLunos
    from lunos_integrations.llama_index import LunosLLM

    with pytest.raises((LunosInputError, ValueError), match="gate_parameters"):
        ChatLunos(model=MODEL, api_key="k", gate_parameters="always")  # type: ignore[arg-type]
    with pytest.raises((LunosInputError, ValueError), match="gate_parameters"):
        LunosLLM(model=MODEL, api_key="k", gate_parameters="always")
