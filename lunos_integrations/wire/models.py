"""Parsing of the model catalogue (``GET /models``, lunos-api.md §2).

The Lunos catalogue has changed shape several times (§2.3); :func:`parse_model_list`
accepts all of them and normalises each entry to a :class:`ModelInfo`. Users also point
this package at their own OpenAI-compatible gateways (often in front of Lunos), so the
context-window, output-cap, mode and price fields those publish are read too:

* **LiteLLM** (proxy ``/v1/models`` and ``/model/info``, flat or under ``model_info``):
  ``max_input_tokens``; ``max_output_tokens``; ``max_tokens`` (a legacy field: the output
  cap when ``max_input_tokens`` is also given, else the window); ``mode`` (``"chat"``,
  ``"embedding"``, ``"image_generation"`` ...); ``supports_function_calling`` /
  ``supports_vision`` / ``supports_reasoning``; ``input_cost_per_token`` /
  ``output_cost_per_token`` (USD per token).
* **OpenRouter**: ``context_length``, ``top_provider.{context_length,
  max_completion_tokens}``, ``architecture.{input,output}_modalities``,
  ``supported_parameters``, ``pricing.{prompt,completion}`` (USD per token, strings).
* **vLLM**: ``max_model_len``.

A field nobody published stays ``None`` ("unknown"), never a guessed number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import WireFormatError
from ._common import describe, to_float, to_int

__all__ = ["PATH", "ModelInfo", "parse_model", "parse_model_list"]

#: Route path, relative to the ``/v1`` base URL.
PATH = "/models"

# Older ``capabilities`` values → (input modalities, output modalities) they imply.
_CAPABILITY_MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (("text",), ("text",)),
    "chat-completion": (("text",), ("text",)),
    "text-completion": (("text",), ("text",)),
    "text-generation": (("text",), ("text",)),
    "vision": (("text", "image"), ("text",)),
    "image-generation": (("text",), ("image",)),
    "speech-generation": (("text",), ("audio",)),
    "audio-transcription": (("audio",), ("text",)),
    "text-embedding": (("text",), ("embeddings",)),
}
_CHAT_CAPABILITIES = frozenset(
    ("chat", "chat-completion", "text-completion", "text-generation", "vision")
)
#: LiteLLM ``mode`` values of models that answer conversations.
_CHAT_MODES = frozenset(("chat", "completion", "responses"))
# LiteLLM ``mode`` → (input, output) modalities, used when no modalities are listed.
_MODE_MODALITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "chat": (("text",), ("text",)),
    "completion": (("text",), ("text",)),
    "responses": (("text",), ("text",)),
    "embedding": (("text",), ("embedding",)),
    "image_generation": (("text",), ("image",)),
    "audio_speech": (("text",), ("audio",)),
    "audio_transcription": (("audio",), ("text",)),
}
_PER_MILLION = 1_000_000.0


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One catalogue entry. Prices are USD per million tokens *after* the discount."""

    id: str
    name: str
    provider: str | None = None
    context_window: int | None = None
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    #: ``None`` means the catalogue did not list parameters: anything may be sent.
    supported_parameters: tuple[str, ...] | None = None
    supports_reasoning: bool | None = None
    input_price_per_million: float | None = None
    output_price_per_million: float | None = None
    discount_percentage: float = 0.0
    #: The older ``capabilities`` list (empty in the newest catalogue).
    capabilities: tuple[str, ...] = ()
    #: What the model is for, as gateways publish it (LiteLLM ``mode``: ``"chat"``,
    #: ``"embedding"``, ``"image_generation"`` ...); ``None`` when not published.
    mode: str | None = None
    #: An explicit tool-calling flag (LiteLLM ``supports_function_calling``), when given.
    function_calling: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def supports_parameter(self, name: str) -> bool:
        """Whether ``name`` may be sent (always true when parameters are not listed)."""
        return self.supported_parameters is None or name in self.supported_parameters

    @property
    def is_chat_model(self) -> bool:
        """Produces text from a conversation (unknown → assumed yes)."""
        if self.mode is not None:
            return self.mode in _CHAT_MODES
        if self.output_modalities:
            return "text" in self.output_modalities
        if self.capabilities:
            return any(c in _CHAT_CAPABILITIES for c in self.capabilities)
        return True

    @property
    def is_embedding_model(self) -> bool:
        # Lunos has used both spellings for the embedding output modality.
        if self.mode is not None:
            return self.mode in ("embedding", "embeddings")
        return "text-embedding" in self.capabilities or any(
            m in ("embedding", "embeddings") for m in self.output_modalities
        )

    @property
    def supports_tools(self) -> bool:
        if not self.is_chat_model:
            return False
        if self.function_calling is not None:
            return self.function_calling
        if self.supported_parameters is not None:
            return "tools" in self.supported_parameters
        return self.is_chat_model and not self.is_embedding_model

    @property
    def supports_structured_output(self) -> bool:
        """``response_format`` may be sent (json_schema / json_object)."""
        if self.supported_parameters is not None:
            return (
                "response_format" in self.supported_parameters
                or "structured_outputs" in self.supported_parameters
            )
        return self.is_chat_model and not self.is_embedding_model

    @property
    def supports_images(self) -> bool:
        return "image" in self.input_modalities

    @property
    def supports_pdf(self) -> bool:
        return "file" in self.input_modalities or "pdf" in self.input_modalities

    @property
    def supports_audio(self) -> bool:
        return "audio" in self.input_modalities or "input_audio" in self.input_modalities

    @property
    def supports_video(self) -> bool:
        return "video" in self.input_modalities

    @property
    def supports_image_output(self) -> bool:
        return "image" in self.output_modalities


