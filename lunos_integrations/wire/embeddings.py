"""Codec for ``POST /embeddings`` (lunos-api.md §5.2)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import LunosInputError, WireFormatError
from ._common import describe, want_count, want_dict, want_str, wrong_type
from .types import EmbeddingRequest, EmbeddingResult, Usage

__all__ = ["PATH", "decode_response", "encode_request"]

#: Route path, relative to the ``/v1`` base URL.
PATH = "/embeddings"

_REPLY = "Embeddings response"


def encode_request(req: EmbeddingRequest) -> dict[str, Any]:
    """Raw strings in, ``encoding_format: "float"`` always (never base64, never token ids)."""
    if not req.model or not req.model.strip():
        raise LunosInputError("model must be a non-empty model id.", param="model")
    inputs = [req.input] if isinstance(req.input, str) else list(req.input)
    if not inputs:
        raise LunosInputError("At least one input text is required.", param="input")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise LunosInputError(
                f"Embedding inputs must be strings, got {type(text).__name__}.",
                param=f"input[{i}]",
            )
    body: dict[str, Any] = {"model": req.model, "input": inputs, "encoding_format": "float"}
    if req.dimensions is not None:
        body["dimensions"] = req.dimensions
    if req.user is not None:
        body["user"] = req.user
    if req.extra_body:
        body.update(req.extra_body)
    return body


def decode_response(body: Any) -> EmbeddingResult:
    """Vectors in input order (sorted by ``index``); base64 or non-list vectors are rejected."""
    if not isinstance(body, dict):
        raise WireFormatError(
            f"Expected an embeddings JSON object, got {type(body).__name__}: {describe(body)}"
        )
    data = body.get("data")
    if not isinstance(data, list):
        raise WireFormatError(f"Embeddings response has no 'data' list. Body: {describe(body)}")
    rows: list[tuple[int, list[float]]] = []
    for pos, item in enumerate(data):
        if not isinstance(item, dict):
            raise WireFormatError(f"Embeddings data[{pos}] is not an object: {describe(item)}")
        vector = item.get("embedding")
        if isinstance(vector, str):
            raise WireFormatError(
                f"Embeddings data[{pos}] is a base64 string; the request must use "
                "encoding_format='float'."
            )
        if not isinstance(vector, list) or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in vector
        ):
            raise WireFormatError(
                f"Embeddings data[{pos}].embedding is not a list of numbers: {describe(vector, 80)}"
            )
        floats = _floats(vector)
        if floats is None:
            raise WireFormatError(
                f"Embeddings data[{pos}].embedding holds a number that is not finite or does "
                "not fit a float."
            )
        index = item.get("index")
        if index is not None and (type(index) is not int or index < 0):
            raise wrong_type(f"{_REPLY} data[{pos}].index", "a non-negative integer", index)
        rows.append((pos if index is None else index, floats))
    rows.sort(key=lambda r: r[0])

    usage = None
    raw_usage = want_dict(body.get("usage"), f"{_REPLY} usage")
    if raw_usage:
        prompt = want_count(raw_usage.get("prompt_tokens"), f"{_REPLY} usage.prompt_tokens") or 0
        total = want_count(raw_usage.get("total_tokens"), f"{_REPLY} usage.total_tokens")
        usage = Usage(input_tokens=prompt, total_tokens=prompt if total is None else total)
    return EmbeddingResult(
        vectors=[v for _, v in rows],
        model=want_str(body.get("model"), f"{_REPLY} model"),
        usage=usage,
    )


def _floats(vector: list[Any]) -> list[float] | None:
    """The vector as floats, or ``None`` when a value overflows or is NaN / infinite."""
    try:
        out = [float(x) for x in vector]
    except OverflowError:  # an integer too large for a float
        return None
    return out if all(math.isfinite(x) for x in out) else None
