"""The model catalog served by the local server at ``GET /v1/models``.

Why a fixed catalog: integration code derives capabilities (vision, tools, structured
output, reasoning, embeddings) from the catalog rather than from model names, so tests need
a small set of models that covers every combination. Each entry uses the newest documented
object shape (lunos-api.md §2.3): ``id``, ``modelId``, ``name``, ``provider``,
``parameters{context,max_output_tokens}``, ``pricePerMillionTokens{input,output,
discountPercentage}``, ``supportedParameters``, ``inputModalities``, ``outputModalities``,
``supportReasoning``, ``maxCompletionTokens`` and the other descriptive fields.

Models (see :data:`DEFAULT_MODELS`):

* ``openai/gpt-4o`` — text+image in, tools, ``response_format``, most sampling parameters.
* ``openai/gpt-4o-mini`` — same capabilities, cheaper.
* ``openai/o3-mini`` — reasoning model; emits ``reasoning`` + ``reasoning_details``; no
  ``temperature`` (so ``strict_parameters`` rejects it, like the real o-series).
* ``deepseek/deepseek-r1`` — reasoning model; emits ``reasoning_content``; text only, no tools.
* ``anthropic/claude-sonnet-4`` — text/image/pdf in, tools, reasoning (thinking on /messages).
* ``google/gemini-2.5-flash`` — text/image/audio/video/pdf in, tools, a 10 % discount.
* ``openai/text-embedding-3-small`` — embeddings only (``outputModalities: ["embedding"]``),
  1536 dimensions by default (``parameters.dimensions``), honours ``dimensions``.

The wrapper around the list is selectable because the documentation disagrees about it
(lunos-api.md §2.3): ``"array"`` (bare list), ``"data"`` (``{"data": [...]}``) or
``"data_models"`` (``{"data": {"models": [...]}}``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

CatalogShape = Literal["array", "data", "data_models"]
CATALOG_SHAPES: tuple[CatalogShape, ...] = ("array", "data", "data_models")

#: Optional chat parameters the local server knows, in a stable order (routes.py checks
#: requests against a model's ``supportedParameters`` over exactly this set).
GATED_CHAT_PARAMETERS_ORDER: tuple[str, ...] = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "frequency_penalty",
    "presence_penalty",
    "repetition_penalty",
    "seed",
    "n",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "stream_options",
    "reasoning",
    "reasoning_effort",
    "include_reasoning",
    "modalities",
    "image_config",
)

#: What the OpenAI-family models of this catalog accept: every gated chat parameter except
#: the ones specific to other providers or to reasoning / image models.
_OPENAI_CHAT_PARAMS = [
    p
    for p in GATED_CHAT_PARAMETERS_ORDER
    if p
    not in {
        "top_k",
        "repetition_penalty",
        "reasoning",
        "reasoning_effort",
        "include_reasoning",
        "modalities",
        "image_config",
    }
]


def _model(
    model_id: str,
    name: str,
    *,
    context: int,
    max_output: int,
    price_in: float,
    price_out: float,
    supported: Sequence[str],
    inputs: Sequence[str],
    outputs: Sequence[str] = ("text",),
    reasoning: bool = False,
    discount: float = 0,
    description: str = "",
    extra_parameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    provider = model_id.split("/", 1)[0]
    parameters: dict[str, Any] = {"context": context, "max_output_tokens": max_output}
    parameters.update(extra_parameters or {})
    return {
        "id": model_id,
        "modelId": model_id,
        "permaslug": model_id.replace("/", "-").replace(".", "-"),
        "name": name,
        "provider": provider,
        "parameters": parameters,
        "pricePerMillionTokens": {
            "input": price_in,
            "output": price_out,
            "discountPercentage": discount,
        },
        "supportedParameters": list(supported),
        "inputModalities": list(inputs),
        "outputModalities": list(outputs),
        "description": description or f"{name} (local fake served by lunos_integrations.testing).",
        "freeConfig": {"maxTokens": 1000, "isPremium": False},
        "isEnabled": True,
        "avgThroughput": 0,
        "supportReasoning": reasoning,
        "maxCompletionTokens": max_output,
        "releaseDate": "2025-01-01",
        "createdAt": "2026-01-10T10:00:00.000Z",
        "updatedAt": "2026-01-10T10:00:00.000Z",
    }


DEFAULT_MODELS: tuple[dict[str, Any], ...] = (
    _model(
        "openai/gpt-4o",
        "GPT-4o",
        context=128000,
        max_output=16384,
        price_in=2.5,
        price_out=10.0,
        supported=_OPENAI_CHAT_PARAMS,
        inputs=("text", "image"),
    ),
    _model(
        "openai/gpt-4o-mini",
        "GPT-4o mini",
        context=128000,
        max_output=16384,
        price_in=0.15,
        price_out=0.6,
        supported=_OPENAI_CHAT_PARAMS,
        inputs=("text", "image"),
    ),
    _model(
        "openai/o3-mini",
        "o3-mini",
        context=200000,
        max_output=100000,
        price_in=1.1,
        price_out=4.4,
        supported=[
            "max_tokens",
            "max_completion_tokens",
            "stop",
            "seed",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "response_format",
            "stream_options",
            "reasoning",
            "reasoning_effort",
            "include_reasoning",
        ],
        inputs=("text",),
        reasoning=True,
    ),
    _model(
        "deepseek/deepseek-r1",
        "DeepSeek R1",
        context=163840,
        max_output=163840,
        price_in=0.45,
        price_out=1.9,
        supported=[
            "temperature",
            "top_p",
            "max_tokens",
            "stop",
            "stream_options",
            "reasoning",
            "include_reasoning",
        ],
        inputs=("text",),
        reasoning=True,
        extra_parameters={"size": "671B"},
    ),
    _model(
        "anthropic/claude-sonnet-4",
        "Claude Sonnet 4",
        context=200000,
        max_output=64000,
        price_in=3.0,
        price_out=15.0,
        supported=[
            "temperature",
            "top_p",
            "max_tokens",
            "stop",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "stream_options",
            "reasoning",
        ],
        inputs=("text", "image", "pdf"),
        reasoning=True,
    ),
    _model(
        "google/gemini-2.5-flash",
        "Gemini 2.5 Flash",
        context=1048576,
        max_output=65535,
        price_in=0.3,
        price_out=2.5,
        discount=10,
        supported=[
            "temperature",
            "top_p",
            "max_tokens",
            "stop",
            "seed",
            "tools",
            "tool_choice",
            "response_format",
            "stream_options",
        ],
        inputs=("text", "image", "audio", "video", "pdf"),
    ),
    _model(
        "openai/text-embedding-3-small",
        "Text Embedding 3 Small",
        context=8191,
        max_output=0,
        price_in=0.02,
        price_out=0.0,
        supported=["dimensions", "encoding_format", "user"],
        inputs=("text",),
        outputs=("embedding",),
        extra_parameters={"dimensions": 1536},
    ),
)


def default_models() -> list[dict[str, Any]]:
    """Return a deep copy of the default catalog, safe for a test to mutate."""
    return copy.deepcopy(list(DEFAULT_MODELS))


def _wanted(value: str | None) -> set[str]:
    if not value:
        return set()
    return {part.strip() for part in value.split(",") if part.strip()}


def filter_models(
    models: Iterable[Mapping[str, Any]],
    *,
    input: str | None = None,
    output: str | None = None,
) -> list[Mapping[str, Any]]:
    """Apply the documented ``input`` / ``output`` query filters (lunos-api.md §2.2).

    Values are comma-separated; a model matches when it supports *all* listed modalities.
    """
    want_in, want_out = _wanted(input), _wanted(output)
    return [
        m
        for m in models
        if want_in <= set(m.get("inputModalities", ()))
        and want_out <= set(m.get("outputModalities", ()))
    ]


def wrap_catalog(models: Sequence[Mapping[str, Any]], shape: CatalogShape) -> Any:
    """Wrap the model list in one of the three wrappers seen in the wild."""
    items = [dict(m) for m in models]
    if shape == "array":
        return items
    if shape == "data":
        return {"data": items}
    if shape == "data_models":
        return {"data": {"models": items}}
    raise ValueError(f"unknown catalog shape {shape!r}; expected one of {CATALOG_SHAPES}")


def find_model(models: Iterable[Mapping[str, Any]], model_id: str) -> Mapping[str, Any] | None:
    """Look a model up by exact ``id`` (ids are opaque strings, never parsed)."""
    for m in models:
        if m.get("id") == model_id:
            return m
    return None


def is_embedding_model(model: Mapping[str, Any]) -> bool:
    """An embedding model is one whose outputs include ``embedding``."""
    return "embedding" in model.get("outputModalities", ())


# --------------------------------------------------------------------------- profiles

CatalogProfile = Literal["full", "documented", "strict", "none", "slow", "unauthorized"]
CATALOG_PROFILES: tuple[CatalogProfile, ...] = (
    "full",
    "documented",
    "strict",
    "none",
    "slow",
    "unauthorized",
)
"""How the local server's catalog behaves, because real deployments differ (lunos-api.md
§2, §3.1, §10.3):