def _str_tuple(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, (list, tuple)):
        return tuple(v.strip().lower() for v in value if isinstance(v, str) and v.strip())
    if isinstance(value, str) and value.strip():
        return tuple(v.strip().lower() for v in value.split(",") if v.strip())
    return None


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None and v != "":
            return v
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _discounted(price: float | None, discount: float) -> float | None:
    if price is None:
        return None
    return round(price * (100.0 - discount) / 100.0, 10)


def parse_model(entry: Any) -> ModelInfo | None:
    """Normalise one catalogue entry; ``None`` when it has no usable id."""
    if not isinstance(entry, dict):
        return None
    # LiteLLM's /model/info nests its facts under "model_info"; read them as top-level.
    nested = _dict(entry.get("model_info"))
    flat = {**nested, **entry} if nested else entry
    # (its nested "id" is a deployment id, not a model name: never used as the id)
    model_id = _first(entry.get("id"), entry.get("modelId"), entry.get("model_name"))
    if not isinstance(model_id, str) or not model_id.strip():
        return None
    entry = flat

    params = _dict(entry.get("parameters"))
    architecture = _dict(entry.get("architecture"))
    top_provider = _dict(entry.get("top_provider"))
    mode = entry.get("mode")
    mode = mode.strip().lower() if isinstance(mode, str) and mode.strip() else None
    v2_price = _dict(entry.get("pricePerMillionTokens"))
    v1_price = _dict(entry.get("pricing"))
    price = v2_price or v1_price
    discount = to_float(_first(price.get("discountPercentage"), entry.get("discountPercentage")))
    discount = min(max(discount or 0.0, 0.0), 100.0)

    capabilities = _str_tuple(entry.get("capabilities")) or ()
    inputs = _str_tuple(
        _first(
            entry.get("inputModalities"),
            entry.get("input_modalities"),
            architecture.get("input_modalities"),
        )
    )
    outputs = _str_tuple(
        _first(
            entry.get("outputModalities"),
            entry.get("output_modalities"),
            architecture.get("output_modalities"),
        )
    )
    if inputs is None or outputs is None:
        derived_in: list[str] = []
        derived_out: list[str] = []
        sources = [_CAPABILITY_MODALITIES.get(cap, ((), ())) for cap in capabilities]
        if mode is not None:
            sources.append(_MODE_MODALITIES.get(mode, ((), ())))
        if _bool(entry.get("supports_vision")):
            sources.append((("image",), ()))
        for ins, outs in sources:
            derived_in.extend(m for m in ins if m not in derived_in)
            derived_out.extend(m for m in outs if m not in derived_out)
        if inputs is None:
            inputs = tuple(derived_in)
        if outputs is None:
            outputs = tuple(derived_out)

    supported = _first(entry.get("supportedParameters"), entry.get("supported_parameters"))
    supported_params = (
        tuple(p for p in supported if isinstance(p, str)) if isinstance(supported, list) else None
    )

    provider = _first(entry.get("provider"), entry.get("litellm_provider"), entry.get("owned_by"))
    name = _first(entry.get("name"), model_id)
    # LiteLLM's legacy max_tokens is the output cap when the window is given separately.
    # (LiteLLM sets it to max_input_tokens when the provider gives no output cap, so an
    # equal value says nothing about the output).
    max_input = entry.get("max_input_tokens")
    legacy_max = entry.get("max_tokens")
    legacy_output = (
        legacy_max if max_input is not None and to_int(legacy_max) != to_int(max_input) else None
    )
    price_in = to_float(price.get("input"))
    price_out = to_float(price.get("output"))
    if price_in is None and price_out is None:
        price_in, price_out = _per_token_prices(entry, v1_price)
    return ModelInfo(
        id=model_id,
        name=name if isinstance(name, str) else model_id,
        provider=provider if isinstance(provider, str) else None,
        context_window=to_int(
            _first(
                params.get("context"),
                entry.get("contextLength"),
                entry.get("context_length"),
                entry.get("context_window"),
                max_input,
                entry.get("max_model_len"),
                top_provider.get("context_length"),
                legacy_max if max_input is None else None,
            )
        ),
        max_output_tokens=to_int(
            _first(
                entry.get("maxCompletionTokens"),
                params.get("max_output_tokens"),
                entry.get("max_output_tokens"),
                top_provider.get("max_completion_tokens"),
                legacy_output,
            )
        ),
        input_modalities=inputs,
        output_modalities=outputs,
        supported_parameters=supported_params,
        supports_reasoning=_bool(
            _first(
                entry.get("supportReasoning"),
                entry.get("supportsReasoning"),
                entry.get("supports_reasoning"),
            )
        ),
        input_price_per_million=_discounted(price_in, discount),
        output_price_per_million=_discounted(price_out, discount),
        discount_percentage=discount,
        capabilities=capabilities,
        mode=mode,
        function_calling=_bool(entry.get("supports_function_calling")),
        raw=entry,
    )


