"""The real Lunos API, for a maintainer with a key: ``pytest -m live tests/live``.

Deselected by default (``addopts``); when selected without ``LUNOS_API_KEY`` every test
skips, saying so. The key is read when this module is imported, because the suite-wide
fixture in tests/conftest.py hides ``LUNOS_*`` variables from each test; it goes to the
models as a ``SecretStr`` and is never printed. Each run costs a few cents at most: the
langchain-tests integration suite (both routes) plus the doctor's probes.
"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from pydantic import SecretStr

from lunos_integrations import doctor
from lunos_integrations.config import DEFAULT_BASE_URL
from lunos_integrations.langchain import ChatLunos

KEY = os.environ.get("LUNOS_API_KEY", "").strip()
BASE_URL = os.environ.get("LUNOS_BASE_URL") or DEFAULT_BASE_URL
MODEL = os.environ.get("LUNOS_LIVE_MODEL", "openai/gpt-4o-mini")
CLAUDE = os.environ.get("LUNOS_LIVE_CLAUDE", "anthropic/claude-3-5-haiku")

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not KEY, reason="LUNOS_API_KEY is not set: live tests need a real key"),
]


class _Live(ChatModelIntegrationTests):
    api = "chat_completions"
    model_id = MODEL

    @property
    def chat_model_class(self) -> type[ChatLunos]:
        return ChatLunos

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "api": self.api,
            "api_key": SecretStr(KEY),
            "base_url": BASE_URL,
        }

    @property
    def supports_json_mode(self) -> bool:
        return self.api == "chat_completions"


class TestLiveChatCompletions(_Live):
    api = "chat_completions"
    model_id = MODEL


class TestLiveMessages(_Live):
    api = "messages"
    model_id = CLAUDE


def test_doctor_against_the_real_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUNOS_API_KEY", KEY)
    out = io.StringIO()
    code = doctor.main(["--base-url", BASE_URL, "--yes"], out=out)
    text = out.getvalue()
    print(text)  # the table is the point of a live run
    assert KEY not in text
    assert code in (0, 1), text
