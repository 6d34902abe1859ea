"""Catalogs as real gateways publish them: LiteLLM, OpenRouter, vLLM (golden shapes).

The JSON files under ``tests/wire/golden/catalogs`` follow each project's documented
``/models`` (and LiteLLM ``/model/info``) response shapes. What matters downstream: the
context window, the output cap, whether the model is a chat model, tool support, prices.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from lunos_integrations.catalog import LunosCatalogWarning
from lunos_integrations.pricing import compute_cost
from lunos_integrations.testing import LocalLunosServer
from lunos_integrations.wire.models import ModelInfo, parse_model_list
from lunos_integrations.wire.types import Usage

GOLDEN = Path(__file__).resolve().parents[1] / "wire" / "golden" / "catalogs"


def _models(name: str) -> dict[str, ModelInfo]:
    body = json.loads((GOLDEN / name).read_text())
    return {m.id: m for m in parse_model_list(body)}


def test_litellm_model_info() -> None:
    models = _models("litellm_model_info.json")
    assert sorted(models) == ["claude-sonnet", "text-embedding-3-small"]  # not deployment ids
    claude = models["claude-sonnet"]
    assert (claude.context_window, claude.max_output_tokens) == (200_000, 64_000)
    assert claude.is_chat_model and claude.supports_tools and claude.supports_images
    assert claude.supports_reasoning is True and claude.provider == "anthropic"
    assert (claude.input_price_per_million, claude.output_price_per_million) == (3.0, 15.0)
    # cache reads at LiteLLM's per-token cache price: 1M cached tokens cost $0.30
    assert compute_cost(claude, Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000)) == (
        pytest.approx(0.3)
    )
    embed = models["text-embedding-3-small"]
    assert embed.context_window == 8191 and embed.max_output_tokens is None
    assert not embed.is_chat_model and embed.is_embedding_model and not embed.supports_tools
    assert embed.input_price_per_million == pytest.approx(0.02)


def test_litellm_proxy_v1_models() -> None:
    models = _models("litellm_v1_models.json")
    claude = models["claude-sonnet"]
    assert (claude.context_window, claude.max_output_tokens) == (200_000, 64_000)
    assert claude.mode == "chat" and claude.supports_tools
    embed = models["text-embedding-3-small"]
    assert embed.mode == "embedding" and not embed.is_chat_model and not embed.supports_tools
    # the legacy max_tokens alone is the window (LiteLLM: "set to max_input_tokens if ...")
    legacy = models["legacy-chat"]
    assert (legacy.context_window, legacy.max_output_tokens) == (16_385, None)


def test_openrouter_models() -> None:
    models = _models("openrouter_models.json")
    claude = models["anthropic/claude-sonnet-4"]
    assert (claude.context_window, claude.max_output_tokens) == (200_000, 64_000)
    assert claude.input_modalities == ("image", "text", "file")
    assert claude.supports_images and claude.supports_pdf and claude.supports_tools
    assert claude.supports_structured_output
    assert (claude.input_price_per_million, claude.output_price_per_million) == (3.0, 15.0)
    cost = compute_cost(claude, Usage(input_tokens=1_000_000, cache_read_tokens=1_000_000))
    assert cost == pytest.approx(0.3)  # per-token cache price scaled like the others
    embed = models["openai/text-embedding-3-small"]
    assert embed.is_embedding_model and not embed.is_chat_model and not embed.supports_tools
    assert embed.context_window == 8192


def test_vllm_models() -> None:
    (llama,) = _models("vllm_models.json").values()
    assert llama.id == "meta-llama/Llama-3.1-8B-Instruct" and llama.provider == "vllm"
    assert llama.context_window == 8192 and llama.max_output_tokens is None
    assert llama.is_chat_model and llama.input_price_per_million is None


def test_unpublished_fields_stay_unknown() -> None:
    (plain,) = parse_model_list({"data": [{"id": "m", "object": "model", "owned_by": "x"}]})
    assert plain.context_window is None and plain.max_output_tokens is None
    assert plain.mode is None and plain.is_chat_model  # unknown → assumed chat, as before


# --------------------------------------------------------------------------- adapters


def _litellm_server_models() -> list[dict[str, Any]]:
    """The LiteLLM proxy's entries, served by the local server (it needs modalities)."""
    body = json.loads((GOLDEN / "litellm_v1_models.json").read_text())
    out = []
    for entry in body["data"]:
        entry = dict(entry)
        entry["outputModalities"] = ["embedding"] if entry["mode"] == "embedding" else ["text"]
        out.append(entry)
    return out


def test_adapters_read_litellm_context_and_mode() -> None:
    from lunos_integrations.langchain import ChatLunos
    from lunos_integrations.llama_index import LunosLLM

    with LocalLunosServer(models=_litellm_server_models()) as srv:
        settings = {"base_url": srv.base_url, "api_key": srv.api_key}
        chat = ChatLunos(model="claude-sonnet", **settings)
        assert chat.profile is not None
        assert chat.profile["max_input_tokens"] == 200_000
        assert chat.profile["max_output_tokens"] == 64_000
        assert chat.profile["tool_calling"] is True
        embedding = ChatLunos(model="text-embedding-3-small", **settings)
        assert embedding.profile is not None and embedding.profile["tool_calling"] is False
        with warnings.catch_warnings():
            warnings.simplefilter("error", LunosCatalogWarning)
            meta = LunosLLM(model="claude-sonnet", **settings).metadata
        assert meta.context_window == 200_000 and meta.is_function_calling_model
        embed_meta = LunosLLM(model="text-embedding-3-small", **settings).metadata
        assert not embed_meta.is_chat_model and not embed_meta.is_function_calling_model


def test_unknown_context_window_warns_once_naming_the_model() -> None:
    from lunos_integrations.llama_index import LunosLLM
    from lunos_integrations.llama_index.llm import DEFAULT_CONTEXT_WINDOW

    models = [{"id": "bare/model", "object": "model", "owned_by": "x"}]
    with LocalLunosServer(models=models) as srv:
        llm = LunosLLM(model="bare/model", base_url=srv.base_url, api_key=srv.api_key)
        with pytest.warns(LunosCatalogWarning, match="'bare/model'") as record:
            assert llm.metadata.context_window == DEFAULT_CONTEXT_WINDOW
            assert llm.metadata.context_window == DEFAULT_CONTEXT_WINDOW
        assert len([w for w in record if w.category is LunosCatalogWarning]) == 1
        # explicit value: nothing to warn about
        with warnings.catch_warnings():
            warnings.simplefilter("error", LunosCatalogWarning)
            other = LunosLLM(
                model="bare/model", context_window=4096, base_url=srv.base_url, api_key="k"
            )
            assert other.metadata.context_window == 4096


def test_profile_reports_an_unknown_window_as_unknown() -> None:
    from lunos_integrations.langchain import ChatLunos

    models = [{"id": "bare/model", "object": "model", "owned_by": "x"}]
    with LocalLunosServer(models=models) as srv:
        chat = ChatLunos(model="bare/model", base_url=srv.base_url, api_key=srv.api_key)
        assert chat.profile is not None and "max_input_tokens" not in chat.profile
