"""Encoding decisions not covered by the golden files."""

from __future__ import annotations

from lunos_integrations.wire import DEFAULT_MAX_TOKENS, chat_completions, messages
from lunos_integrations.wire.types import (
    ChatRequest,
    Message,
    ReasoningPart,
    ResponseFormat,
    ToolCall,
    ToolSpec,
)

from .helpers import assert_schema_valid


def _req(**kw: object) -> ChatRequest:
    return ChatRequest(model="m", messages=[Message("user", "hi")], **kw)  # type: ignore[arg-type]


def test_chat_thinking_maps_to_reasoning_unless_reasoning_is_set() -> None:
    enc = chat_completions.encode_request
    assert enc(_req(thinking={"type": "enabled", "budget_tokens": 1500}))["reasoning"] == {
        "max_tokens": 1500
    }
    assert enc(_req(thinking={"type": "disabled"}))["reasoning"] == {"enabled": False}
    assert enc(_req(thinking={"type": "adaptive"}))["reasoning"] == {"enabled": True}
    both = enc(_req(thinking={"type": "enabled", "budget_tokens": 1}, reasoning={"effort": "low"}))
    assert both["reasoning"] == {"effort": "low"}
    assert "thinking" not in both


def test_chat_schema_name_sanitised_and_defaulted() -> None:
    fmt = ResponseFormat(type="json_schema", schema={"type": "object"})
    assert chat_completions.schema_name(fmt) == "response"
    fmt = ResponseFormat(type="json_schema", schema={"title": "Ünïcode title!", "type": "object"})
    assert chat_completions.schema_name(fmt) == "n_code_title"
    fmt = ResponseFormat(type="json_schema", name="explicit", schema={"title": "T"})
    assert chat_completions.schema_name(fmt) == "explicit"


def test_chat_empty_stop_and_unset_options_are_omitted() -> None:
    body = chat_completions.encode_request(_req(stop=[], include_usage=True))
    assert body == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_chat_tool_choice_without_tools_is_omitted() -> None:
    body = chat_completions.encode_request(_req(tool_choice="auto", parallel_tool_calls=True))
    assert "tool_choice" not in body and "parallel_tool_calls" not in body


def test_chat_arguments_are_compact_and_keep_unicode() -> None:
    msg = Message("assistant", tool_calls=[ToolCall("c", "f", {"city": "Zürich", "n": [1, 2]})])
    body = chat_completions.encode_request(
        ChatRequest(model="m", messages=[Message("user", "x"), msg])
    )
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == (
        '{"city":"Zürich","n":[1,2]}'
    )


def test_chat_tool_only_assistant_turn_sends_empty_content() -> None:
    call = ToolCall(id="c1", name="f", arguments={})
    tool_turn = Message("tool", "ok", tool_call_id="c1")

    def assistant_turn(content: object) -> dict[str, object]:
        msg = Message("assistant", content, tool_calls=[call])  # type: ignore[arg-type]
        req = ChatRequest(model="m", messages=[Message("user", "hi"), msg, tool_turn])
        body = chat_completions.encode_request(req)
        assert_schema_valid("chat_completions", body)
        turn: dict[str, object] = body["messages"][1]
        return turn

    # Empty string and empty part list: content "" (never null, never absent; see the
    # encoder for the servers that need exactly this).
    for empty in ("", []):
        turn = assistant_turn(empty)
        assert turn["content"] == ""
        assert turn["tool_calls"] == [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]
    # Text beside the calls is kept as a string.
    assert assistant_turn("Let me check.")["content"] == "Let me check."
    # Without tool calls an empty assistant turn still carries a (string) content.
    req = ChatRequest(model="m", messages=[Message("user", "hi"), Message("assistant", "")])
    assert chat_completions.encode_request(req)["messages"][1]["content"] == ""


def test_messages_reasoning_dict_maps_to_thinking_and_effort() -> None:
    body = messages.encode_request(_req(reasoning={"max_tokens": 2048, "effort": "low"}))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["output_config"] == {"effort": "low"}
    assert_schema_valid("messages", body)


