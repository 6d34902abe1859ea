"""The fake embedding model behind the local server's ``/v1/embeddings``. No I/O.

Vectors are unit length and seeded from the text's SHA-256, so the same text always gets
the same vector on every machine and in every process: tests can compute the expected
vector themselves (e.g. to check that each of many parallel workers got its own text's).
Token counts use the chat fake model's tokenizer, so usage figures agree across routes.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from collections.abc import Mapping
from typing import Any

from .fake_model import FakeModelError, count_tokens

__all__ = ["DEFAULT_EMBEDDING_DIMENSIONS", "embedding_vector", "embeddings_reply"]

DEFAULT_EMBEDDING_DIMENSIONS = 1536


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A unit-length vector seeded from SHA-256 of ``text`` (same text → same vector)."""
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embeddings_reply(body: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """Build the ``/v1/embeddings`` response body (``float`` or ``base64`` encoding)."""
    raw = body.get("input")
    if isinstance(raw, str):
        inputs: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        inputs = [raw]
    elif isinstance(raw, list) and raw:
        inputs = list(raw)
    else:
        raise FakeModelError(
            400, "invalid_request_error", "'input' must be a non-empty string or array", "input"
        )
    default_dims = (model.get("parameters") or {}).get("dimensions", DEFAULT_EMBEDDING_DIMENSIONS)
    dims = body.get("dimensions", default_dims)
    if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
        raise FakeModelError(
            400, "invalid_request_error", "'dimensions' must be a positive integer", "dimensions"
        )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise FakeModelError(
            400,
            "invalid_request_error",
            "'encoding_format' must be 'float' or 'base64'",
            "encoding_format",
        )
    data: list[dict[str, Any]] = []
    tokens = 0
    for i, item in enumerate(inputs):
        if isinstance(item, list):
            text = " ".join(str(x) for x in item)
            tokens += len(item)
        elif isinstance(item, str):
            text = item
            tokens += count_tokens(item)
        else:
            raise FakeModelError(
                400,
                "invalid_request_error",
                "'input' items must be strings or token arrays",
                "input",
            )
        vector = embedding_vector(text, dims)
        embedding: Any = vector
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "embedding": embedding, "index": i})
    return {
        "object": "list",
        "data": data,
        "model": model.get("id"),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
