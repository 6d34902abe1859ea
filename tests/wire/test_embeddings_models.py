"""Embeddings codec and model-catalogue parsing (every shape of lunos-api.md §2.3)."""

from __future__ import annotations

from typing import Any

import pytest

from lunos_integrations.errors import LunosInputError, WireFormatError
from lunos_integrations.wire import embeddings, parse_model_list
from lunos_integrations.wire.models import ModelInfo
from lunos_integrations.wire.types import EmbeddingRequest, Usage

from .helpers import assert_golden

# --------------------------------------------------------------------------- embeddings


def test_embedding_request() -> None:
    body = embeddings.encode_request(
        EmbeddingRequest(
            model="openai/text-embedding-3-small",
            input=["a", "b"],
            dimensions=512,
            user="u-1",
            extra_body={"encoding_format": "float", "input_type": "query"},
        )
    )
    assert_golden("embeddings/request", body)
    assert body["encoding_format"] == "float"


def test_embedding_request_minimal() -> None:
    body = embeddings.encode_request(EmbeddingRequest(model="m", input=["x"]))
    assert body == {"model": "m", "input": ["x"], "encoding_format": "float"}


@pytest.mark.parametrize(
    ("req", "param"),
    [
        (EmbeddingRequest(model="", input=["x"]), "model"),
        (EmbeddingRequest(model="m", input=[]), "input"),
        (EmbeddingRequest(model="m", input=["x", 3]), "input[1]"),  # type: ignore[list-item]
    ],
)
def test_embedding_request_errors(req: EmbeddingRequest, param: str) -> None:
    with pytest.raises(LunosInputError) as exc:
        embeddings.encode_request(req)
    assert exc.value.param == param


def test_embedding_response_sorted_by_index() -> None:
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "embedding": [0.3, 0.4], "index": 1},
            {"object": "embedding", "embedding": [0.1, 2], "index": 0},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 10, "total_tokens": 10},
    }
    r = embeddings.decode_response(body)
    assert r.vectors == [[0.1, 2.0], [0.3, 0.4]]
    assert all(isinstance(x, float) for v in r.vectors for x in v)
    assert r.model == "text-embedding-3-small"
    assert r.usage == Usage(input_tokens=10, total_tokens=10)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": [{"embedding": "AAAAAA==", "index": 0}]}, "base64"),
        ({"data": [{"embedding": {"x": 1}, "index": 0}]}, "not a list of numbers"),
        ({"data": [{"embedding": [1, "2"], "index": 0}]}, "not a list of numbers"),
        ({"data": None}, "no 'data' list"),
        ([1], "got list"),
    ],
)
def test_embedding_response_errors(body: Any, fragment: str) -> None:
    with pytest.raises(WireFormatError, match=fragment):
        embeddings.decode_response(body)


# --------------------------------------------------------------------------- models

NEWEST = {
    "id": "openai/gpt-4o",
    "modelId": "openai/gpt-4o",
    "permaslug": "openai-gpt-4o",
    "name": "GPT-4o",
    "provider": "openai",
    "parameters": {"context": 128000, "max_output_tokens": 4096, "size": "4B"},
    "pricePerMillionTokens": {"input": 5.0, "output": 15.0, "discountPercentage": 20},
    "supportedParameters": ["temperature", "max_tokens", "tools", "response_format"],
    "inputModalities": ["text", "image", "file"],
    "outputModalities": ["text"],
    "supportReasoning": True,
    "maxCompletionTokens": 16384,
}
OLD_V2 = {
    "id": "deepseek/deepseek-r1-0528",
    "name": "DeepSeek R1-0528",
    "parameters": {"context": "163840", "max_output_tokens": 163840.0, "size": "671B"},
    "provider": "deepseek",
    "pricePerMillionTokens": {"input": 0.45, "output": "1.9"},
    "capabilities": ["text-generation"],
    "status": "available",
}
OLD_V1 = {
    "id": "openai/gpt-4o-mini",
    "provider": "openai",
    "created": 1700000000,
    "object": "model",
    "owned_by": "openai",
    "capabilities": ["text-completion", "chat-completion"],
    "pricing": {"input": 0.15, "output": 0.6},
}
OPENAI_STYLE = {"id": "google-imagen-4.0", "object": "model", "created": 1, "owned_by": "google"}
V3_DISCOUNT = {
    "id": "x/model",
    "pricePerMillionTokens": {"input": 2, "output": 8},
    "discountPercentage": 50,
    "description": "…",
    "freeConfig": {"maxTokens": 1000},
}


