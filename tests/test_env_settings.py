"""``base_url`` / ``app_id`` are resolved at construction in every adapter (#13.6).

LangChain's convention (``ChatOpenAI.openai_api_base``, ``ChatAnthropic.anthropic_api_url``)
is that a model shows, and serializes, where its requests will go. So the argument wins,
then ``LUNOS_BASE_URL`` / ``LUNOS_APP_ID``, then the public API / no app label, and the
result is on the object, in ``dumpd`` (LangChain) and in ``to_dict`` (LlamaIndex).
"""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations import ChatLunos, LunosEmbedding, LunosEmbeddings, LunosLLM
from lunos_integrations.config import DEFAULT_BASE_URL
from lunos_integrations.testing import LocalLunosServer

ADAPTERS: list[type[Any]] = [ChatLunos, LunosLLM, LunosEmbeddings, LunosEmbedding]
ENV_URL = "https://gateway.example.test/v1"


def _build(cls: type[Any], **kwargs: Any) -> Any:
    if cls is ChatLunos:
        kwargs.setdefault("model", "openai/gpt-4o")
    return cls(api_key="sk-env-settings", **kwargs)


def _serialized(model: Any) -> dict[str, Any]:
    if isinstance(model, (ChatLunos, LunosEmbeddings)):
        from langchain_core.load import dumpd

        kwargs: dict[str, Any] = dumpd(model)["kwargs"]
        return kwargs
    data: dict[str, Any] = model.to_dict()
    return data


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.__name__)
def test_environment_is_read_at_construction(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUNOS_BASE_URL", ENV_URL)
    monkeypatch.setenv("LUNOS_APP_ID", "env-app")
    model = _build(cls)
    monkeypatch.delenv("LUNOS_BASE_URL")
    monkeypatch.delenv("LUNOS_APP_ID")
    assert (model.base_url, model.app_id) == (ENV_URL, "env-app")
    ser = _serialized(model)
    assert (ser["base_url"], ser["app_id"]) == (ENV_URL, "env-app")


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.__name__)
def test_explicit_arguments_win_over_the_environment(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUNOS_BASE_URL", ENV_URL)
    monkeypatch.setenv("LUNOS_APP_ID", "env-app")
    model = _build(cls, base_url="http://127.0.0.1:9/v1", app_id="arg-app")
    assert (model.base_url, model.app_id) == ("http://127.0.0.1:9/v1", "arg-app")
    ser = _serialized(model)
    assert (ser["base_url"], ser["app_id"]) == ("http://127.0.0.1:9/v1", "arg-app")


@pytest.mark.parametrize("cls", ADAPTERS, ids=lambda c: c.__name__)
def test_defaults_are_shown_when_nothing_is_set(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LUNOS_BASE_URL", raising=False)
    monkeypatch.delenv("LUNOS_APP_ID", raising=False)
    model = _build(cls)
    assert model.base_url == DEFAULT_BASE_URL
    assert model.app_id is None
    assert _serialized(model)["base_url"] == DEFAULT_BASE_URL


def test_requests_go_where_the_model_says_even_after_the_environment_changes(
    lunos_server: LocalLunosServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Resolved once: changing the environment later does not move an existing model.
    monkeypatch.setenv("LUNOS_BASE_URL", lunos_server.base_url)
    monkeypatch.setenv("LUNOS_APP_ID", "first-app")
    llm = ChatLunos(model="openai/gpt-4o", api_key=lunos_server.api_key)
    monkeypatch.setenv("LUNOS_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LUNOS_APP_ID", "second-app")
    assert llm.invoke("hi").content
    assert lunos_server.requests[-1].headers["x-app-id"] == "first-app"


@pytest.mark.parametrize("cls", [LunosLLM, LunosEmbedding], ids=lambda c: c.__name__)
def test_llama_index_dict_round_trip_keeps_where_requests_go(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUNOS_BASE_URL", ENV_URL)
    monkeypatch.setenv("LUNOS_APP_ID", "env-app")
    data = _build(cls).to_dict()
    monkeypatch.setenv("LUNOS_API_KEY", "sk-loader")  # to_dict holds no key; the loader's
    monkeypatch.setenv("LUNOS_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("LUNOS_APP_ID", "loader-app")
    restored = cls.from_dict(data)
    assert (restored.base_url, restored.app_id) == (ENV_URL, "env-app")
    assert restored.to_dict() == data
