"""One ``CLIENT`` span per logical call, fed by the :mod:`..observe` hooks.

Imported only once OpenTelemetry is known to be importable and a provider is configured
(see :class:`~lunos_integrations.telemetry.Telemetry`), so the package itself never pays
for it. The span starts when the call starts, in the caller's current context (so it nests
under a framework's or a web request's span), is never made current itself (a stream's
generator may be resumed in another context, where detaching would fail), and ends in
:meth:`SpanObserver.on_end`: after the last attempt, or after a stream's terminator.

Secrets: no attribute is built from the key, a header or the full URL; ``server.address``
comes from the URL's host alone; error text passes the client's secrets scrubber and no
stack trace is recorded (its source lines are the caller's code, which may hold a key).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode, Tracer

from ..errors import APIStatusError
from ..observe import CallInfo, CallObserver
from ..redact import NO_SECRETS, Secrets
from ..wire.types import ChatDelta, ChatRequest, ChatResult, EmbeddingRequest, Usage
from . import names as N
from .metrics import Instruments

__all__ = ["Settings", "SpanObserver"]

#: Error descriptions are cut here: a status message is for humans scanning a trace.
_MAX_ERROR_TEXT = 500


@dataclasses.dataclass(frozen=True)
class Settings:
    """What one :class:`~lunos_integrations.telemetry.Telemetry` resolved for its calls."""

    tracer: Tracer | None
    instruments: Instruments | None
    mode: N.SemconvMode
    capture_content: bool
    max_content_bytes: int
    propagate: bool


@functools.lru_cache(maxsize=64)
def _server(base_url: str) -> dict[str, Any]:
    """``server.address`` / ``server.port`` of a base URL (cached: clients reuse theirs)."""
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return {}
    if not host:
        return {}
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return {N.SERVER_ADDRESS: host, N.SERVER_PORT: port}


def _request_attributes(request: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(request, ChatRequest):
        for key, value in (
            (N.REQUEST_MAX_TOKENS, request.max_tokens),
            (N.REQUEST_TEMPERATURE, request.temperature),
            (N.REQUEST_TOP_P, request.top_p),
            (N.REQUEST_TOP_K, request.top_k),
            (N.REQUEST_SEED, request.seed),
            (N.REQUEST_FREQUENCY_PENALTY, request.frequency_penalty),
            (N.REQUEST_PRESENCE_PENALTY, request.presence_penalty),
        ):
            if value is not None:
                out[key] = value
        if request.stop:
            out[N.REQUEST_STOP] = list(request.stop)
        if request.response_format is not None and request.response_format.type != "text":
            out[N.OUTPUT_TYPE] = "json"
    elif isinstance(request, EmbeddingRequest) and request.dimensions is not None:
        out[N.EMBEDDINGS_DIMENSIONS] = request.dimensions
    return out


def _changed_fields(before: Any, after: Any) -> list[str]:
    """Request fields a resend cleared (what a learned parameter drop removed)."""
    if not dataclasses.is_dataclass(before) or type(before) is not type(after):
        return []
    gone = []
    for field in dataclasses.fields(before):
        old, new = getattr(before, field.name), getattr(after, field.name)
        if old is not new and old != new:
            gone.append(field.name)
    extra_before = getattr(before, "extra_body", None)
    extra_after = getattr(after, "extra_body", None)
    if extra_before and extra_after is not None:  # a dropped extra_body key
        if "extra_body" in gone:
            gone.remove("extra_body")
        gone.extend(k for k in extra_before if k not in extra_after)
    return gone


class SpanObserver(CallObserver):
    """The span (and metric recordings) of one call; see the module docstring.

    Why attributes are gathered in a dict and set once, in :meth:`on_end`: each
    ``set_attribute`` on an SDK span takes a lock and validates its value, and a call
    learns its attributes in a dozen places; one ``set_attributes`` costs a fraction of
    that. The per-delta path (:meth:`on_delta`) does no more than a few attribute checks,
    and reads the clock only when metrics need the gaps between chunks.
    """

    __slots__ = (
        "_attempts",
        "_attrs",
        "_capture",
        "_chunk_gaps",
        "_common",
        "_deltas",
        "_dropped",
        "_error_type",
        "_finish",
        "_first_chunk",
        "_info",
        "_last_chunk",
        "_request",
        "_response_model",
        "_secrets",
        "_settings",
        "_start",
        "_text",
        "_traceparent",
        "_usage",
        "_wait",
        "span",
    )

    def __init__(self, info: CallInfo, settings: Settings) -> None:
        self._info, self._settings = info, settings
        self._request = info.request
        self._secrets: Secrets = info.secrets or NO_SECRETS
        self._attempts = 0
        self._first_chunk: float | None = None
        self._last_chunk = 0.0
        self._chunk_gaps: list[float] | None = [] if settings.instruments is not None else None
        self._finish: list[str] = []
        self._response_model: str | None = None
        self._usage: Usage | None = None
        self._error_type: str | None = None
        self._dropped: list[str] = []
        self._text: list[str] = []
        self._deltas: list[ChatDelta] = []
        self._wait = 0.0
        self._attrs: dict[str, Any] = {}
        common: dict[str, Any] = {
            N.OPERATION: info.operation,
            (N.PROVIDER_NAME if settings.mode == "latest" else N.SYSTEM): N.PROVIDER,
            N.ROUTE: info.route,
            **_server(info.base_url),
        }
        if info.model:
            common[N.REQUEST_MODEL] = info.model
        if info.app_id:
            common[N.APP_ID] = info.app_id
        #: What spans and metrics share (metrics add the response model and error type).
        self._common = common
        self._traceparent: dict[str, str] | None = None
        if settings.tracer is None:
            self.span: Span = trace.INVALID_SPAN
            self._capture = False
        else:
            attributes = {**common, **_request_attributes(info.request)}
            if info.operation == "chat":
                attributes[N.REQUEST_STREAM] = info.stream
            name = f"{info.operation} {info.model}" if info.model else info.operation
            span = settings.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
            self.span = span
            self._capture = settings.capture_content and span.is_recording()
            context = span.get_span_context()
            if settings.propagate and context.is_valid:
                self._traceparent = _trace_headers(context)
            if self._capture:
                self._record_input()
        self._start = time.perf_counter()

    # ------------------------------------------------------------------ hooks

    def on_attempt(self, attempt: int, headers: MutableMapping[str, str]) -> None:
        self._attempts += 1
        if self._traceparent is not None:
            headers.update(self._traceparent)

    def on_response(self, attempt: int, status: int, headers: Mapping[str, str]) -> None:
        attrs = self._attrs
        if status >= 400:  # a success needs no status on a GenAI span; a failure does
            attrs[N.STATUS_CODE] = status
        else:
            attrs.pop(N.STATUS_CODE, None)  # a retry that succeeded
        request_id = headers.get("x-request-id") or headers.get("request-id")
        if request_id:
            attrs[N.REQUEST_ID] = self._secrets.scrub(request_id)

    def on_retarget(self, request: Any, reason: str) -> None:
        if reason == "fallback_model":
            self._attrs[N.FALLBACK_MODEL] = request.model
        elif reason.startswith("dropped"):
            _, _, key = reason.partition(":")
            self._dropped.extend([key] if key else _changed_fields(self._request, request))
            self._attrs[N.DROPPED_PARAMETERS] = list(self._dropped)
        self._request = request

    def on_delta(self, delta: ChatDelta) -> None:
        gaps = self._chunk_gaps
        if self._first_chunk is None:
            self._last_chunk = now = time.perf_counter()
            self._first_chunk = now - self._start
            self._from_reply(delta)
        elif gaps is not None:
            now = time.perf_counter()
            gaps.append(now - self._last_chunk)
            self._last_chunk = now
        if delta.finish_reason:
            self._finish.append(delta.finish_reason)
        if delta.usage is not None:
            self._usage = delta.usage
            self._from_reply(delta)  # the closing delta names the model on some routes
        if self._capture:
            if delta.text:
                self._text.append(delta.text)
            if delta.tool_calls:
                self._deltas.append(delta)

    def on_rate_limit_wait(self, seconds: float) -> None:
        """Seconds the transport's rate governor held one send's attempts (per send)."""
        self._wait += seconds
        self._attrs[N.RATE_LIMIT_WAIT] = self._wait

    def on_result(self, model: str, usage: Usage | None, result: Any) -> None:
        if usage is not None:
            self._usage = usage
        if result is not None:
            self._from_reply(result)
        if isinstance(result, ChatResult) and result.finish_reason:
            self._finish = [result.finish_reason]
        if self._capture:
            self._record_output(result if isinstance(result, ChatResult) else None)

    def on_error(self, error: BaseException) -> None:
        if isinstance(error, GeneratorExit):  # the caller closed the stream: not a failure
            self._attrs[N.STREAM_CLOSED] = True
            return
        self._error_type = type(error).__qualname__
        self._attrs[N.ERROR_TYPE] = self._error_type
        if isinstance(error, APIStatusError):
            self._attrs[N.STATUS_CODE] = error.status_code
        text = self._secrets.scrub(str(error))[:_MAX_ERROR_TEXT]
        self.span.set_status(Status(StatusCode.ERROR, text))
        self.span.add_event(
            "exception", {"exception.type": self._error_type, "exception.message": text}
        )

    def on_end(self) -> None:
        duration = time.perf_counter() - self._start
        attrs = self._attrs
        if self._attempts > 1:
            attrs[N.RESEND_COUNT] = self._attempts - 1
        if self._first_chunk is not None:
            attrs[N.RESPONSE_TTFC] = self._first_chunk
        if self._finish:
            attrs[N.RESPONSE_FINISH_REASONS] = self._finish
        if self._usage is not None:
            attrs.update(self._usage_attributes(self._usage))
        if self._settings.tracer is not None:
            self.span.set_attributes(attrs)
            self.span.end()
        instruments = self._settings.instruments
        if instruments is not None:
            metric_attrs = dict(self._common)
            if self._response_model:
                metric_attrs[N.RESPONSE_MODEL] = self._response_model
            if self._error_type:
                metric_attrs[N.ERROR_TYPE] = self._error_type
            usage = self._usage
            instruments.record_call(
                metric_attrs,
                duration,
                (usage.input_tokens, usage.output_tokens) if usage is not None else None,
                usage.cost if usage is not None else None,
                _cost_source(usage),
                self._chunk_gaps or [],
                self._first_chunk if self._info.stream else None,
            )

    # ------------------------------------------------------------------ helpers

    def _from_reply(self, reply: Any) -> None:
        """Response model, id and upstream provider from a delta or a whole result."""
        attrs = self._attrs
        model = getattr(reply, "model", None)
        if model:
            self._response_model = attrs[N.RESPONSE_MODEL] = model
        reply_id = getattr(reply, "id", None)
        if reply_id:
            attrs[N.RESPONSE_ID] = reply_id
        provider = getattr(reply, "provider", None)
        if provider:
            attrs[N.UPSTREAM_PROVIDER] = provider

    def _usage_attributes(self, usage: Usage) -> dict[str, Any]:
        out: dict[str, Any] = {
            N.USAGE_INPUT: usage.input_tokens,
            N.USAGE_OUTPUT: usage.output_tokens,
        }
        if usage.cache_read_tokens:
            out[N.USAGE_CACHE_READ] = usage.cache_read_tokens
        if usage.cache_creation_tokens:
            latest = self._settings.mode == "latest"
            out[N.USAGE_CACHE_WRITE if latest else N.USAGE_CACHE_CREATION] = (
                usage.cache_creation_tokens
            )
        if usage.reasoning_tokens:
            out[N.USAGE_REASONING] = usage.reasoning_tokens
        if usage.cost is not None:
            out[N.COST] = usage.cost
            out[N.COST_SOURCE] = _cost_source(usage)
        return out

    def _record_input(self) -> None:
        from .content import fit, input_messages

        request = self._info.request
        if not isinstance(request, ChatRequest):
            return
        system, others = input_messages(request, self._secrets)
        limit = self._settings.max_content_bytes
        if self._settings.mode == "latest":
            text, cut = fit(others, limit)
            self._attrs[N.INPUT_MESSAGES] = text
            if system:
                sys_text, sys_cut = fit(system, limit)
                self._attrs[N.SYSTEM_INSTRUCTIONS] = sys_text
                cut = cut or sys_cut
        else:
            prompt = ([{"role": "system", "parts": system}] if system else []) + others
            text, cut = fit(prompt, limit)
            self.span.add_event(N.EVENT_PROMPT, {N.PROMPT: text})
        if cut:
            self._attrs[N.CONTENT_TRUNCATED] = True

    def _record_output(self, result: ChatResult | None) -> None:
        from .content import fit, output_messages, stream_tool_calls

        if self._info.operation != "chat":
            return
        messages = output_messages(
            result, "".join(self._text), stream_tool_calls(self._deltas), self._secrets
        )
        if result is None and self._finish:
            messages[0]["finish_reason"] = self._finish[-1]
        text, cut = fit(messages, self._settings.max_content_bytes)
        if self._settings.mode == "latest":
            self._attrs[N.OUTPUT_MESSAGES] = text
        else:
            self.span.add_event(N.EVENT_COMPLETION, {N.COMPLETION: text})
        if cut:
            self._attrs[N.CONTENT_TRUNCATED] = True


def _trace_headers(context: SpanContext) -> dict[str, str]:
    """The W3C ``traceparent`` (and ``tracestate``) of a span, formatted once per call."""
    headers = {
        "traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-"
        f"{int(context.trace_flags):02x}"
    }
    if context.trace_state:
        headers["tracestate"] = context.trace_state.to_header()
    return headers


def _cost_source(usage: Usage | None) -> str | None:
    if usage is None or usage.cost is None:
        return None
    return getattr(usage, "cost_source", None) or "server"