@pytest.mark.parametrize(
    "shape",
    [
        lambda ms: ms,
        lambda ms: {"data": ms},
        lambda ms: {"data": {"models": ms}},
        lambda ms: {"status": "success", "data": {"models": ms}},
        lambda ms: {"models": ms},
    ],
    ids=["bare", "data", "data.models", "status.data.models", "models"],
)
def test_every_list_shape(shape: Any) -> None:
    entries = [NEWEST, OLD_V2, OLD_V1, OPENAI_STYLE, V3_DISCOUNT, {"name": "no id"}, None, "x"]
    models = parse_model_list(shape(entries))
    assert [m.id for m in models] == [
        "openai/gpt-4o",
        "deepseek/deepseek-r1-0528",
        "openai/gpt-4o-mini",
        "google-imagen-4.0",
        "x/model",
    ]


def test_newest_entry() -> None:
    (m,) = parse_model_list([NEWEST])
    assert m.name == "GPT-4o" and m.provider == "openai"
    assert m.context_window == 128000
    assert (
        m.max_output_tokens == 16384
    )  # maxCompletionTokens wins over parameters.max_output_tokens
    assert m.input_price_per_million == 4.0 and m.output_price_per_million == 12.0
    assert m.discount_percentage == 20.0
    assert m.supports_reasoning is True
    assert (
        m.supports_tools and m.supports_structured_output and m.supports_images and m.supports_pdf
    )
    assert not m.supports_audio
    assert m.supports_parameter("temperature") and not m.supports_parameter("seed")
    assert m.raw is NEWEST


def test_old_v2_entry_strings_for_numbers() -> None:
    (m,) = parse_model_list([OLD_V2])
    assert m.context_window == 163840 and m.max_output_tokens == 163840
    assert m.input_price_per_million == 0.45 and m.output_price_per_million == 1.9
    assert m.capabilities == ("text-generation",)
    assert m.input_modalities == ("text",) and m.output_modalities == ("text",)
    assert m.supported_parameters is None and m.supports_tools  # not listed → anything goes
    assert m.supports_reasoning is None


def test_old_v1_entry() -> None:
    (m,) = parse_model_list({"status": "success", "data": {"models": [OLD_V1]}})
    assert m.name == "openai/gpt-4o-mini"  # no name → id
    assert m.input_price_per_million == 0.15 and m.output_price_per_million == 0.6


def test_provider_is_never_split_from_the_id() -> None:
    (m,) = parse_model_list([{"id": "openrouter/google/gemini-2.5-flash-image"}])
    assert m.provider is None
    (m,) = parse_model_list([OPENAI_STYLE])
    assert m.provider == "google"  # owned_by


def test_top_level_discount_and_nulls() -> None:
    (m,) = parse_model_list([V3_DISCOUNT])
    assert (m.input_price_per_million, m.output_price_per_million) == (1.0, 4.0)
    (m,) = parse_model_list(
        [
            {
                "id": "n",
                "parameters": None,
                "pricePerMillionTokens": {"input": None, "output": ""},
                "maxCompletionTokens": None,
            }
        ]
    )
    assert m.input_price_per_million is None and m.output_price_per_million is None
    assert m.context_window is None and m.discount_percentage == 0.0


def test_capabilities_derive_properties() -> None:
    emb, img, vis = parse_model_list(
        [
            {"id": "e", "capabilities": ["text-embedding"]},
            {"id": "i", "capabilities": ["image-generation"]},
            {"id": "v", "capabilities": ["chat", "vision"]},
        ]
    )
    assert emb.is_embedding_model and not emb.supports_tools
    assert img.supports_image_output and not img.is_chat_model
    assert vis.supports_images and vis.is_chat_model


def test_model_info_equality_ignores_raw() -> None:
    a = ModelInfo(id="x", name="x", raw={"a": 1})
    b = ModelInfo(id="x", name="x", raw={"b": 2})
    assert a == b and hash(a) == hash(b) and "raw" not in repr(a)


def test_unknown_list_shape_is_a_wire_format_error() -> None:
    with pytest.raises(WireFormatError, match="Model list"):
        parse_model_list({"result": []})
