"""``LunosLLM``: Lunos as a LlamaIndex ``FunctionCallingLLM`` over the shared transport.

What it fixes compared with pointing ``OpenAILike`` at a gateway (feature-bar.md):

* ``metadata`` comes from the Lunos catalog (context window, output cap, tool support), with
  modern defaults (128k context, chat + function calling) when the model or catalog is
  unknown — a defaulted context window is announced by one ``LunosCatalogWarning``. It
  never raises "Unknown model", and the lookup is cached per instance. Calls never wait
  for the catalog: the per-call instrumentation payload and the catalog-dependent choices
  (structured-output method, ``parallel_tool_calls``) use only what is already fetched.
* Exactly one retry layer: the transport's (Retry-After aware, never retries 4xx auth
  errors). No tenacity decorators here.
* Optional parameters are sent only when set; ``parallel_tool_calls`` is not forced.
* Streams report usage by default (``stream_usage=True``), on both routes.
* Reasoning comes back as ``ThinkingBlock`` (chat and stream) and is sent back in histories.
* ``to_dict()`` / ``to_json()`` / ``repr`` never contain the API key.

One :class:`~..client.LunosClient` is created per instance (connection settings are fixed
at construction, like an SDK client); calls never create clients.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import httpx
from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.types import PydanticProgramMode

from .._pickling import RebuiltOnUnpickle
from ..catalog import LunosCatalogWarning, catalog_of, shared_catalog
from ..client import LunosClient, check_api, client_from_settings
from ..config import app_id_setting, base_url_setting
from ..construction import safe_construction_error
from ..errors import UnsupportedParameterError
from ..parameters import gate_mode
from ..redact import redact_repr_args, redact_url
from ..wire.models import ModelInfo
from ..wire.types import ChatRequest
from . import structured
from .call_options import apply_call_options
from .messages_in import to_neutral_messages
from .messages_out import StreamState, chat_response_from_result
from .tools import keep_first_tool_call, resolve_tool_choice, to_tool_specs, tool_selections

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_CONTEXT_WINDOW", "DEFAULT_MODEL", "DEFAULT_NUM_OUTPUT", "LunosLLM"]


DEFAULT_MODEL = "openai/gpt-4o-mini"
#: Used when the catalog does not know the model: a modern, conservative window.
DEFAULT_CONTEXT_WINDOW = 128_000
#: Output budget reserved by LlamaIndex's prompt helper when neither ``max_tokens`` nor the
#: catalog give one.
DEFAULT_NUM_OUTPUT = 4096


class LunosLLM(RebuiltOnUnpickle, FunctionCallingLLM):
    """Lunos chat models in LlamaIndex (chat, streaming, tools, structured output, agents).

    Example::

        from lunos_integrations.llama_index import LunosLLM

        llm = LunosLLM(model="openai/gpt-4o-mini")  # key from LUNOS_API_KEY
        print(llm.complete("Say hi").text)

    ``api="messages"`` sends the same calls over Lunos' Anthropic Messages route.
    """

    model: str = Field(default=DEFAULT_MODEL, description="Lunos model id, e.g. 'openai/gpt-4o'.")
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="Lunos key (else LUNOS_API_KEY)."
    )
    base_url: str | None = Field(
        default=None, description="Base URL (else LUNOS_BASE_URL, else the public API)."
    )
    app_id: str | None = Field(default=None, description="Sent as X-App-ID (else LUNOS_APP_ID).")
    api: Literal["chat_completions", "messages"] = Field(
        default="chat_completions", description="Lunos route: chat completions or messages."
    )
    temperature: float | None = Field(default=None, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, description="Maximum output tokens.")
    top_p: float | None = Field(default=None)
    stop: list[str] | None = Field(default=None, description="Stop sequences.")
    seed: int | None = Field(default=None)
    reasoning_effort: str | None = Field(
        default=None, description="Reasoning effort, e.g. 'low' | 'medium' | 'high'."
    )
    reasoning: dict[str, Any] | None = Field(
        default=None, description="OpenRouter-style reasoning object, e.g. {'max_tokens': 2000}."
    )
    thinking: dict[str, Any] | None = Field(
        default=None,
        description="Anthropic-style thinking, e.g. {'type': 'enabled', 'budget_tokens': 2048}.",
    )
    fallback_model: str | None = Field(
        default=None, description="Model to try once when the requested one is unavailable."
    )
    observability: bool | None = Field(default=None, description="Lunos request logging flag.")
    stream_usage: bool = Field(default=True, description="Ask for token usage in streams.")
    strict: bool | None = Field(default=None, description="Strict tool schemas (sent if set).")
    structured_output_method: Literal["auto", "json_schema", "function_calling"] = Field(
        default="auto",
        description="structured_predict via response_format json_schema or a forced tool call; "
        "'auto': json_schema on the chat route (function calling once the server refused "
        "response_format for the model), function calling on the messages route.",
    )
    context_window: int | None = Field(
        default=None, description="Override the catalog's context window."
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override the catalog's tool support."
    )
    timeout: float | None = Field(
        default=None,
        description="Bound on each attempt as a whole, in seconds (default 600); for streams, "
        "on the headers and on each wait for progress.",
    )
    max_retries: int = Field(default=2, description="Retries in the transport (the only layer).")
    default_headers: dict[str, str] | None = Field(default=None)
    proxy: str | None = Field(default=None)
    stream_idle_timeout: float | None = Field(default=None)
    max_connections: int | None = Field(
        default=None, description="Cap on open connections in the shared pool (default 1000)."
    )
    max_response_bytes: int | None = Field(
        default=None,
        description="Refuse a reply (or whole stream) larger than this once decompressed "
        "(default 256 MiB).",
    )
    ca_bundle: str | None = Field(
        default=None, description="CA bundle for the pools; else SSL_CERT_FILE / SSL_CERT_DIR."
    )
    use_truststore: bool | None = Field(
        default=None, description="Verify against the OS trust store; else LUNOS_USE_TRUSTSTORE."
    )
    rate_governor: bool = Field(
        default=True,
        description="Send every attempt through the key's shared rate governor (README "
        "'Rate limits and throttling'); False lets each call retry on its own, as before.",
    )
    requests_per_minute: float | None = Field(
        default=None, description="The key's known request limit (default: learned)."
    )
    tokens_per_minute: float | None = Field(
        default=None, description="The key's known token limit (default: learned)."
    )
    gate_parameters: Literal["learn", "catalog"] | bool = Field(
        default="learn",
        description="'learn' (default): send what is set; on a 400 naming an unsupported "
        "parameter drop it, retry once, warn once, remember it per model. 'catalog': also "
        "drop what the catalog does not list, up front. False: send all and raise "
        "UnsupportedParameterError. True is an alias of 'learn'.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request options / JSON body fields."
    )

    _client: LunosClient = PrivateAttr()
    _info: tuple[str, ModelInfo | None] | None = PrivateAttr(default=None)
    _meta: tuple[tuple[Any, ...], LLMMetadata] | None = PrivateAttr(default=None)
    _warned_context: str | None = PrivateAttr(default=None)
    _payload: tuple[LLMMetadata, dict[str, Any]] | None = PrivateAttr(default=None)

    def __init__(
        self,
        *,
        http_client: httpx.Client | Any = None,
        http_async_client: httpx.AsyncClient | Any = None,
        async_http_client: httpx.AsyncClient | Any = None,
        client: LunosClient | None = None,
        **data: Any,
    ) -> None:
        # Resolved now, so the object and to_dict() show where requests go.
        data["base_url"] = base_url_setting(data.get("base_url"))
        data["app_id"] = app_id_setting(data.get("app_id"))
        if "api" in data:
            check_api(data["api"])
        if "gate_parameters" in data:
            gate_mode(data["gate_parameters"])
        if "api_key" in data and isinstance(data["api_key"], str):
            data["api_key"] = SecretStr(data["api_key"])
        error: BaseException | None = None
        try:
            super().__init__(**data)
        except ValidationError as exc:  # it would print the inputs, key and URLs included
            error = safe_construction_error(exc)
        if error is not None:
            raise error
        if client is None:
            client = client_from_settings(
                self,
                http_client=http_client,
                http_async_client=http_async_client or async_http_client,
                catalog=shared_catalog,
            )
        self._client = client

    @classmethod
    def class_name(cls) -> str:
        return "LunosLLM"

    def __repr_args__(self) -> Any:
        return redact_repr_args(super().__repr_args__())

    @field_serializer("base_url", "proxy")
    def _redact_url_fields(self, value: str | None) -> str | None:
        """``to_dict`` / ``to_json`` show URLs with their password masked, as reprs do;
        a model rebuilt from them needs the real URL again (the masked one is refused)."""
        return redact_url(value) if value else value

    @property
    def client(self) -> LunosClient:
        """The underlying framework-free client (shared pools; one per instance)."""
        return self._client

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._client.aclose()

    # ------------------------------------------------------------------ metadata

    def model_info(self) -> ModelInfo | None:
        """Catalog facts for ``self.model`` (cached per instance; ``None`` when unknown).

        Outside an event loop this may wait for the catalog (it is an explicit question);
        inside one it only uses what is already fetched, never blocking the loop.
        """
        cached = self._info
        if cached is not None and cached[0] == self.model:
            return cached[1]
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            from ..catalog import lookup_model

            info = lookup_model(self._client, self.model)
            self._info = (self.model, info)
            return info
        return self._known_info()

    def _known_info(self) -> ModelInfo | None:
        """Facts from an already-fetched catalog only: what per-call code may consult."""
        cached = self._info
        if cached is not None and cached[0] == self.model:
            return cached[1]
        catalog = catalog_of(self._client)
        info = catalog.peek(self.model)
        if info is not None or catalog.known():
            self._info = (self.model, info)  # a definite answer: keep it
        return info

    @property
    def metadata(self) -> LLMMetadata:
        return self._metadata(self.model_info(), explicit=True)

    def _metadata(self, info: ModelInfo | None, explicit: bool = False) -> LLMMetadata:
        # ``info`` is part of the key: metadata built from defaults before the catalog
        # arrived is rebuilt once it has.
        key = (
            self.model,
            self.max_tokens,
            self.context_window,
            self.is_function_calling_model,
            id(info),
        )
        cached = self._meta
        if cached is not None and cached[0] == key:
            return cached[1]
        context = self.context_window or (info.context_window if info else None)
        if context is None:
            if explicit:  # per-call instrumentation never warns; a reader of metadata does
                self._warn_default_context()
            context = DEFAULT_CONTEXT_WINDOW
        if self.max_tokens is not None:
            num_output = self.max_tokens
        else:
            # The prompt helper reserves num_output of the window for the answer; catalogs
            # often list output caps as large as the window itself, so cap the reservation.
            cap = info.max_output_tokens if info and info.max_output_tokens else DEFAULT_NUM_OUTPUT
            num_output = max(1, min(cap, context // 4))
        if self.is_function_calling_model is not None:
            tools = self.is_function_calling_model
        else:
            tools = info.supports_tools if info is not None else True
        meta = LLMMetadata(
            context_window=context,
            num_output=num_output,
            is_chat_model=True if info is None else info.is_chat_model,
            is_function_calling_model=tools,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )
        self._meta = (key, meta)
        return meta

    def _warn_default_context(self) -> None:
        """One warning per instance and model when the window had to be assumed.

        Only once the catalog gave its answer (a model missing from it, or listed without
        a window); before that the defaults are provisional and replaced when it arrives.
        """
        cached = self._info
        if cached is None or cached[0] != self.model or self._warned_context == self.model:
            return
        self._warned_context = self.model
        if cached[1] is not None:
            why = "has no context window listed in the catalog"
        elif catalog_of(self._client).available():
            why = "is not in the catalog"
        else:
            why = "has no catalog entry (the catalog is unavailable)"
        warnings.warn(
            f"Lunos model {self.model!r} {why}; LunosLLM.metadata.context_window assumes "
            f"{DEFAULT_CONTEXT_WINDOW}. Pass context_window=... to set it.",
            LunosCatalogWarning,
            stacklevel=4,
        )

    def to_payload(self) -> dict[str, Any]:
        """Non-secret description for instrumentation events (built once per metadata).

        Sent with every call's start event, so it must not wait for the catalog.
        """
        meta = self._metadata(self._known_info())
        cached = self._payload
        if cached is None or cached[0] is not meta:
            payload = {"class_name": self.class_name(), **meta.model_dump(), "api": self.api}
            cached = self._payload = (meta, payload)
        return dict(cached[1])

    # ------------------------------------------------------------------ request building

    def _build(
        self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any], stream: bool
    ) -> tuple[ChatRequest, dict[str, str] | None]:
        req = ChatRequest(
            model=self.model,
            messages=to_neutral_messages(messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=list(self.stop) if self.stop else None,
            seed=self.seed,
            reasoning_effort=self.reasoning_effort,
            reasoning=self.reasoning,
            thinking=self.thinking,
            fallback_model=self.fallback_model,
            observability=self.observability,
            stream=stream,
            include_usage=self.stream_usage,
        )
        headers: dict[str, str] | None = None
        extra = self.additional_kwargs
        if extra or kwargs:
            options = {**extra, **kwargs} if extra else kwargs
            headers = apply_call_options(req, options)
        return req, headers

    # ------------------------------------------------------------------ chat

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        req, headers = self._build(messages, kwargs, stream=False)
        result = self._client.chat(req, api=self.api, headers=headers)
        return chat_response_from_result(result)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        req, headers = self._build(messages, kwargs, stream=False)
        result = await self._client.achat(req, api=self.api, headers=headers)
        return chat_response_from_result(result)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        req, headers = self._build(messages, kwargs, stream=True)
        deltas = self._client.stream_chat(req, api=self.api, headers=headers)

        def gen() -> ChatResponseGen:
            state = StreamState()
            step = state.step
            for delta in deltas:
                yield step(delta)
            if state.needs_final():
                yield state.final()

        return gen()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return await self._astream_chat(messages, **kwargs)

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        req, headers = self._build(messages, kwargs, stream=True)
        deltas = self._client.astream_chat(req, api=self.api, headers=headers)

        async def gen() -> ChatResponseAsyncGen:
            state = StreamState()
            step = state.step
            async for delta in deltas:
                yield step(delta)
            if state.needs_final():
                yield state.final()

        return gen()

    # ------------------------------------------------------------------ completion (via chat)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # ------------------------------------------------------------------ tools

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: Any = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat kwargs for a tool call. Never mutates ``chat_history`` (LlamaIndex's does)."""
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        out: dict[str, Any] = {"messages": messages, **kwargs}
        specs = to_tool_specs(tools, strict if strict is not None else self.strict)
        if specs:
            out["tools"] = specs
            if tool_choice is None and tool_required and len(specs) == 1:
                # "Required" with one tool is that tool: name it, because some servers
                # (llama-cpp-python's chatml-function-calling) honour only a named choice.
                tool_choice = specs[0].name
            choice = resolve_tool_choice(tool_choice, tool_required)
            if choice is not None:
                out["tool_choice"] = choice
            if (
                not allow_parallel_tool_calls
                and "parallel_tool_calls" not in out
                and self._can_disable_parallel_calls()
            ):
                out["parallel_tool_calls"] = False
        return out

    def _can_disable_parallel_calls(self) -> bool:
        """Send ``parallel_tool_calls=false`` unless the server already refused it.

        Many gateway models reject it (feature-bar.md pain point 18); the client learns
        that from the first 400 (one extra request per process, one warning) instead of
        guessing from an incomplete catalog. When it is not sent,
        ``allow_parallel_tool_calls=False`` is still honoured by keeping the first call
        (see :meth:`_validate_chat_with_tools_response`).
        """
        return "parallel_tool_calls" not in self._client.parameters.rejected(self.model)

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        if not allow_parallel_tool_calls:
            keep_first_tool_call(response)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        return tool_selections(response, error_on_no_tool_call)

    # ------------------------------------------------------------------ structured output

    def _use_json_schema(self) -> bool:
        method = self.structured_output_method
        if method != "auto":
            return method == "json_schema"
        if self.pydantic_program_mode != PydanticProgramMode.DEFAULT:
            return False
        # Deterministic and catalog-free (structured calls do not wait for the catalog):
        # the Messages route uses a forced tool call (what Anthropic models support most
        # widely, as ChatLunos does); the chat route tries json_schema unless the server
        # already refused response_format for this model — a refusal falls back to
        # function calling (see structured_predict) and is remembered by the client.
        if self.api == "messages":
            return False
        return "response_format" not in self._client.parameters.rejected(self.model)

    def _force_tool_path(self) -> bool:
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and self._metadata(self._known_info()).is_function_calling_model
        )

    def _json_schema_rejected(self, exc: UnsupportedParameterError) -> bool:
        """An ``"auto"`` json_schema attempt the server refused: fall back to tools."""
        return exc.param in ("response_format", "output_config") and (
            self.structured_output_method == "auto"
        )

    def structured_predict(self, *args: Any, **kwargs: Any) -> Any:
        if self._use_json_schema():
            try:
                return structured.predict_json(self, *args, **kwargs)
            except UnsupportedParameterError as exc:
                if not self._json_schema_rejected(exc):
                    raise
        return super().structured_predict(*args, **kwargs)

    async def astructured_predict(self, *args: Any, **kwargs: Any) -> Any:
        if self._use_json_schema():
            try:
                return await structured.apredict_json(self, *args, **kwargs)
            except UnsupportedParameterError as exc:
                if not self._json_schema_rejected(exc):
                    raise
        return await super().astructured_predict(*args, **kwargs)

    def _structured_stream_call(self, *args: Any, **kwargs: Any) -> Generator[Any, None, None]:
        if self._use_json_schema():
            return structured.stream_json(self, *args, **kwargs)
        if self._force_tool_path():
            return structured.stream_tool(self, *args, **kwargs)
        return super()._structured_stream_call(*args, **kwargs)

    async def _structured_astream_call(self, *args: Any, **kwargs: Any) -> Any:
        if self._use_json_schema():
            return structured.astream_json(self, *args, **kwargs)
        if self._force_tool_path():
            return await structured.astream_tool(self, *args, **kwargs)
        return await super()._structured_astream_call(*args, **kwargs)
