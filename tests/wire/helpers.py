"""Shared helpers for the wire tests: golden files and request-schema validation."""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
# The published request schemas, kept in the repository (origin: tests/data/schemas/README.md).
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "schemas"
SCHEMA_FILES = {
    "chat_completions": "create_chat_completion_request.schema.json",
    "messages": "create_message_params.schema.json",
}

# Documented Lunos additions to the published request schemas, stripped before validating.
# The OpenAI schema ignores unknown keys, but some Lunos values clash with it; the Anthropic
# schema rejects every unknown top-level key.
#   top        - top-level request keys: fallback_model / observability (lunos-api.md §3.1),
#                plugins (PDF parser), modalities + image_config (image output; "image" is not
#                an OpenAI modality), reasoning (OpenRouter-style reasoning control, §3.6),
#                top_k (sampling extra, not an OpenAI parameter).
#   message    - keys on chat messages: reasoning_content / reasoning_details on assistant
#                turns (sent back for thinking models, §3.6). The OpenAI schema tolerates
#                them; listed here so the decision is explicit.
#   tool_parts - chat-completions tool messages may carry image/file/audio parts (an
#                OpenRouter/Lunos extension); the OpenAI schema allows only text there.
LUNOS_EXTRAS: dict[str, frozenset[str]] = {
    "top": frozenset(
        {
            "fallback_model",
            "observability",
            "plugins",
            "modalities",
            "image_config",
            "reasoning",
            "top_k",
        }
    ),
    "message": frozenset({"reasoning_content", "reasoning_details"}),
    "tool_parts": frozenset({"image_url", "file", "input_audio"}),
}


def update_golden() -> bool:
    return os.environ.get("UPDATE_GOLDEN") == "1"


def assert_golden(name: str, body: Any) -> None:
    """Compare ``body`` with ``golden/<name>.json``; rewrite it when ``UPDATE_GOLDEN=1``."""
    path = GOLDEN_DIR / f"{name}.json"
    if update_golden():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; run with UPDATE_GOLDEN=1 and review it")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert body == expected, f"encoded body differs from {path.name}"


@functools.cache
def _validator(route: str) -> Draft202012Validator:
    path = SCHEMA_DIR / SCHEMA_FILES[route]
    if not path.exists():
        pytest.fail(f"Request schema {path} is missing from the repository (tests/data/schemas).")
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def strip_lunos_extras(route: str, body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    for key in LUNOS_EXTRAS["top"]:
        body.pop(key, None)
    if route == "chat_completions":
        for msg in body.get("messages", []):
            for key in LUNOS_EXTRAS["message"]:
                msg.pop(key, None)
            if msg.get("role") == "tool" and isinstance(msg.get("content"), list):
                kept = [
                    p for p in msg["content"] if p.get("type") not in LUNOS_EXTRAS["tool_parts"]
                ]
                msg["content"] = kept or ""
    return body


def assert_schema_valid(route: str, body: dict[str, Any]) -> None:
    errors = sorted(
        _validator(route).iter_errors(strip_lunos_extras(route, body)),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        pytest.fail(f"{route} body violates the published schema:\n" + "\n".join(lines[:20]))
