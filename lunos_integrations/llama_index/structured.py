"""Structured output for ``LunosLLM``: a ``json_schema`` response format, or a forced tool call.

Why two paths: ``response_format`` json_schema is the most faithful (the model writes the
object itself), but Lunos rejects it for models whose catalog entry does not list
``response_format``. For those, LlamaIndex's function-calling program is used with the tool
*forced* by naming its one tool, also when streaming, where LlamaIndex itself would leave
the choice to the model (named rather than ``"required"``: llama-cpp-python's server, for
one, honours only a named choice).

LlamaIndex's own OpenAI class relies on the ``openai`` SDK to build the schema; here it is
pydantic's ``model_json_schema()``, named after the class.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.bridge.pydantic import BaseModel
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.prompts.base import BasePromptTemplate
from llama_index_instrumentation import get_dispatcher

from ..errors import LunosInputError
from ..wire.response_format import response_format_from_openai
from ..wire.types import ResponseFormat

if TYPE_CHECKING:
    from .llm import LunosLLM

__all__ = [
    "apredict_json",
    "astream_json",
    "astream_tool",
    "predict_json",
    "stream_json",
    "stream_tool",
    "to_response_format",
]

dispatcher = get_dispatcher(__name__)

_IGNORED_FOR_JSON = ("tool_choice", "tool_required", "allow_parallel_tool_calls", "tools")


class StructuredOutputError(ValueError):
    """The model's reply could not be parsed into the requested class."""


def to_response_format(value: Any) -> ResponseFormat:
    """A ``response_format`` from a pydantic class, an OpenAI-style dict or a ``ResponseFormat``."""
    if isinstance(value, ResponseFormat):
        return value
    if isinstance(value, type) and issubclass(value, BaseModel):
        return ResponseFormat(
            type="json_schema", name=value.__name__, schema=value.model_json_schema()
        )
    if isinstance(value, Mapping):
        return response_format_from_openai(value)
    raise LunosInputError(
        "response_format must be a pydantic model class, {'type': 'json_object'}, "
        "{'type': 'json_schema', 'json_schema': {'name': ..., 'schema': {...}}} or "
        f"{{'type': 'text'}}; got {value!r}.",
        param="response_format",
    )


def _prepare(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: Mapping[str, Any] | None,
    prompt_args: Mapping[str, Any],
) -> tuple[Sequence[ChatMessage], dict[str, Any]]:
    messages = llm._extend_messages(prompt.format_messages(llm=llm, **prompt_args))
    kwargs = {k: v for k, v in (llm_kwargs or {}).items() if k not in _IGNORED_FOR_JSON}
    kwargs["response_format"] = to_response_format(output_cls)
    return messages, kwargs


def _parse(output_cls: type[BaseModel], response: ChatResponse) -> BaseModel:
    content = response.message.content
    if not content:
        raise StructuredOutputError(
            f"The model returned no content to parse into {output_cls.__name__}."
        )
    return output_cls.model_validate_json(content)


def _start(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: dict[str, Any] | None,
    prompt_args: dict[str, Any],
) -> tuple[Sequence[ChatMessage], dict[str, Any]]:
    """Announce a structured prediction (as LlamaIndex's own path does) and build the call."""
    dispatcher.event(
        LLMStructuredPredictStartEvent(
            output_cls=output_cls, template=prompt, template_args=prompt_args
        )
    )
    return _prepare(llm, output_cls, prompt, llm_kwargs, prompt_args)


def predict_json(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: dict[str, Any] | None = None,
    **prompt_args: Any,
) -> BaseModel:
    messages, kwargs = _start(llm, output_cls, prompt, llm_kwargs, prompt_args)
    result = _parse(output_cls, llm.chat(messages, **kwargs))
    dispatcher.event(LLMStructuredPredictEndEvent(output=result))
    return result


async def apredict_json(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: dict[str, Any] | None = None,
    **prompt_args: Any,
) -> BaseModel:
    messages, kwargs = _start(llm, output_cls, prompt, llm_kwargs, prompt_args)
    result = _parse(output_cls, await llm.achat(messages, **kwargs))
    dispatcher.event(LLMStructuredPredictEndEvent(output=result))
    return result


def stream_json(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: dict[str, Any] | None = None,
    **prompt_args: Any,
) -> Generator[Any, None, None]:
    """Partial objects as the JSON arrives (LlamaIndex's incremental parser)."""
    from llama_index.core.program.streaming_utils import process_streaming_content_incremental

    messages, kwargs = _prepare(llm, output_cls, prompt, llm_kwargs, prompt_args)
    current: Any = None
    for response in llm.stream_chat(messages, **kwargs):
        current = process_streaming_content_incremental(response, output_cls, current)
        yield current


async def astream_json(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: dict[str, Any] | None = None,
    **prompt_args: Any,
) -> AsyncGenerator[Any, None]:
    from llama_index.core.program.streaming_utils import process_streaming_content_incremental

    messages, kwargs = _prepare(llm, output_cls, prompt, llm_kwargs, prompt_args)
    current: Any = None
    async for response in await llm.astream_chat(messages, **kwargs):
        current = process_streaming_content_incremental(response, output_cls, current)
        yield current


def _forced_program(llm: LunosLLM, output_cls: type[BaseModel], prompt: BasePromptTemplate) -> Any:
    from llama_index.core.program.function_program import FunctionCallingProgram

    # Named, not "required": LlamaIndex's stream_call drops tool_required, and some servers
    # honour only a named choice. The tool is named after the schema title (get_function_tool).
    name = str(output_cls.model_json_schema().get("title") or output_cls.__name__)
    return FunctionCallingProgram.from_defaults(
        output_cls=output_cls, llm=llm, prompt=prompt, tool_choice=name
    )


def stream_tool(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: dict[str, Any] | None = None,
    **prompt_args: Any,
) -> Generator[Any, None, None]:
    program = _forced_program(llm, output_cls, prompt)
    gen: Generator[Any, None, None] = program.stream_call(llm_kwargs=llm_kwargs, **prompt_args)
    return gen


async def astream_tool(
    llm: LunosLLM,
    output_cls: type[BaseModel],
    prompt: BasePromptTemplate,
    llm_kwargs: dict[str, Any] | None = None,
    **prompt_args: Any,
) -> AsyncGenerator[Any, None]:
    program = _forced_program(llm, output_cls, prompt)
    gen: AsyncGenerator[Any, None] = await program.astream_call(
        llm_kwargs=llm_kwargs, **prompt_args
    )
    return gen
