"""``LunosClient``: the framework-free core that both adapters stand on.

It joins the transport (HTTP) to the wire codecs (JSON) and adds the behaviour that is the
same whatever framework calls it: choosing the route, the opt-in ``fallback_model`` hop,
learning which parameters a model rejects (:mod:`.parameters`), and reporting token usage
and cost to the listeners active in the caller's context (:mod:`.usage_events`).
``ChatLunos`` and ``LunosLLM`` translate their framework's objects to
:mod:`lunos_integrations.wire.types` and call this.

What a client consults besides the server is explicit: the ``catalog`` it was handed
(:class:`~.facts.ModelFacts`: prices for cost, the learned-parameter memory, the opt-in
catalog pre-filter). It imports nothing from the catalog or pricing modules, and nothing
it consults can delay a request: the catalog is fetched in the background (beside a
non-streamed call, after a stream), and only pricing after the reply waits for it, briefly.

It is also usable on its own, for code that wants Lunos without a framework; pass
``catalog=lunos_integrations.catalog.shared_catalog`` for computed costs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from .config import LunosConfig, TimeoutTypes, resolve_config
from .errors import (
    APIStatusError,
    LunosInputError,
    NotFoundError,
    WireFormatError,
)
from .facts import ModelFacts
from .observe import (
    NO_OBSERVATION,
    CallInfo,
    Observation,
    ObserverFactory,
    Operation,
    context_factories,
)
from .parameters import (
    ESSENTIAL,
    GateSetting,
    ParameterMemory,
    apply_learned,
    drop_parameter,
    gate_mode,
    rejected_parameter,
    unsupported_error,
    warn_dropped,
)
from .redact import redact_url
from .stream_calls import arun_stream, run_stream
from .stream_session import StreamSession, invalid_reply
from .telemetry import with_default_telemetry
from .transport.http import JSONResponse, StreamEvent, Transport
from .usage_events import current_listeners
from .wire import chat_completions, embeddings, messages
from .wire.types import ChatDelta, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult, Usage

Api = Literal["chat_completions", "messages"]
APIS: tuple[Api, ...] = ("chat_completions", "messages")
#: Sent on the messages route; Lunos does not document whether it is required (lunos-api.md §4).
ANTHROPIC_VERSION = "2023-06-01"
_MESSAGES_HEADERS = {"anthropic-version": ANTHROPIC_VERSION}

#: A catalog for the client, or a factory building one from the resolved configuration
#: (e.g. :func:`lunos_integrations.catalog.shared_catalog`).
CatalogSetting = ModelFacts | Callable[[LunosConfig], ModelFacts] | None


def _noop() -> None:
    pass


def _check_request(request: ChatRequest) -> None:
    """Reject, naming the parameter, values Lunos can only refuse, before any round trip.

    The codecs pass ``max_tokens`` and tool schemas through as given, and JSON encoding
    happens in the transport, where an unserialisable schema would be a bare ``TypeError``.
    """
    limit = request.max_tokens
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise LunosInputError(
            f"max_tokens must be an integer >= 0, got {limit!r}.", param="max_tokens"
        )
    for i, tool in enumerate(request.tools or ()):
        try:
            json.dumps(tool.parameters, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise LunosInputError(
                f"The parameters schema of tool {tool.name!r} cannot be serialised to JSON "
                f"({exc}).",
                param=f"tools[{i}].parameters",
            ) from None


def check_api(api: str) -> Api:
    if api not in APIS:
        raise LunosInputError(
            f"api must be 'chat_completions' or 'messages', got {api!r}", param="api"
        )
    return api


def _is_model_unavailable(error: APIStatusError) -> bool:
    """Errors for which ``fallback_model`` is worth one try: the model is missing or down."""
    if isinstance(error, NotFoundError):
        return True
    text = f"{error.message} {error.code or ''}".lower()
    return "model" in text and (error.status_code in (400, 503) or "unavailable" in text)


class LunosClient:
    """Chat, embeddings, models and balance over one :class:`Transport`.

    Construct from keyword arguments (falling back to ``LUNOS_*`` environment variables) or
    from a ready :class:`LunosConfig`. Connection pools are shared process-wide, so creating
    many clients is cheap; :meth:`close` / :meth:`aclose` return this client's lease.
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        app_id: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int | None = None,
        proxy: str | None = None,
        stream_idle_timeout: float | None = None,
        max_connections: int | None = None,
        max_response_bytes: int | None = None,
        http_client: httpx.Client | Any = None,
        http_async_client: httpx.AsyncClient | Any = None,
        ca_bundle: str | None = None,
        use_truststore: bool | None = None,
        rate_governor: bool | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        config: LunosConfig | None = None,
        gate_parameters: GateSetting = "learn",
        catalog: CatalogSetting = None,
        parameter_memory: ParameterMemory | None = None,
        observers: tuple[ObserverFactory, ...] = (),
    ) -> None:
        if config is None:
            config = resolve_config(
                api_key=api_key,
                base_url=base_url,
                app_id=app_id,
                default_headers=default_headers,
                timeout=timeout,
                max_retries=max_retries,
                proxy=proxy,
                stream_idle_timeout=stream_idle_timeout,
                max_connections=max_connections,
                max_response_bytes=max_response_bytes,
                ca_bundle=ca_bundle,
                use_truststore=use_truststore,
                rate_governor=rate_governor,
                requests_per_minute=requests_per_minute,
                tokens_per_minute=tokens_per_minute,
            )
        self.config = config
        #: ``"learn"`` (drop what the server rejects, see :mod:`.parameters`), ``"catalog"``
        #: (also pre-filter by the catalog's lists) or ``False`` (send all, raise).
        self.gate_parameters = gate_parameters
        self.gate_mode = gate_mode(gate_parameters)
        if catalog is not None and not isinstance(catalog, ModelFacts):
            catalog = catalog(config)  # a factory, e.g. shared_catalog
        #: The model catalog this client consults (prices, learned parameters), or None.
        self.catalog: ModelFacts | None = catalog
        if parameter_memory is None:
            parameter_memory = self.catalog.parameters if self.catalog else ParameterMemory()
        #: Parameters the server rejected, per model (shared with the catalog by default).
        self.parameters = parameter_memory
        self.transport = Transport(
            config, http_client=http_client, http_async_client=http_async_client
        )
        #: What watches every call of this client (telemetry), besides what the caller's
        #: context installs with :func:`~.observe.watching` (budgets): see :mod:`.observe`.
        #: OpenTelemetry spans are on by default once a provider is configured (:mod:`.telemetry`).
        self.observers = with_default_telemetry(observers)

    def __repr__(self) -> str:
        base_url = redact_url(self.config.base_url)
        return f"LunosClient(base_url={base_url!r}, app_id={self.config.app_id!r})"

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.transport.close()

    async def aclose(self) -> None:
        await self.transport.aclose()

    def __enter__(self) -> LunosClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> LunosClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ chat

    @staticmethod
    def _route(api: Api) -> tuple[str, dict[str, str] | None]:
        if api == "messages":
            return "/messages", _MESSAGES_HEADERS
        return "/chat/completions", None

    @staticmethod
    def encode(request: ChatRequest, api: Api) -> dict[str, Any]:
        """The exact JSON body that would be sent for ``request`` on ``api``."""
        _check_request(request)
        if api == "messages":
            return messages.encode_request(request)
        return chat_completions.encode_request(request)

    def _headers(
        self, base: dict[str, str] | None, extra: Mapping[str, str] | None
    ) -> Mapping[str, str] | None:
        if not extra:
            return base
        merged = dict(base or {})
        merged.update(extra)
        return merged

    def _decode_result(self, api: Api, response: JSONResponse) -> ChatResult:
        decode = messages.decode_response if api == "messages" else chat_completions.decode_response
        try:
            result = decode(response.data)
        except WireFormatError as exc:
            raise invalid_reply(
                exc, self.transport.secrets, response.status_code, response.request_id
            ) from exc
        result.request_id = response.request_id
        result.rate_limit_wait_s = response.waited
        return result

    def _warm(self) -> Callable[[], None]:
        """Start the catalog fetch alongside the request (never waits for it).

        Returns the signal to give once the reply has begun: the fetch waits for it (at
        most the catalog's head start), so the prompt is the first request on the wire.
        """
        if self.catalog is not None:
            with contextlib.suppress(Exception):  # the catalog must never break a call
                return self.catalog.warm(self)
        return _noop

    async def _awarm(self) -> Callable[[], None]:
        if self.catalog is not None:
            with contextlib.suppress(Exception):
                return await self.catalog.awarm(self)
        return _noop

    def _price_usage(self, model: str, usage: Usage) -> None:
        """Fill ``usage.cost`` from the catalog when the server did not report it."""
        if usage.cost is None and self.catalog is not None:
            try:
                usage.cost = self.catalog.price(self, model, usage)
            except Exception:  # pricing is best effort; a finished call must not fail here
                usage.cost = None
            usage.cost_source = "catalog"

    async def _aprice_usage(self, model: str, usage: Usage) -> None:
        if usage.cost is None and self.catalog is not None:
            try:
                usage.cost = await self.catalog.aprice(self, model, usage)
            except Exception:
                usage.cost = None
            usage.cost_source = "catalog"

    def _report_usage(self, model: str, usage: Usage) -> None:
        for listener in current_listeners():
            listener(model, self.config.app_id, usage)

    def observation(
        self, operation: Operation, route: str, request: Any = None, *, stream: bool = False
    ) -> Observation:
        """The observers of one logical call (shared and empty when nothing watches).

        Public so that the catalog's listing calls (``models``, ``balance``) are watched
        the same way as chat and embeddings.
        """
        factories = self.observers + context_factories()
        if not factories:
            return NO_OBSERVATION
        info = CallInfo(
            operation=operation,
            route=route,
            model=getattr(request, "model", None),
            stream=stream,
            base_url=redact_url(self.config.base_url),
            app_id=self.config.app_id,
            request=request,
            secrets=self.transport.secrets,
            client=self,
        )
        return Observation.start(info, factories)

    def _learned(self, request: ChatRequest, api: Api) -> ChatRequest:
        if self.gate_mode == "off":
            return request
        return apply_learned(request, api, self.parameters.rejected(request.model))

    def _prepare(self, request: ChatRequest, api: Api) -> tuple[ChatRequest, dict[str, Any]]:
        """Encode (which validates), then drop learned rejections: the request and body.

        Encoding first rejects bad input before any I/O. Only ``gate_parameters="catalog"``
        consults the catalog here (and may wait for it); the body is encoded again only
        when something was dropped.
        """
        body = self.encode(request, api)
        sent = self._learned(request, api)
        if self.gate_mode == "catalog" and self.catalog is not None:
            sent = self.catalog.prefilter(self, sent, api)
        return (sent, body) if sent is request else (sent, self.encode(sent, api))

    async def _aprepare(self, request: ChatRequest, api: Api) -> tuple[ChatRequest, dict[str, Any]]:
        """Async :meth:`_prepare`."""
        body = self.encode(request, api)
        sent = self._learned(request, api)
        if self.gate_mode == "catalog" and self.catalog is not None:
            sent = await self.catalog.aprefilter(self, sent, api)
        return (sent, body) if sent is request else (sent, self.encode(sent, api))

    def _rejection(
        self, request: ChatRequest, body: dict[str, Any], api: Api, error: APIStatusError
    ) -> tuple[ChatRequest, dict[str, Any]] | None:
        """After a 400 naming an unsupported parameter: the request to send instead.

        ``None`` when the error is not such a 400 (the caller re-raises it untouched).
        Raises :class:`~.errors.UnsupportedParameterError` when the parameter may not be
        dropped (``gate_parameters=False``, ``tools``, ``response_format``, ``extra_body``).
        Each retry removes a key from the body, so a call ends after at most one retry per
        rejected parameter.
        """
        key = rejected_parameter(error, body)
        if key is None:
            return None
        dropped = None
        if self.gate_mode != "off":
            dropped = drop_parameter(request, api, key, frozenset(request.extra_body or ()))
        if dropped is None:
            if key in ESSENTIAL and self.gate_mode != "off":
                # not dropped (raised), but remembered so callers can choose another way
                # (e.g. structured output by function calling instead of response_format)
                self.parameters.learn(request.model, key)
            raise unsupported_error(error, key, request.model) from error
        if self.parameters.learn(request.model, key):
            warn_dropped(request.model, key, error, stacklevel=5)
        return dropped, self.encode(dropped, api)

    def _fallback(self, request: ChatRequest, error: APIStatusError) -> ChatRequest | None:
        fallback = request.fallback_model
        if fallback and fallback != request.model and _is_model_unavailable(error):
            return dataclasses.replace(request, model=fallback)
        return None

    def recover(
        self,
        request: ChatRequest,
        body: dict[str, Any],
        api: Api,
        error: APIStatusError,
        observation: Observation,
    ) -> tuple[ChatRequest, dict[str, Any] | None]:
        """After a status error, what the call sends next, for every chat path alike.

        ``(request, body)`` to resend on the same model without a parameter the server
        rejected, or ``(fallback request, None)`` for the one ``fallback_model`` hop (the
        caller starts over with it); raises ``error`` when neither applies. Observers are
        told either way (:meth:`~.observe.CallObserver.on_retarget`).
        """
        resend = self._rejection(request, body, api, error)
        if resend is not None:
            observation.on_retarget(resend[0], "dropped_parameter")
            return resend
        retry = self._fallback(request, error)
        if retry is None:
            raise error
        observation.on_retarget(retry, "fallback_model")
        return retry, None

    def chat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> ChatResult:
        """One non-streamed chat call. Retries happen in the transport, never here."""
        request.stream = False
        with self.observation("chat", api, request) as observation:
            observation.prepare()
            return self._chat(request, api, headers, observation)

    def _chat(
        self,
        request: ChatRequest,
        api: Api,
        headers: Mapping[str, str] | None,
        observation: Observation,
    ) -> ChatResult:
        path, base = self._route(api)
        request, body = self._prepare(request, api)
        replied = self._warm()
        while True:
            try:
                response = self.transport.request(
                    "POST",
                    path,
                    body=body,
                    headers=self._headers(base, headers),
                    observation=observation,
                )
                break
            except APIStatusError as exc:
                replied()
                sent, resend = self.recover(request, body, api, exc, observation)
                if resend is None:
                    return self._chat(sent, api, headers, observation)
                request, body = sent, resend
        replied()
        result = self._decode_result(api, response)
        if result.usage is not None:
            self._price_usage(request.model, result.usage)
            self._report_usage(request.model, result.usage)
        observation.on_result(request.model, result.usage, result)
        return result

    async def achat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> ChatResult:
        """Async :meth:`chat`."""
        request.stream = False
        with self.observation("chat", api, request) as observation:
            await observation.aprepare()
            return await self._achat(request, api, headers, observation)

    async def _achat(
        self,
        request: ChatRequest,
        api: Api,
        headers: Mapping[str, str] | None,
        observation: Observation,
    ) -> ChatResult:
        path, base = self._route(api)
        request, body = await self._aprepare(request, api)
        replied = await self._awarm()
        while True:
            try:
                response = await self.transport.arequest(
                    "POST",
                    path,
                    body=body,
                    headers=self._headers(base, headers),
                    observation=observation,
                )
                break
            except APIStatusError as exc:
                replied()
                sent, resend = self.recover(request, body, api, exc, observation)
                if resend is None:
                    return await self._achat(sent, api, headers, observation)
                request, body = sent, resend
        replied()
        result = self._decode_result(api, response)
        if result.usage is not None:
            await self._aprice_usage(request.model, result.usage)
            self._report_usage(request.model, result.usage)
        observation.on_result(request.model, result.usage, result)
        return result

    def _stream_decoder(self, api: Api) -> Callable[[StreamEvent], ChatDelta | None]:
        if api == "messages":
            decoder = messages.MessagesStreamDecoder()
            return lambda ev: decoder.feed(ev.event, ev.data)
        chunks = chat_completions.ChunkDecoder()  # per stream: places index-less tool calls
        return lambda ev: chunks.feed(ev.data)

    def _stream_session(self, request: ChatRequest, api: Api) -> StreamSession:
        return StreamSession(
            request, self._stream_decoder(api), self.transport.secrets, self._report_usage
        )

    def stream_chat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[ChatDelta]:
        """Yield neutral deltas as they arrive; raises instead of ever ending short.

        The catalog (for the cost) is fetched only once the stream is over: see
        :class:`~.stream_session.StreamSession` for why, and how the last delta still
        carries the cost. Observers see the whole stream as one call, until its end or
        until the caller closes it (reported to them as ``GeneratorExit``).
        """
        request.stream = True
        with self.observation("chat", api, request, stream=True) as observation:
            observation.prepare()
            yield from run_stream(self, request, api, headers, observation)

    def _priced(self, model: str, deltas: list[ChatDelta]) -> list[ChatDelta]:
        for delta in deltas:
            if delta.usage is not None:
                self._price_usage(model, delta.usage)
        return deltas

    async def _apriced(self, model: str, deltas: list[ChatDelta]) -> list[ChatDelta]:
        for delta in deltas:
            if delta.usage is not None:
                await self._aprice_usage(model, delta.usage)
        return deltas

    async def astream_chat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[ChatDelta]:
        """Async :meth:`stream_chat`."""
        request.stream = True
        with self.observation("chat", api, request, stream=True) as observation:
            await observation.aprepare()
            async for delta in arun_stream(self, request, api, headers, observation):
                yield delta

    # ------------------------------------------------------------------ embeddings

    def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        body = embeddings.encode_request(request)
        with self.observation("embeddings", "embeddings", request) as observation:
            observation.prepare()
            replied = self._warm()
            try:
                response = self.transport.request(
                    "POST", "/embeddings", body=body, observation=observation
                )
            finally:
                replied()
            result = self._decode_embeddings(response)
            if result.usage is not None:
                self._price_usage(request.model, result.usage)
                self._report_usage(request.model, result.usage)
            observation.on_result(request.model, result.usage, result)
            return result

    async def aembed(self, request: EmbeddingRequest) -> EmbeddingResult:
        body = embeddings.encode_request(request)
        with self.observation("embeddings", "embeddings", request) as observation:
            await observation.aprepare()
            replied = await self._awarm()
            try:
                response = await self.transport.arequest(
                    "POST", "/embeddings", body=body, observation=observation
                )
            finally:
                replied()
            result = self._decode_embeddings(response)
            if result.usage is not None:
                await self._aprice_usage(request.model, result.usage)
                self._report_usage(request.model, result.usage)
            observation.on_result(request.model, result.usage, result)
            return result

    def _decode_embeddings(self, response: JSONResponse) -> EmbeddingResult:
        try:
            return embeddings.decode_response(response.data)
        except WireFormatError as exc:
            raise invalid_reply(
                exc, self.transport.secrets, response.status_code, response.request_id
            ) from exc


#: Settings every adapter exposes under the same names as :class:`LunosClient`'s arguments.
CLIENT_SETTINGS = (
    "api_key",
    "base_url",
    "app_id",
    "default_headers",
    "timeout",
    "max_retries",
    "proxy",
    "stream_idle_timeout",
    "max_connections",
    "max_response_bytes",
    "ca_bundle",
    "use_truststore",
    "rate_governor",
    "requests_per_minute",
    "tokens_per_minute",
    "gate_parameters",
)


def client_from_settings(settings: object, **overrides: Any) -> LunosClient:
    """Build the client for a framework object that carries the standard setting names.

    One place maps adapter fields to client arguments, so a new setting is added once and
    every adapter (chat models, LLMs, embeddings) gets it. Missing attributes are left to
    the client's defaults; ``overrides`` win (e.g. injected httpx clients).
    """
    kwargs: dict[str, Any] = {
        name: getattr(settings, name) for name in CLIENT_SETTINGS if hasattr(settings, name)
    }
    kwargs.update(overrides)
    return LunosClient(**kwargs)
