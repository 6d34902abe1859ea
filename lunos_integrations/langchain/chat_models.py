"""``ChatLunos``: LangChain chat model over both Lunos routes.

One class serves the OpenAI-compatible ``/chat/completions`` route (default) and the
Anthropic ``/messages`` route (``api="messages"``). It is a thin adapter: LangChain
messages become neutral :mod:`~lunos_integrations.wire.types` objects, and
:class:`~lunos_integrations.client.LunosClient` does HTTP, retries, the fallback hop and
cost. Per-call work is kept small on purpose (one client per instance, tool formatting at
bind time, validation-free stream chunks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils import secret_from_env
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    model_validator,
)
from typing_extensions import Self

from .._pickling import model_state
from ..catalog import shared_catalog
from ..client import LunosClient, check_api, client_from_settings
from ..config import app_id_setting, base_url_setting, resolve_config
from ..construction import safe_construction_error
from ..errors import LunosError, LunosInputError
from ..parameters import gate_mode
from ..redact import has_userinfo, redact_repr_args, redact_url
from ..transport.http_lib import check_client
from ..wire.response_format import response_format_from_openai
from ..wire.types import OPTION_FIELDS, ChatRequest, ResponseFormat
from .errors import to_langchain_error
from .messages_in import convert_messages
from .messages_out import StreamState, result_to_chat_result
from .profile import LazyProfile, profile_from_model_info
from .structured import StructuredMethod, build_structured_output
from .tokens import estimate_message_tokens, estimate_text_tokens
from .tools import convert_tool_choice, convert_tools, format_tools

__all__ = ["ChatLunos"]

Api = Literal["chat_completions", "messages"]

# Per-call kwargs that map onto ChatRequest fields of the same name.
_REQUEST_FIELDS = OPTION_FIELDS
# Handled separately when they arrive as per-call kwargs.
_SPECIAL_KWARGS = frozenset(
    (
        "model",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "strict",
        "response_format",
        "stream_usage",
        "extra_body",
        "extra_headers",
        "api",
        "stream",
    )
)


class ChatLunos(BaseChatModel):
    """Lunos chat models in LangChain, on the chat-completions or Anthropic Messages route.

    Setup: ``pip install lunos-integrations[langchain]`` and set ``LUNOS_API_KEY``
    (``LUNOS_BASE_URL`` / ``LUNOS_APP_ID`` are optional).

    Example:
        .. code-block:: python

            from lunos_integrations.langchain import ChatLunos

            llm = ChatLunos(model="openai/gpt-4o-mini", temperature=0)
            llm.invoke("Hello!").usage_metadata

            claude = ChatLunos(model="anthropic/claude-sonnet-4", api="messages",
                               thinking={"type": "enabled", "budget_tokens": 1024})

    Optional parameters are sent only when set, because Lunos rejects parameters a model
    does not support. Lunos extras (``plugins``, ``modalities``, web-search tools ...) go
    in ``model_kwargs`` / ``extra_body`` or as per-call keyword arguments.
    """

    model: str = Field(validation_alias=AliasChoices("model", "model_name"))
    """Lunos model id, e.g. ``openai/gpt-4o`` (treated as an opaque string)."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("LUNOS_API_KEY", default=None)
    )
    """Lunos secret key; defaults to ``LUNOS_API_KEY``."""
    base_url: str | None = None
    """API base URL including ``/v1``. Resolved at construction: the argument, else
    ``LUNOS_BASE_URL``, else ``https://api.lunos.tech/v1``."""
    app_id: str | None = None
    """Sent as ``X-App-ID`` for per-application usage attribution. Resolved at
    construction: the argument, else ``LUNOS_APP_ID``, else none."""
    api: Api = "chat_completions"
    """Route: ``chat_completions`` (OpenAI-compatible) or ``messages`` (Anthropic)."""

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    reasoning_effort: str | None = None
    """Chat route ``reasoning_effort``; on the messages route ``output_config.effort``."""
    reasoning: dict[str, Any] | None = None
    """Chat route ``reasoning`` object (e.g. ``{"effort": "high"}`` or ``{"max_tokens": n}``)."""
    thinking: dict[str, Any] | None = None
    """Messages route extended thinking, e.g. ``{"type": "enabled", "budget_tokens": 1024}``."""
    fallback_model: str | None = None
    """Model tried once when the requested one is unavailable (404 / model errors)."""
    observability: bool | None = None
    """Ask Lunos to store request and output for the dashboard's log view."""

    timeout: float | httpx.Timeout | None = Field(default=None, alias="request_timeout")
    max_retries: int | None = None
    default_headers: dict[str, str] | None = None
    proxy: str | None = None
    stream_idle_timeout: float | None = None
    max_connections: int | None = None
    """Cap on open connections in the shared pool (default 1000)."""
    max_response_bytes: int | None = None
    """Refuse a reply (or whole stream) larger than this once decompressed (default 256 MiB)."""
    ca_bundle: str | None = None
    """CA bundle (file or directory) for the package's pools; else SSL_CERT_FILE / _DIR."""
    use_truststore: bool | None = None
    """Verify against the OS trust store (``truststore``); else ``LUNOS_USE_TRUSTSTORE``."""
    rate_governor: bool = True
    """Send every attempt through the key's shared rate governor (README "Rate limits and
    throttling"); ``False`` lets each call retry on its own, as before."""
    requests_per_minute: float | None = None
    """The key's known request limit, paced to before any refusal (default: learned)."""
    tokens_per_minute: float | None = None
    """The key's known token limit (tokens estimated from each request; default: learned)."""
    gate_parameters: Literal["learn", "catalog"] | bool = "learn"
    """What to do about parameters a model does not support. ``"learn"`` (default): send
    what was set; when Lunos answers a 400 naming an unsupported parameter, drop it, retry
    once and warn once (remembered per model in this process). ``"catalog"``: also drop
    up front what the catalog's ``supportedParameters`` does not list. ``False``: send
    everything and raise ``UnsupportedParameterError``. ``True`` = ``"learn"``."""
    streaming: bool = False
    stream_usage: bool = True
    """Ask for usage in streams (``stream_options.include_usage``); on by default."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Extra top-level body fields (Lunos extras such as ``plugins`` or ``modalities``)."""
    extra_body: dict[str, Any] | None = None
    """Also merged into the body, last (same role as ``model_kwargs``)."""
    http_client: Any | None = Field(default=None, exclude=True)
    """Optional ``httpx.Client`` or ``httpx2.Client`` (e.g. custom TLS or a mock transport)."""
    http_async_client: Any | None = Field(default=None, exclude=True)
    """Optional ``httpx.AsyncClient`` or ``httpx2.AsyncClient``."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    _client: LunosClient | None = PrivateAttr(default=None)

    # ------------------------------------------------------------------ construction

    def __init__(self, **kwargs: Any) -> None:
        # pydantic would wrap our LunosInputError / LunosConfigError in a ValidationError
        # that prints the whole argument dict, API key included; raise them as they are.
        error: BaseException | None = None
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:
            error = safe_construction_error(exc)
        if error is not None:
            raise error  # outside the except block: no context holding the arguments

    def __repr_args__(self) -> Any:
        return redact_repr_args(super().__repr_args__())

    @field_serializer("base_url", "proxy")
    def _redact_url_fields(self, value: str | None) -> str | None:
        """``model_dump`` shows URLs with their password masked, as reprs do."""
        return redact_url(value) if value else value

    @model_validator(mode="after")
    def _validate_lunos(self) -> Self:
        """Fail at construction (not on first call) for a bad key, URL or parameter."""
        check_api(self.api)
        gate_mode(self.gate_parameters)
        check_client(self.http_client, is_async=False, argument="http_client")
        check_client(self.http_async_client, is_async=True, argument="http_async_client")
        overlap = sorted(set(self.model_kwargs) & set(type(self).model_fields))
        if overlap:
            raise LunosInputError(
                f"model_kwargs must not repeat ChatLunos parameters {overlap}; pass them "
                "directly, e.g. ChatLunos(temperature=0).",
                param="model_kwargs",
            )
        resolve_config(  # validates base URL / retries / timeout; no I/O
            # A missing key is reported on the first call, so models can be built (and
            # serialized or inspected) before the environment is configured.
            api_key=self.api_key or SecretStr("unset"),
            base_url=self.base_url,
            app_id=self.app_id,
            default_headers=self.default_headers,
            timeout=self.timeout,
            max_retries=self.max_retries,
            proxy=self.proxy,
            stream_idle_timeout=self.stream_idle_timeout,
            max_connections=self.max_connections,
            max_response_bytes=self.max_response_bytes,
            ca_bundle=self.ca_bundle,
            use_truststore=self.use_truststore,
            rate_governor=self.rate_governor,
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
        )
        if isinstance(self.profile, LazyProfile):
            self.profile.arm()
        return self

    @model_validator(mode="before")
    @classmethod
    def _settings_from_env(cls, data: Any) -> Any:
        """Resolve ``base_url`` / ``app_id`` (and an unset key) now, so the model shows, and
        ``dumpd`` writes, where its requests go, as ``ChatOpenAI.openai_api_base`` does."""
        if isinstance(data, dict):
            data = dict(data)
            data["base_url"] = base_url_setting(data.get("base_url"))
            data["app_id"] = app_id_setting(data.get("app_id"))
            if data.get("api_key") is None:
                # ``load`` passes the key's reference as None unless it is handed the key;
                # read LUNOS_API_KEY then, as for a model built without one.
                data.pop("api_key", None)
        return data

    def _resolve_model_profile(self) -> Any:
        """A lazy profile: the catalogue is fetched on the first read, never here."""
        return LazyProfile(self._load_profile)

    def _load_profile(self) -> dict[str, Any] | None:
        from ..catalog import lookup_model

        info = lookup_model(self.client, self.model)
        return profile_from_model_info(info) if info is not None else None

    @property
    def client(self) -> LunosClient:
        """The instance's :class:`LunosClient`, built on first use and then reused."""
        client = self._client
        if client is None:
            client = self._client = client_from_settings(
                self,
                http_client=self.http_client,
                http_async_client=self.http_async_client,
                catalog=shared_catalog,
            )
        return client

    def __getstate__(self) -> dict[Any, Any]:
        """Pickles without its client; the copy opens its own connections (see README)."""
        return model_state(self, super().__getstate__())

    def close(self) -> None:
        """Release this instance's share of the connection pools."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ LangChain plumbing

    @property
    def _llm_type(self) -> str:
        return "lunos-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        secrets = {"api_key": "LUNOS_API_KEY"}
        # A base URL carrying credentials is a secret too: ``dumpd`` writes a reference to
        # LUNOS_BASE_URL instead, and ``load`` restores it from there (or ``secrets_map``).
        if has_userinfo(self.base_url):
            secrets["base_url"] = "LUNOS_BASE_URL"
        if has_userinfo(self.proxy):
            secrets["proxy"] = "LUNOS_PROXY"
        return secrets

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["lunos_integrations", "langchain", "chat_models"]

    def to_json(self) -> Any:
        """Serialize without loading a not-yet-loaded profile.

        The profile is excluded from serialization anyway, but core's field check calls
        ``bool()`` on every value, which would fetch the catalogue.
        """
        profile = self.__dict__.get("profile")
        if isinstance(profile, LazyProfile) and not profile.loaded:
            self.__dict__["profile"] = None
            try:
                return super().to_json()
            finally:
                self.__dict__["profile"] = profile
        return super().to_json()

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model, "api": self.api}
        # Not app_id: it labels usage, it does not change answers, so it must not split
        # LangChain's cache (whose key is built from these) nor make a model unset at dump
        # time differ from the one ``load`` rebuilds where LUNOS_APP_ID is set.
        for name in (*_REQUEST_FIELDS, "stop", "base_url"):
            value = getattr(self, name, None)
            if value is not None:
                params[name] = redact_url(value) if name == "base_url" else value
        return params

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="lunos",
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, (int, float)):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        ls_stop = stop or kwargs.get("stop") or self.stop
        if ls_stop:
            params["ls_stop"] = ls_stop if isinstance(ls_stop, list) else [ls_stop]
        return params

    # ------------------------------------------------------------------ request building

    def _build_request(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        kwargs: dict[str, Any],
        *,
        stream: bool,
    ) -> tuple[ChatRequest, Api, Mapping[str, str] | None]:
        api: Api = check_api(kwargs["api"]) if "api" in kwargs else self.api
        extra: dict[str, Any] = dict(self.model_kwargs)
        if self.extra_body:
            extra.update(self.extra_body)

        # A per-call model="" is an error (the codec names it), not "use the default".
        model = kwargs.get("model", self.model)
        req = ChatRequest(model=model, messages=convert_messages(messages))
        for name in _REQUEST_FIELDS:
            value = kwargs[name] if name in kwargs else getattr(self, name, None)
            if value is not None:
                setattr(req, name, value)
        stops = stop if stop is not None else kwargs.get("stop", self.stop)
        if isinstance(stops, str):
            stops = [stops]
        if stops:
            req.stop = list(stops)
        req.include_usage = bool(kwargs.get("stream_usage", self.stream_usage))
        req.stream = stream

        tools = kwargs.get("tools")
        if tools:
            bound = convert_tools(tools, strict=kwargs.get("strict"))
            req.tools = bound.specs or None
            req.tool_choice = convert_tool_choice(kwargs.get("tool_choice"), bound)
            req.server_tools = bound.server_tools or None
        elif kwargs.get("tool_choice") not in (None, False, "auto", "none"):
            raise LunosInputError("tool_choice was given without tools.", param="tool_choice")
        if kwargs.get("parallel_tool_calls") is not None:
            req.parallel_tool_calls = bool(kwargs["parallel_tool_calls"])
        if kwargs.get("response_format") is not None:
            req.response_format = _response_format(kwargs["response_format"])

        for key, value in kwargs.items():
            if key in _SPECIAL_KWARGS or key in _REQUEST_FIELDS or key.startswith("ls_"):
                continue
            extra[key] = value  # unknown per-call options go to the body, like ChatOpenAI
        if kwargs.get("extra_body"):
            extra.update(kwargs["extra_body"])
        if extra:
            req.extra_body = extra
        headers = kwargs.get("extra_headers")
        return req, api, headers

    # ------------------------------------------------------------------ calls

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        req, api, headers = self._build_request(messages, stop, kwargs, stream=False)
        try:
            result = self.client.chat(req, api=api, headers=headers)
        except LunosError as exc:
            raise to_langchain_error(exc) from exc
        return result_to_chat_result(result, req.model, api)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        req, api, headers = self._build_request(messages, stop, kwargs, stream=False)
        try:
            result = await self.client.achat(req, api=api, headers=headers)
        except LunosError as exc:
            raise to_langchain_error(exc) from exc
        return result_to_chat_result(result, req.model, api)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        req, api, headers = self._build_request(messages, stop, kwargs, stream=True)
        state = StreamState(req.model, api)
        to_chunk = state.chunk
        on_token = run_manager.on_llm_new_token if run_manager is not None else None
        try:
            for delta in self.client.stream_chat(req, api=api, headers=headers):
                chunk = to_chunk(delta)
                if chunk is None:
                    continue
                if on_token is not None:
                    on_token(chunk.text, chunk=chunk)
                yield chunk
        except LunosError as exc:
            raise to_langchain_error(exc) from exc
        final = state.final_chunk()
        if not req.include_usage:
            final.message.usage_metadata = None  # type: ignore[attr-defined]
        if on_token is not None:
            on_token("", chunk=final)
        yield final

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        req, api, headers = self._build_request(messages, stop, kwargs, stream=True)
        state = StreamState(req.model, api)
        to_chunk = state.chunk
        on_token = run_manager.on_llm_new_token if run_manager is not None else None
        try:
            async for delta in self.client.astream_chat(req, api=api, headers=headers):
                chunk = to_chunk(delta)
                if chunk is None:
                    continue
                if on_token is not None:
                    await on_token(chunk.text, chunk=chunk)
                yield chunk
        except LunosError as exc:
            raise to_langchain_error(exc) from exc
        final = state.final_chunk()
        if not req.include_usage:
            final.message.usage_metadata = None  # type: ignore[attr-defined]
        if on_token is not None:
            await on_token("", chunk=final)
        yield final

    # ------------------------------------------------------------------ tools / structure

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any LangChain tool form) for the model to call.

        ``tool_choice``: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (some
        tool), a tool name, or an OpenAI / Anthropic choice dict. ``parallel_tool_calls``
        and ``strict`` are sent only when set.
        """
        formatted = format_tools(tools, strict=strict)
        # Validate the choice now, so a typo fails at bind time rather than per call.
        convert_tool_choice(tool_choice, convert_tools(formatted, strict=strict))
        bind_kwargs: dict[str, Any] = {"tools": formatted}
        if tool_choice is not None:
            bind_kwargs["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            bind_kwargs["parallel_tool_calls"] = parallel_tool_calls
        if strict is not None:
            bind_kwargs["strict"] = strict
        return super().bind(**bind_kwargs, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: StructuredMethod | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Structured output; Pydantic schemas parse to instances, others to dicts.

        ``method`` defaults to ``json_schema`` on the chat route and ``function_calling``
        on the messages route (what Anthropic models support most widely, and
        ChatAnthropic's default); ``json_mode`` exists on the chat route only.
        """
        if method is None:
            method = "function_calling" if self.api == "messages" else "json_schema"
        return build_structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict, **kwargs
        )

    # ------------------------------------------------------------------ token counting

    def get_num_tokens(self, text: str) -> int:
        """Approximate token count; works offline for any model id and never raises."""
        if self.custom_get_token_ids is not None:
            return len(self.custom_get_token_ids(text))
        return estimate_text_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Approximate prompt tokens of ``messages`` (+ ``tools``); never raises."""
        return estimate_message_tokens(messages, tools)


def _register_as_trusted_partner() -> None:
    """Let ``allowed_objects="all"`` include ChatLunos, as langchain-tests' serdes test uses.

    langchain-core only deserializes classes listed in its own serialization mapping
    (``langchain_core.load.load.ALL_SERIALIZABLE_MAPPINGS``); partner packages shipped
    with LangChain are in it, third-party ones cannot register through a public API. This
    adds ChatLunos' own path (mapping to itself) so ``"all"`` includes it; ``load`` still
    needs ``valid_namespaces=["lunos_integrations"]``. The README's recipe passes the
    classes explicitly (``allowed_objects=[ChatLunos, ...]``), which needs none of this.
    Guarded: a core change here must never break importing the integration.
    """
    try:
        import importlib

        # ``langchain_core.load.load`` is shadowed by the function of that name.
        lc_load = importlib.import_module("langchain_core.load.load")
        path = (*ChatLunos.get_lc_namespace(), ChatLunos.__name__)
        lc_load.ALL_SERIALIZABLE_MAPPINGS.setdefault(path, path)
        cached = getattr(lc_load, "_default_class_paths_cache", {}).get("all")
        if isinstance(cached, set):
            cached.add(path)
    except Exception:  # pragma: no cover - depends on core internals
        pass


_register_as_trusted_partner()


def _response_format(value: Any) -> ResponseFormat:
    """Per-call ``response_format`` (OpenAI dict, or a schema class) → neutral form."""
    if isinstance(value, ResponseFormat):
        return value
    if isinstance(value, Mapping):
        return response_format_from_openai(value)
    try:
        fn = convert_to_openai_tool(value)["function"]
    except Exception as exc:
        raise LunosInputError(
            f"response_format must be a dict or a schema class, got {value!r:.80}.",
            param="response_format",
        ) from exc
    return ResponseFormat(type="json_schema", name=fn["name"], schema=fn.get("parameters"))
