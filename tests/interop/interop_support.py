"""What both adapters' interop tests share: the tool, the schema and per-server facts.

Assertions against SmolLM2-135M check mechanics (types, usage, ids, round trips), never what
the model says; the LiteLLM mocks answer fixed text, so their content can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from lunos_integrations.errors import APIStatusError, AuthenticationError, BadRequestError

#: The text LiteLLM's mock chat model answers (see conftest._litellm_config).
MOCK_TEXT = "Hello from the mock model."
#: The vector LiteLLM's mock embedding model answers.
MOCK_VECTOR = [0.5, -0.25, 0.125, 1.0]
PROMPT = "Say hello."
#: Enough room for a small forced tool call / JSON object from the 135M model.
STRUCT_TOKENS = 48


@dataclass(frozen=True)
class Target:
    """One server route under test and the model names it offers for each case."""

    name: str
    base_url: str
    api_key: str
    api: str
    chat_model: str
    tool_model: str
    struct_model: str
    embed_model: str | None
    #: Whether the server reports token usage in streams (llama-cpp-python does not).
    stream_usage: bool


def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


class Mood(BaseModel):
    """How the text feels."""

    happy: bool
    level: int


def structured_method(target_name: str) -> str:
    """The structured-output method each server can honour.

    llama-cpp-python's ``chatml-function-calling`` handler ignores a ``json_schema``
    response_format (only ``json_object`` gets a grammar), but constrains a forced tool call
    to the tool's JSON schema; the messages route has no response_format at all.
    """
    return "json_schema" if target_name == "litellm-chat" else "function_calling"


def wrong_key_error(target_name: str) -> tuple[type[APIStatusError], str]:
    """The typed error (and a phrase of the server's message) a wrong key must produce.

    LiteLLM's proxy without a database cannot look up non-master keys and answers
    400 ``no_db_connection`` ("No connected db.") rather than 401; we report the status the
    server sent, typed, with its message.
    """
    if target_name == "llama.cpp":
        return AuthenticationError, "Invalid API key"
    return BadRequestError, "No connected db"


def chat_options(target: Target, model: str | None, **overrides: Any) -> dict[str, Any]:
    """The constructor arguments both adapters' tests start from: short, deterministic
    answers, and no retries (a real server's error must surface at once)."""
    options: dict[str, Any] = {
        "model": model or target.chat_model,
        "api": target.api,
        "api_key": target.api_key,
        "base_url": target.base_url,
        "max_tokens": 12,
        "temperature": 0,
        "max_retries": 0,
    }
    options.update(overrides)
    return options
