"""``LunosClient``: the framework-free core that both adapters stand on.

It joins the transport (HTTP) to the wire codecs (JSON) and adds the behaviour that is the
same whatever framework calls it: choosing the route, the opt-in ``fallback_model`` hop,
and reporting token usage and cost to any active trackers. ``ChatLunos`` and ``LunosLLM``
translate their framework's objects to :mod:`lunos_integrations.wire.types` and call this.

It is also usable on its own, for code that wants Lunos without a framework.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from ._forksafe import ForkSafeLock
from .config import LunosConfig, TimeoutTypes, resolve_config
from .errors import (
    APIResponseValidationError,
    APIStatusError,
    LunosInputError,
    NotFoundError,
    StreamTruncatedError,
    WireFormatError,
    scrub_error,
)
from .redact import redact_url
from .transport.http import JSONResponse, StreamEvent, Transport
from .wire import chat_completions, embeddings, messages
from .wire.types import ChatDelta, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult, Usage

Api = Literal["chat_completions", "messages"]
APIS: tuple[Api, ...] = ("chat_completions", "messages")
#: Sent on the messages route; Lunos does not document whether it is required (lunos-api.md §4).
ANTHROPIC_VERSION = "2023-06-01"
_MESSAGES_HEADERS = {"anthropic-version": ANTHROPIC_VERSION}

#: Called with every finished call's usage: (model, app_id, usage). Set by usage trackers.
UsageListener = Callable[[str, "str | None", Usage], None]
_usage_listeners: list[UsageListener] = []
#: Fills ``usage.cost`` when the server did not report one (installed by the catalog module).
CostEstimator = Callable[["LunosClient", str, Usage], "float | None"]
_cost_estimator: list[CostEstimator] = []
#: False until the default estimator (catalog prices, :mod:`.pricing`) has been considered.
_estimator_resolved: list[bool] = [False]
_estimator_lock = ForkSafeLock()


def add_usage_listener(listener: UsageListener) -> None:
    if listener not in _usage_listeners:
        _usage_listeners.append(listener)


def set_cost_estimator(estimator: CostEstimator | None) -> None:
    """Replace the cost hook; ``None`` disables computed costs (server costs still pass)."""
    _estimator_resolved[0] = True
    _cost_estimator.clear()
    if estimator is not None:
        _cost_estimator.append(estimator)


def _current_cost_estimator() -> CostEstimator | None:
    """The cost hook, installing the catalog-price default on first need.

    Lazy so that ``import lunos_integrations`` stays light, yet computed costs work even
    for users who never import the catalog or pricing modules themselves.
    """
    if not _estimator_resolved[0]:
        # Locked, and the flag set only once the default is installed: concurrent first
        # calls (e.g. ``batch``) must not see "resolved" with no estimator yet and go unpriced.
        with _estimator_lock:
            if not _estimator_resolved[0]:
                if not _cost_estimator:
                    from .pricing import estimate_call_cost

                    _cost_estimator.append(estimate_call_cost)
                _estimator_resolved[0] = True
    return _cost_estimator[0] if _cost_estimator else None


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
        from .errors import LunosInputError

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


class _StreamSession:
    """Per-stream bookkeeping shared by :meth:`LunosClient.stream_chat` and its async twin.

    Attaches the request id to the first delta, prices usage as it arrives (so the chunk
    that carries usage also carries its cost) and reports it to usage listeners exactly
    once, and refuses to call a stream complete when it never said why it stopped.
    """

    __slots__ = ("_client", "_decode", "finished", "request", "request_id", "started", "usage")

    def __init__(
        self,
        client: LunosClient,
        request: ChatRequest,
        decode: Callable[[StreamEvent], ChatDelta | None],
    ) -> None:
        self._client = client
        self._decode = decode
        self.request = request
        self.request_id: str | None = None
        self.started = False
        self.finished = False
        self.usage: Usage | None = None

    def on_event(self, event: StreamEvent) -> ChatDelta | None:
        if event.request_id is not None:
            self.request_id = event.request_id
        try:
            delta = self._decode(event)
        except WireFormatError as exc:  # the codec quotes the event: it may echo the key
            scrub_error(exc, self._client.transport.secrets)
            raise
        if delta is None:
            return None
        if not self.started:
            self.started = True
            delta.request_id = self.request_id
        if delta.finish_reason is not None:
            self.finished = True
        if delta.usage is not None:
            self.usage = delta.usage
            self._client._price_usage(self.request.model, delta.usage)
        return delta

    def check_complete(self) -> None:
        """After the terminator: a stream that never gave a finish reason is cut short.

        A gateway whose upstream dies mid-answer may still close the stream politely with
        ``[DONE]`` / ``message_stop``; the missing finish reason is the only sign.
        """
        if not self.finished:
            raise StreamTruncatedError(
                "The Lunos stream ended with its terminator but never said why the answer "
                "stopped (no finish_reason / stop_reason): the upstream answer was probably "
                "cut, so it is not returned as complete."
            )

    def report(self) -> None:
        if self.usage is not None:
            self._client._report_usage(self.request.model, self.usage)


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
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
        config: LunosConfig | None = None,
        gate_parameters: bool = True,
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
            )
        self.config = config
        #: Drop optional parameters the model's catalog entry does not list (catalog.gating).
        self.gate_parameters = gate_parameters
        self.transport = Transport(
            config, http_client=http_client, http_async_client=http_async_client
        )

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
            scrub_error(exc, self.transport.secrets)  # the codec quotes the body
            raise APIResponseValidationError(
                str(exc), status_code=response.status_code, request_id=response.request_id
            ) from exc
        result.request_id = response.request_id
        return result

    def _price_usage(self, model: str, usage: Usage) -> None:
        """Fill ``usage.cost`` from the catalog when the server did not report it."""
        if usage.cost is None:
            estimator = _current_cost_estimator()
            if estimator is not None:
                usage.cost = estimator(self, model, usage)

    def _report_usage(self, model: str, usage: Usage) -> None:
        for listener in tuple(_usage_listeners):
            listener(model, self.config.app_id, usage)

    def _finish_usage(self, model: str, usage: Usage | None) -> None:
        if usage is None:
            return
        self._price_usage(model, usage)
        self._report_usage(model, usage)

    def _gate(self, request: ChatRequest, api: Api) -> ChatRequest:
        """Drop parameters the model does not support (see :mod:`.catalog.gating`)."""
        if not self.gate_parameters:
            return request
        from .catalog.gating import gate_request

        return gate_request(self, request, api)

    async def _agate(self, request: ChatRequest, api: Api) -> ChatRequest:
        """Async :meth:`_gate`; also warms the catalog so pricing never blocks the loop."""
        if not self.gate_parameters:
            from .catalog import alookup_model

            await alookup_model(self, request.model)
            return request
        from .catalog.gating import agate_request

        return await agate_request(self, request, api)

    def _prepare(self, request: ChatRequest, api: Api) -> tuple[ChatRequest, dict[str, Any]]:
        """Encode (which validates), then gate: the request and body to send.

        Encoding first rejects bad input before any I/O, including the catalog fetch that
        gating may do; the body is encoded again only when gating changed the request.
        """
        body = self.encode(request, api)
        gated = self._gate(request, api)
        return (gated, body) if gated is request else (gated, self.encode(gated, api))

    async def _aprepare(self, request: ChatRequest, api: Api) -> tuple[ChatRequest, dict[str, Any]]:
        """Async :meth:`_prepare`."""
        body = self.encode(request, api)
        gated = await self._agate(request, api)
        return (gated, body) if gated is request else (gated, self.encode(gated, api))

    def _fallback(self, request: ChatRequest, error: APIStatusError) -> ChatRequest | None:
        fallback = request.fallback_model
        if fallback and fallback != request.model and _is_model_unavailable(error):
            return dataclasses.replace(request, model=fallback)
        return None

    def chat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> ChatResult:
        """One non-streamed chat call. Retries happen in the transport, never here."""
        path, base = self._route(api)
        request.stream = False
        request, body = self._prepare(request, api)
        try:
            response = self.transport.request(
                "POST", path, body=body, headers=self._headers(base, headers)
            )
        except APIStatusError as exc:
            retry = self._fallback(request, exc)
            if retry is None:
                raise
            return self.chat(retry, api=api, headers=headers)
        result = self._decode_result(api, response)
        self._finish_usage(request.model, result.usage)
        return result

    async def achat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> ChatResult:
        path, base = self._route(api)
        request.stream = False
        request, body = await self._aprepare(request, api)
        try:
            response = await self.transport.arequest(
                "POST", path, body=body, headers=self._headers(base, headers)
            )
        except APIStatusError as exc:
            retry = self._fallback(request, exc)
            if retry is None:
                raise
            return await self.achat(retry, api=api, headers=headers)
        result = self._decode_result(api, response)
        self._finish_usage(request.model, result.usage)
        return result

    def _stream_decoder(self, api: Api) -> Callable[[StreamEvent], ChatDelta | None]:
        if api == "messages":
            decoder = messages.MessagesStreamDecoder()
            return lambda ev: decoder.feed(ev.event, ev.data)
        chunks = chat_completions.ChunkDecoder()  # per stream: places index-less tool calls
        return lambda ev: chunks.feed(ev.data)

    def _stream_session(self, request: ChatRequest, api: Api) -> _StreamSession:
        return _StreamSession(self, request, self._stream_decoder(api))

    def stream_chat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[ChatDelta]:
        """Yield neutral deltas as they arrive; raises instead of ever ending short."""
        path, base = self._route(api)
        request.stream = True
        request, body = self._prepare(request, api)
        session = self._stream_session(request, api)
        events = self.transport.stream(
            path,
            body,
            kind="messages" if api == "messages" else "chat",
            headers=self._headers(base, headers),
        )
        try:
            for event in events:
                delta = session.on_event(event)
                if delta is not None:
                    yield delta
            session.check_complete()
        except APIStatusError as exc:
            retry = None if session.started else self._fallback(request, exc)
            if retry is None:
                raise
            yield from self.stream_chat(retry, api=api, headers=headers)
        finally:
            try:
                events.close()  # type: ignore[attr-defined]
            finally:
                session.report()

    async def astream_chat(
        self,
        request: ChatRequest,
        *,
        api: Api = "chat_completions",
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[ChatDelta]:
        path, base = self._route(api)
        request.stream = True
        request, body = await self._aprepare(request, api)
        session = self._stream_session(request, api)
        events = self.transport.astream(
            path,
            body,
            kind="messages" if api == "messages" else "chat",
            headers=self._headers(base, headers),
        )
        try:
            async for event in events:
                delta = session.on_event(event)
                if delta is not None:
                    yield delta
            session.check_complete()
        except APIStatusError as exc:
            retry = None if session.started else self._fallback(request, exc)
            if retry is None:
                raise
            async for delta in self.astream_chat(retry, api=api, headers=headers):
                yield delta
        finally:
            try:
                await events.aclose()  # type: ignore[attr-defined]
            finally:
                session.report()

    # ------------------------------------------------------------------ embeddings

    def embed(self, request: EmbeddingRequest) -> EmbeddingResult:
        response = self.transport.request(
            "POST", "/embeddings", body=embeddings.encode_request(request)
        )
        result = self._decode_embeddings(response)
        self._finish_usage(request.model, result.usage)
        return result

    async def aembed(self, request: EmbeddingRequest) -> EmbeddingResult:
        from .catalog import alookup_model

        await alookup_model(self, request.model)  # warm prices; pricing must not block the loop
        response = await self.transport.arequest(
            "POST", "/embeddings", body=embeddings.encode_request(request)
        )
        result = self._decode_embeddings(response)
        self._finish_usage(request.model, result.usage)
        return result

    def _decode_embeddings(self, response: JSONResponse) -> EmbeddingResult:
        try:
            return embeddings.decode_response(response.data)
        except WireFormatError as exc:
            scrub_error(exc, self.transport.secrets)  # the codec quotes the body
            raise APIResponseValidationError(
                str(exc), status_code=response.status_code, request_id=response.request_id
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