def test_messages_max_tokens_default_grows_with_thinking_budget() -> None:
    assert messages.encode_request(_req())["max_tokens"] == DEFAULT_MAX_TOKENS == 4096
    body = messages.encode_request(_req(thinking={"type": "enabled", "budget_tokens": 8000}))
    assert body["max_tokens"] == 8000 + DEFAULT_MAX_TOKENS
    assert_schema_valid("messages", body)


def test_messages_tool_ids_are_sanitised_consistently() -> None:
    req = ChatRequest(
        model="m",
        messages=[
            Message("user", "x"),
            Message("assistant", tool_calls=[ToolCall("functions.f:0", "f", {})]),
            Message("tool", "ok", tool_call_id="functions.f:0"),
        ],
        tools=[ToolSpec(name="f")],
    )
    body = messages.encode_request(req)
    assert body["messages"][1]["content"][0]["id"] == "functions_f_0"
    assert body["messages"][2]["content"][0]["tool_use_id"] == "functions_f_0"
    assert_schema_valid("messages", body)


def test_messages_unsigned_reasoning_is_not_sent_and_empty_turns_are_dropped() -> None:
    req = ChatRequest(
        model="m",
        messages=[
            Message("user", "x"),
            Message("assistant", "answer", reasoning=[ReasoningPart(text="deepseek thoughts")]),
            Message("user", ""),
            Message("user", "more"),
        ],
    )
    body = messages.encode_request(req)
    assert body["messages"] == [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "more"},
    ]


def test_messages_parameters_without_type_get_object() -> None:
    body = messages.encode_request(_req(tools=[ToolSpec(name="f", parameters={})]))
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]
    assert_schema_valid("messages", body)


def test_messages_parallel_false_without_choice_and_none_choice() -> None:
    tools = [ToolSpec(name="f")]
    body = messages.encode_request(_req(tools=tools, parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    body = messages.encode_request(_req(tools=tools, tool_choice="none", parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "none"}
    assert_schema_valid("messages", body)


def test_server_tools_are_appended_verbatim_after_function_tools_on_both_routes() -> None:
    spec = ToolSpec(name="f", description="d", parameters={"type": "object", "properties": {}})
    web = {"type": "web_search", "parameters": {"max_results": 3}}
    chat = chat_completions.encode_request(_req(tools=[spec], server_tools=[web]))
    assert [t["type"] for t in chat["tools"]] == ["function", "web_search"]
    assert chat["tools"][1] == web
    msgs = messages.encode_request(_req(tools=[spec], server_tools=[web]))
    assert [t.get("name") for t in msgs["tools"]] == ["f", None] and msgs["tools"][1] == web
    alone = chat_completions.encode_request(_req(server_tools=[web]))
    assert alone["tools"] == [web] and "tool_choice" not in alone
    assert "parallel_tool_calls" not in chat_completions.encode_request(
        _req(server_tools=[web], parallel_tool_calls=False)
    )


def test_openai_response_format_dicts_read_the_same_for_every_adapter() -> None:
    import pytest

    from lunos_integrations.errors import LunosInputError
    from lunos_integrations.wire.response_format import response_format_from_openai as read

    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    assert read({"type": "json_object"}) == ResponseFormat(type="json_object")
    nested = {"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}}
    assert read(nested) == ResponseFormat(type="json_schema", name="A", schema=schema, strict=True)
    flat = {"type": "json_schema", "name": "A", "schema": schema}  # fields beside "type"
    assert read(flat) == ResponseFormat(type="json_schema", name="A", schema=schema)
    for bad, phrase in (
        ({"type": "xml"}, "Unknown response_format type 'xml'"),
        ({"type": "json_schema", "json_schema": {"name": "A"}}, r"needs json_schema\.schema"),
        ({"type": "json_schema", "json_schema": {"schema": "{}"}}, r"needs json_schema\.schema"),
    ):
        with pytest.raises(LunosInputError, match=phrase) as info:
            read(bad)
        assert info.value.param == "response_format"


def test_both_adapters_refuse_a_bad_response_format_dict_the_same_way() -> None:
    import pytest

    from lunos_integrations.errors import LunosInputError
    from lunos_integrations.langchain.chat_models import _response_format
    from lunos_integrations.llama_index.structured import to_response_format

    for convert in (_response_format, to_response_format):
        with pytest.raises(LunosInputError, match=r"needs json_schema\.schema"):
            convert({"type": "json_schema", "json_schema": {"name": "A"}})