* ``"full"`` — every model lists every parameter it accepts (``stream_options``, ``stop``,
  ``seed`` ...); nothing is rejected unless ``strict_parameters`` is on.
* ``"documented"`` — ``supportedParameters`` as the Lunos docs show them: only names from
  :data:`DOCUMENTED_PARAMETERS`. The chat route rejects only an unlisted
  ``response_format`` (the one documented rejection), with a 400 naming ``param``.
* ``"strict"`` — the documented lists, and *every* unlisted optional parameter is rejected
  with a 400 naming it (on ``/messages`` in the Anthropic envelope, which has no
  ``param``: the message names it). Chat streams always end with a usage chunk, as
  gateways that reject ``stream_options`` do (lunos-api.md §10.4).
* ``"none"`` — ``GET /v1/models`` answers 404; chat works.
* ``"slow"`` — the full catalog, after ``catalog_delay`` seconds.
* ``"unauthorized"`` — ``GET /v1/models`` answers 401 even with the right key; chat works.
"""

#: The parameter names the Lunos docs show in ``supportedParameters`` (lunos-api.md §2.3).
DOCUMENTED_PARAMETERS: tuple[str, ...] = (
    "temperature",
    "max_tokens",
    "top_p",
    "tools",
    "response_format",
)

#: Messages-route body keys → the catalog name ``"strict"`` checks them against.
MESSAGES_PARAMETER_NAMES: dict[str, str] = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "stop_sequences": "stop",
    "tools": "tools",
    "tool_choice": "tool_choice",
}


def documented_models(models: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``models`` with chat models' ``supportedParameters`` cut to the documented names."""
    out: list[dict[str, Any]] = []
    for model in models:
        entry = copy.deepcopy(dict(model))
        supported = entry.get("supportedParameters")
        if isinstance(supported, list) and not is_embedding_model(entry):
            entry["supportedParameters"] = [p for p in supported if p in DOCUMENTED_PARAMETERS]
        out.append(entry)
    return out
