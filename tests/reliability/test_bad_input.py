"""Bad input is rejected locally, before any request (not even the catalog fetch).

Contract: a typed error (:class:`LunosInputError` / :class:`LunosConfigError`) whose
``param`` names the offending parameter; no chat request is sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from reliability_harness import ALL, Driver

from lunos_integrations.errors import LunosConfigError, LunosError, LunosInputError
from lunos_integrations.testing import LocalLunosServer

UNSERIALISABLE_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "A tool whose schema holds a Python object.",
        "parameters": {"type": "object", "properties": {"q": {"default": object()}}},
    },
}


def _messages(driver: Driver, kind: str) -> Any:
    """A history holding one bad message of ``kind`` for the driver's framework."""
    if driver.framework == "langchain":
        from langchain_core.messages import ChatMessage, HumanMessage

        if kind == "unknown_message":
            return [ChatMessage(role="wizard", content="hi")]
        url = "data:image/png;base64" if kind == "bad_data_url" else "data:image/png;base64,@@"
        return [
            HumanMessage(
                content=[
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": url}},
                ]
            )
        ]
    from llama_index.core.base.llms.types import ImageBlock, TextBlock
    from llama_index.core.llms import ChatMessage as LIChatMessage

    if kind == "unknown_message":
        # Constructed without validation, as deserialised or hand-built histories can be.
        wizard = LIChatMessage.model_construct(
            role="wizard", blocks=[TextBlock(text="hi")], additional_kwargs={}
        )
        return [wizard]
    url = "data:image/png;base64" if kind == "bad_data_url" else "data:image/png;base64,@@"
    blocks = [TextBlock(text="what is this"), ImageBlock(url=url)]
    return [LIChatMessage(role="user", blocks=blocks)]


CASES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    # name: (constructor kwargs, call kwargs, the parameter the error must name)
    "empty_model": ({"model": ""}, {}, "model"),
    "negative_max_tokens": ({}, {"max_tokens": -5}, "max_tokens"),
    "negative_max_tokens_at_construction": ({"max_tokens": -1}, {}, "max_tokens"),
    "non_integer_max_tokens": ({}, {"max_tokens": "12"}, "max_tokens"),
    "unserialisable_tool_schema": ({}, {"tools": [UNSERIALISABLE_TOOL]}, "tools[0]"),
    "unknown_message": ({}, {}, "messages[0]"),
    "bad_data_url": ({}, {}, "messages[0]"),
}


async def _assert_rejected_before_any_request(
    driver: Driver, srv: LocalLunosServer, make: Any, case: str
) -> LunosError:
    build, call, param = CASES[case]
    prompt: Any = "hello"
    if case in ("unknown_message", "bad_data_url", "bad_base64_payload"):
        prompt = _messages(driver, case)
    try:
        model = make(driver, **build)
    except LunosError as exc:  # rejected at construction: just as good
        error: Any = exc
    else:
        error, _ = await driver.timed(model, prompt, **call)
    assert isinstance(error, (LunosInputError, LunosConfigError)), repr(error)
    named = str(getattr(error, "param", "") or "")
    assert param in named, (param, named, str(error))
    # Nothing was sent for the call. (LunosLLM may have fetched the catalog already:
    # LlamaIndex's callback layer reads the model's metadata before the call is built.)
    sent = [(r.method, r.path) for r in srv.requests]
    if driver.framework == "langchain":
        assert sent == [], sent
    else:
        assert sent in ([], [("GET", "/v1/models")]), sent
    return error


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("driver", ALL)
async def test_bad_input_is_rejected_before_any_request(
    driver: Driver, case: str, make: Any, srv: LocalLunosServer
) -> None:
    await _assert_rejected_before_any_request(driver, srv, make, case)


CASES["bad_base64_payload"] = ({}, {}, "messages[0]")


@pytest.mark.parametrize("driver", [p for p in ALL if "sync-invoke" in p.id])
async def test_data_url_with_a_non_base64_payload_is_rejected(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    await _assert_rejected_before_any_request(driver, srv, make, "bad_base64_payload")


@pytest.mark.parametrize("framework", ["langchain", "llama_index"])
@pytest.mark.parametrize("url", ["ftp://api.lunos.tech/v1", "api.lunos.tech/v1", "file:///v1"])
def test_non_http_base_url_is_rejected_at_construction(framework: str, url: str) -> None:
    driver = Driver(framework, "sync", "invoke", "chat_completions")  # type: ignore[arg-type]
    with pytest.raises(ValueError) as info:
        driver.build(url, "sk-test", retry_backoff=None, max_retry_wait=None)
    # ChatLunos validates inside pydantic, which wraps the LunosConfigError in its own
    # ValidationError (still a ValueError, still naming base_url); LunosLLM raises it bare.
    assert "base_url" in str(info.value) and "http" in str(info.value)


async def test_empty_per_call_model_is_rejected_by_chat_lunos(
    make: Any, srv: LocalLunosServer
) -> None:
    driver = Driver("langchain", "async", "invoke", "chat_completions")
    model = make(driver)
    error, _ = await driver.timed(model, "hello", model="")
    assert isinstance(error, LunosInputError) and error.param == "model", repr(error)


@pytest.mark.parametrize("driver", [p for p in ALL if "llama_index" in p.id])
async def test_non_message_object_is_rejected_by_lunos_llm(
    driver: Driver, make: Any, srv: LocalLunosServer
) -> None:
    model = make(driver)
    error, _ = await driver.timed(model, [{"role": "user", "content": "hi"}])
    assert isinstance(error, LunosInputError), repr(error)
    assert error.param is not None and error.param.startswith("messages[0]")
