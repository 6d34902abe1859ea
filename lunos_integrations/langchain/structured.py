"""``with_structured_output`` for ChatLunos: json_schema, function_calling and json_mode.

* ``json_schema`` (default): ``response_format`` json_schema on the chat route,
  ``output_config.format`` on the messages route; the reply text is the JSON.
* ``function_calling``: one tool built from the schema, forced with ``tool_choice``.
* ``json_mode``: ``response_format`` json_object (chat route only; the messages route has
  no such mode, so the codec rejects it with a message pointing to json_schema).

Pydantic schemas come back as model instances, TypedDicts and JSON-schema dicts as dicts.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.output_parsers.openai_tools import (
    JsonOutputKeyToolsParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from ..errors import LunosInputError

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput

    from .chat_models import ChatLunos

__all__ = ["StructuredMethod", "build_structured_output"]

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def build_structured_output(
    model: ChatLunos,
    schema: Any,
    *,
    method: StructuredMethod = "json_schema",
    include_raw: bool = False,
    strict: bool | None = None,
    **kwargs: Any,
) -> Runnable[LanguageModelInput, Any]:
    if kwargs:
        raise LunosInputError(
            f"Unexpected with_structured_output arguments: {sorted(kwargs)}.", param="kwargs"
        )
    if method not in ("json_schema", "function_calling", "json_mode"):
        raise LunosInputError(
            f"Unknown method {method!r}; use 'json_schema', 'function_calling' or 'json_mode'.",
            param="method",
        )
    if schema is None and method != "json_mode":
        raise LunosInputError(f"schema is required for method={method!r}.", param="schema")
    pydantic = _is_pydantic(schema)
    ls_format: dict[str, Any] = {"kwargs": {"method": method, "strict": strict}}
    if schema is not None:
        ls_format["schema"] = convert_to_json_schema(schema)

    parser: Runnable[Any, Any]
    if method == "function_calling":
        tool = convert_to_openai_tool(schema, strict=strict)
        name = tool["function"]["name"]
        llm = model.bind_tools(
            [tool], tool_choice=name, strict=strict, ls_structured_output_format=ls_format
        )
        if pydantic:
            parser = PydanticToolsParser(tools=[schema], first_tool_only=True)
        else:
            parser = JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
    elif method == "json_schema":
        fn = convert_to_openai_tool(schema, strict=strict)["function"]
        spec: dict[str, Any] = {"name": fn["name"], "schema": fn.get("parameters") or {}}
        if strict is not None:
            spec["strict"] = strict
        response_format = {"type": "json_schema", "json_schema": spec}
        llm = model.bind(response_format=response_format, ls_structured_output_format=ls_format)
        parser = PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()
    else:
        llm = model.bind(
            response_format={"type": "json_object"}, ls_structured_output_format=ls_format
        )
        parser = PydanticOutputParser(pydantic_object=schema) if pydantic else JsonOutputParser()

    if not include_raw:
        return llm | parser
    parser_assign = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    parser_none = RunnablePassthrough.assign(parsed=lambda _: None)
    parser_with_fallback = parser_assign.with_fallbacks(
        [parser_none], exception_key="parsing_error"
    )
    return RunnableMap(raw=llm) | parser_with_fallback
