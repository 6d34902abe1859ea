"""Both adapters expose the catalog's parameter gating and its opt-out flag."""

from __future__ import annotations

import pytest

from lunos_integrations.catalog.gating import LunosUnsupportedParameterWarning
from lunos_integrations.testing import LocalLunosServer

# deepseek/deepseek-r1 in the local catalog does not list "seed".
MODEL = "deepseek/deepseek-r1"


def _chat_body(server: LocalLunosServer) -> dict[str, object]:
    posts = [r for r in server.requests if r.path == "/v1/chat/completions"]
    body = posts[-1].json
    assert isinstance(body, dict)
    return body


def test_chatlunos_drops_unsupported_parameter_with_a_warning(
    lunos_server: LocalLunosServer,
) -> None:
    from lunos_integrations.langchain import ChatLunos

    llm = ChatLunos(
        model=MODEL, seed=7, base_url=lunos_server.base_url, api_key=lunos_server.api_key
    )
    with pytest.warns(LunosUnsupportedParameterWarning, match="seed"):
        llm.invoke("hi")
    assert "seed" not in _chat_body(lunos_server)


def test_chatlunos_opt_out_keeps_the_parameter(lunos_server: LocalLunosServer) -> None:
    from lunos_integrations.langchain import ChatLunos

    llm = ChatLunos(
        model=MODEL,
        seed=7,
        gate_parameters=False,
        base_url=lunos_server.base_url,
        api_key=lunos_server.api_key,
    )
    llm.invoke("hi")
    assert _chat_body(lunos_server)["seed"] == 7


@pytest.mark.parametrize("gate", [True, False])
def test_lunosllm_gating_and_opt_out(gate: bool, lunos_server: LocalLunosServer) -> None:
    from llama_index.core.llms import ChatMessage

    from lunos_integrations.llama_index import LunosLLM

    llm = LunosLLM(
        model=MODEL,
        gate_parameters=gate,
        additional_kwargs={"seed": 7},
        base_url=lunos_server.base_url,
        api_key=lunos_server.api_key,
    )
    if gate:
        with pytest.warns(LunosUnsupportedParameterWarning, match="seed"):
            llm.chat([ChatMessage(role="user", content="hi")])
        assert "seed" not in _chat_body(lunos_server)
    else:
        llm.chat([ChatMessage(role="user", content="hi")])
        assert _chat_body(lunos_server)["seed"] == 7
