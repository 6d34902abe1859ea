"""langchain-tests standard suites for ChatLunos, against the local server, per route."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests
from lc_support import assert_schema_valid, chat_bodies, shared_server

from lunos_integrations.langchain import ChatLunos


class TestChatLunosUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatLunos]:
        return ChatLunos

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "openai/gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {
                "LUNOS_API_KEY": "api_key",
                "LUNOS_BASE_URL": "https://api.example.test/v1",
                "LUNOS_APP_ID": "unit-tests",
            },
            {"model": "openai/gpt-4o-mini"},
            # Resolved at construction, like ChatOpenAI.openai_api_base.
            {
                "api_key": "api_key",
                "base_url": "https://api.example.test/v1",
                "app_id": "unit-tests",
            },
        )

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "openai/gpt-4o"


class _LunosIntegrationBase(ChatModelIntegrationTests):
    """Shared settings; subclasses pick the route and model."""

    api = "chat_completions"
    model_id = "google/gemini-2.5-flash"

    @pytest.fixture(autouse=True)
    def _lunos_env(self, offline_media: None) -> Any:
        """Offline media for the multimodal tests, and schema checks on what was sent."""
        server = shared_server()
        seen = len(server.requests)
        yield
        for route, body in chat_bodies(server, since=seen):
            assert_schema_valid(route, body)

    @property
    def chat_model_class(self) -> type[ChatLunos]:
        return ChatLunos

    @property
    def chat_model_params(self) -> dict[str, Any]:
        server = shared_server()
        return {
            "model": self.model_id,
            "api": self.api,
            "base_url": server.base_url,
            "api_key": server.api_key,
        }

    @property
    def model_override_value(self) -> str:
        return "openai/gpt-4o"

    @property
    def enable_vcr_tests(self) -> bool:
        """``test_stream_time`` replays cassettes under tests/langchain/cassettes (see the
        ``vcr_config`` fixture in conftest.py)."""
        return True

    @property
    def supports_json_mode(self) -> bool:
        return self.api == "chat_completions"

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return self.api == "chat_completions"

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True


class TestChatLunosChatCompletions(_LunosIntegrationBase):
    api = "chat_completions"
    model_id = "google/gemini-2.5-flash"


class TestChatLunosMessages(_LunosIntegrationBase):
    api = "messages"
    model_id = "anthropic/claude-sonnet-4"

    @property
    def model_override_value(self) -> str:
        return "anthropic/claude-sonnet-4"