def _per_token_prices(entry: dict[str, Any], pricing: dict[str, Any]) -> tuple[Any, Any]:
    """USD per million from per-token prices: LiteLLM's ``*_cost_per_token``, OpenRouter's
    ``pricing.prompt`` / ``pricing.completion`` (strings)."""

    def per_million(value: Any) -> float | None:
        number = to_float(value)
        return None if number is None else round(number * _PER_MILLION, 10)

    price_in = per_million(_first(entry.get("input_cost_per_token"), pricing.get("prompt")))
    price_out = per_million(_first(entry.get("output_cost_per_token"), pricing.get("completion")))
    return price_in, price_out


def _entries(body: Any) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        data = body.get("data")
        if isinstance(data, list):
            return data
        if isinstance(data, dict) and isinstance(data.get("models"), list):
            models: list[Any] = data["models"]
            return models
        if isinstance(body.get("models"), list):
            top: list[Any] = body["models"]
            return top
    raise WireFormatError(
        "Model list response is not a list, {'data': [...]}, {'data': {'models': [...]}} "
        f"or {{'models': [...]}}. Got: {describe(body)}"
    )


def parse_model_list(body: Any) -> list[ModelInfo]:
    """Every catalogue shape of lunos-api.md §2.3 → models; entries without an id skipped."""
    out = []
    for entry in _entries(body):
        info = parse_model(entry)
        if info is not None:
            out.append(info)
    return out
