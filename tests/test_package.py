"""Package-level promises: a light core import, lazy framework names, typed distribution."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lunos_integrations

ROOT = Path(lunos_integrations.__file__).parent


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _has(mods: set[str], prefix: str) -> bool:
    return any(m == prefix or m.startswith(prefix + ".") for m in mods)


def test_core_import_pulls_in_no_framework() -> None:
    mods = _modules_after("import lunos_integrations")
    for heavy in ("langchain_core", "llama_index", "httpx", "openai", "anthropic"):
        assert not _has(mods, heavy), heavy


def test_client_import_needs_no_framework() -> None:
    mods = _modules_after("from lunos_integrations import LunosClient")
    assert _has(mods, "httpx")
    assert not _has(mods, "langchain_core") and not _has(mods, "llama_index")


def test_chatlunos_loads_langchain_only() -> None:
    mods = _modules_after("from lunos_integrations import ChatLunos")
    assert _has(mods, "langchain_core") and not _has(mods, "llama_index")


def test_lunosllm_loads_llama_index_only() -> None:
    mods = _modules_after("from lunos_integrations import LunosLLM")
    assert _has(mods, "llama_index") and not _has(mods, "langchain_core")


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        lunos_integrations.Nope  # noqa: B018


def test_every_lazy_name_resolves() -> None:
    for name in lunos_integrations.__all__:
        assert getattr(lunos_integrations, name) is not None, name


def test_typed_marker_and_layers() -> None:
    assert (ROOT / "py.typed").exists()
    for layer in ("transport", "wire", "langchain", "llama_index", "testing"):
        assert (ROOT / layer / "__init__.py").exists(), layer


def test_wire_layer_does_no_io_and_imports_no_framework() -> None:
    """The codecs are pure: no HTTP client, event loop or framework in lunos_integrations.wire."""
    mods = _modules_after("import lunos_integrations.wire")
    for banned in ("httpx", "httpcore", "asyncio", "langchain_core", "llama_index", "pydantic"):
        assert not _has(mods, banned), banned


def test_option_fields_are_chat_request_fields() -> None:
    """The one list both adapters use for per-call options names real ChatRequest fields."""
    import dataclasses

    from lunos_integrations.wire.types import OPTION_FIELDS, ChatRequest

    names = {f.name for f in dataclasses.fields(ChatRequest)}
    assert set(OPTION_FIELDS) <= names
    assert len(set(OPTION_FIELDS)) == len(OPTION_FIELDS)


def test_license_is_an_spdx_expression_with_its_file() -> None:
    """PEP 639 form: setuptools refuses the old ``license = {text = ...}`` table from 2027-02-18.

    Read from the installed distribution's metadata (the suite runs against the package
    installed from this pyproject), so what is checked is what the build produced.
    """
    from importlib import metadata

    meta = metadata.metadata("lunos-integrations")
    assert meta["License-Expression"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    assert "MIT License" in (ROOT.parent / "LICENSE").read_text(encoding="utf-8")
