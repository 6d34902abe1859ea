"""Helpers shared by the ChatLunos tests: one lazily started server, offline media,
request-schema validation.

Why a module-level server: the langchain-tests suites read ``chat_model_params`` as a
class property (no fixtures there), so the server must exist before any fixture runs.
It starts on first use and is stopped by the session fixture in ``conftest.py``.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from lunos_integrations.testing import LocalLunosServer

_lock = threading.Lock()
_server: LocalLunosServer | None = None


def shared_server() -> LocalLunosServer:
    global _server
    with _lock:
        if _server is None:
            _server = LocalLunosServer().start()
        return _server


def stop_shared_server() -> None:
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None


# --------------------------------------------------------------------------- offline media


def _png() -> bytes:
    """A valid 2x2 RGB PNG (the standard tests only need decodable image bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


def _wav() -> bytes:
    samples = b"\x00\x00" * 800
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(samples))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
        + b"data"
        + struct.pack("<I", len(samples))
        + samples
    )


PNG_BYTES = _png()
PDF_BYTES = _pdf()
WAV_BYTES = _wav()
PNG_B64 = base64.b64encode(PNG_BYTES).decode()
PDF_B64 = base64.b64encode(PDF_BYTES).decode()
WAV_B64 = base64.b64encode(WAV_BYTES).decode()


def offline_media_for(url: str) -> bytes | None:
    """Local stand-ins for the files langchain-tests downloads (image, PDF, WAV)."""
    lowered = url.lower()
    if lowered.endswith(".png"):
        return PNG_BYTES
    if lowered.endswith(".pdf"):
        return PDF_BYTES
    if lowered.endswith(".wav"):
        return WAV_BYTES
    return None


# --------------------------------------------------------------------------- schemas

# Kept in the repository; origin in tests/data/schemas/README.md.
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "schemas"
SCHEMA_FILES = {
    "chat_completions": "create_chat_completion_request.schema.json",
    "messages": "create_message_params.schema.json",
}
# Documented Lunos extras (lunos-api.md §3.1, §3.6) that the published schemas do not know.
TOP_EXTRAS = (
    "fallback_model",
    "observability",
    "plugins",
    "modalities",
    "image_config",
    "reasoning",
    "top_k",
)
MESSAGE_EXTRAS = ("reasoning_content", "reasoning_details")
TOOL_PART_EXTRAS = ("image_url", "file", "input_audio")  # media in chat tool results


@functools.cache
def _validator(route: str) -> Draft202012Validator:
    path = SCHEMA_DIR / SCHEMA_FILES[route]
    if not path.exists():
        pytest.fail(f"request schema {path} is missing from the repository (tests/data/schemas)")
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def assert_schema_valid(route: str, body: dict[str, Any]) -> None:
    body = copy.deepcopy(body)
    for key in TOP_EXTRAS:
        body.pop(key, None)
    if route == "chat_completions":
        tools = body.get("tools")
        if isinstance(tools, list):  # Lunos server tools (web_search) are an extension
            body["tools"] = [t for t in tools if t.get("type") == "function"] or None
            if body["tools"] is None:
                body.pop("tools")
        for msg in body.get("messages", []):
            for key in MESSAGE_EXTRAS:
                msg.pop(key, None)
            if msg.get("role") == "tool" and isinstance(msg.get("content"), list):
                kept = [p for p in msg["content"] if p.get("type") not in TOOL_PART_EXTRAS]
                msg["content"] = kept or ""
    errors = sorted(_validator(route).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        pytest.fail(f"{route} body violates the published schema:\n" + "\n".join(lines[:20]))


def chat_bodies(server: LocalLunosServer, since: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """(route, body) of the chat requests the server recorded (from index ``since``)."""
    out = []
    for rec in server.requests[since:]:
        if rec.path.endswith("/chat/completions"):
            out.append(("chat_completions", rec.json))
        elif rec.path.endswith("/messages"):
            out.append(("messages", rec.json))
    return out
