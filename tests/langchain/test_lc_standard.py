"""langchain-tests standard suites for ChatLunos, against the local server, per route."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
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

    @property
    def supports_model_override(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(
        self,
    ) -> dict[Literal["invoke", "stream"], list[Any]]:
        # What the routes report: cached prompt tokens on both, cache writes on the
        # messages route, reasoning tokens on the chat route (Anthropic sends no count).
        details: list[Any] = ["cache_read_input"]
        details.append("cache_creation_input" if self.api == "messages" else "reasoning_output")
        return {"invoke": details, "stream": details}

    def _details_model(self, **kwargs: Any) -> ChatLunos:
        return ChatLunos(**{**self.chat_model_params, **kwargs})

    def _call(self, model: ChatLunos, messages: list[Any], stream: bool) -> AIMessage:
        if not stream:
            return model.invoke(messages)
        full: AIMessageChunk | None = None
        for chunk in model.stream(messages):
            full = chunk if full is None else full + chunk
        assert full is not None
        return AIMessage(content=full.content, usage_metadata=full.usage_metadata)

    def _system_turn(self) -> list[Any]:
        # A system text of its own: the local server caches prompts per exact system text.
        return [SystemMessage(f"You are terse. Session {uuid.uuid4()}."), HumanMessage("hi")]

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        model, messages = self._details_model(), self._system_turn()
        model.invoke(messages)  # the first call writes the cache
        return self._call(model, messages, stream)

    def invoke_with_cache_creation_input(self, *, stream: bool = False) -> AIMessage:
        return self._call(self._details_model(), self._system_turn(), stream)

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        model = self._details_model(model="deepseek/deepseek-r1")
        return self._call(model, [HumanMessage("hello")], stream)


class TestChatLunosChatCompletions(_LunosIntegrationBase):
    api = "chat_completions"
    model_id = "google/gemini-2.5-flash"


class TestChatLunosMessages(_LunosIntegrationBase):
    api = "messages"
    model_id = "anthropic/claude-sonnet-4"

    @property
    def model_override_value(self) -> str:
        return "anthropic/claude-sonnet-4"


class _OutputV1:
    """The same suites with ``output_version="v1"``: content is the standard blocks."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "output_version": "v1"}  # type: ignore[misc]


class TestChatLunosChatCompletionsV1(_OutputV1, TestChatLunosChatCompletions):
    pass


class TestChatLunosMessagesV1(_OutputV1, TestChatLunosMessages):
    pass
