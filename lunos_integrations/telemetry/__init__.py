"""OpenTelemetry GenAI spans and metrics for every Lunos call (the ``otel`` extra).

A :class:`Telemetry` is an :data:`~..observe.ObserverFactory`: handed to a client
(``LunosClient(observers=(Telemetry(...),))``) or installed for a context
(``with watching(Telemetry(...))``), it makes one span observer per logical call. Every
client also carries :data:`DEFAULT_TELEMETRY`, which follows the *global* tracer and
meter providers, so ChatLunos, LunosLLM, the embeddings classes and a bare
``LunosClient`` all emit the same spans as soon as an application configures
OpenTelemetry, with no code of ours to call.

Why it costs nothing when unused: this module imports no OpenTelemetry code. A call asks
:class:`Telemetry` for an observer; the default one first looks in ``sys.modules``: an
application that configured a provider has imported ``opentelemetry.trace`` (or
``.metrics``), so when neither is there the answer is "no observer" without importing
anything. Otherwise it compares the global providers with the API's placeholders (the
proxy that stands in until one is set, and the no-op ones) and only imports
:mod:`.spans` when a real one is configured. ``opentelemetry-api`` being absent reads as
"nothing configured".

Switching it off: ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` listing ``lunos`` (the
variable OpenTelemetry's own instrumentations honour), or ``Telemetry(enabled=False)`` in
a client's ``observers`` (a client handed any :class:`Telemetry` uses that one instead of
the default).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from ..observe import CallInfo, CallObserver, ObserverFactory, context_factories

if TYPE_CHECKING:
    from .names import SemconvMode
    from .spans import Settings

__all__ = ["DEFAULT_TELEMETRY", "Telemetry", "with_default_telemetry"]

#: Default cap on each content attribute, in UTF-8 bytes of its JSON.
MAX_CONTENT_BYTES = 16_384


def _disabled_by_env() -> bool:
    names = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return any(part.strip().lower() in ("lunos", "lunos_integrations") for part in names.split(","))


class Telemetry:
    """Makes the span observer of each call; see the module docstring.

    ``tracer_provider`` / ``meter_provider``: ``None`` follows the global ones (read at
    each call, so configuring OpenTelemetry after the client was built works).
    ``capture_content``: record prompts and answers (``None``: the
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` variable, off when unset), each
    content attribute cut to ``max_content_bytes``. ``propagate``: send the span's W3C
    ``traceparent`` with each HTTP attempt. ``semconv``: ``"latest"`` or ``"legacy"``
    attribute names (``None``: ``OTEL_SEMCONV_STABILITY_OPT_IN``, see :mod:`.names`).
    """

    __slots__ = (
        "_api",
        "_cache",
        "_default",
        "capture_content",
        "enabled",
        "max_content_bytes",
        "meter_provider",
        "propagate",
        "semconv",
        "tracer_provider",
    )

    def __init__(
        self,
        *,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        capture_content: bool | None = None,
        max_content_bytes: int = MAX_CONTENT_BYTES,
        propagate: bool = True,
        semconv: SemconvMode | None = None,
        enabled: bool = True,
    ) -> None:
        if isinstance(max_content_bytes, bool) or not isinstance(max_content_bytes, int):
            raise TypeError(f"max_content_bytes must be an int, got {max_content_bytes!r}")
        if max_content_bytes < 64:
            raise ValueError(f"max_content_bytes must be at least 64, got {max_content_bytes}")
        if semconv not in (None, "latest", "legacy"):
            raise ValueError(f"semconv must be 'latest', 'legacy' or None, got {semconv!r}")
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.capture_content = capture_content
        self.max_content_bytes = max_content_bytes
        self.propagate = propagate
        self.semconv = semconv
        self.enabled = enabled
        self._default = False
        self._api: tuple[Any, Any] | None = None
        #: (tracer provider, meter provider, their Settings) of the last resolution.
        self._cache: tuple[Any, Any, Settings | None] | None = None

    def __repr__(self) -> str:
        kind = "default" if self._default else "explicit"
        return f"Telemetry({kind}, enabled={self.enabled})"

    def __reduce__(self) -> tuple[Any, ...]:
        if self._default:
            return (_default, ())
        return (
            _rebuild,
            (
                self.tracer_provider,
                self.meter_provider,
                self.capture_content,
                self.max_content_bytes,
                self.propagate,
                self.semconv,
                self.enabled,
            ),
        )

    def __call__(self, info: CallInfo) -> CallObserver | None:
        if not self.enabled:
            return None
        if self._default:
            if "opentelemetry.trace" not in sys.modules and (
                "opentelemetry.metrics" not in sys.modules
            ):
                return None  # nobody configured OpenTelemetry in this process
            if any(isinstance(f, Telemetry) and f is not self for f in context_factories()):
                return None  # the context installed its own: one span per call
        settings = self._settings()
        if settings is None:
            return None
        from .spans import SpanObserver

        return SpanObserver(info, settings)

    def _settings(self) -> Settings | None:
        """The tracer and instruments for the current providers (cached while they hold).

        The environment variables (content capture, semconv opt-in) are read when a pair
        of providers is first seen, like the SDK reads its own at start-up: a call does
        not pay for reading them again.
        """
        api = self._api
        if api is None:
            try:
                from opentelemetry import metrics, trace
            except ImportError:  # the otel extra is not installed
                return None
            api = self._api = (trace, metrics)
        tracer_provider = self.tracer_provider or api[0].get_tracer_provider()
        meter_provider = self.meter_provider or api[1].get_meter_provider()
        cache = self._cache
        if cache is not None and cache[0] is tracer_provider and cache[1] is meter_provider:
            return cache[2]
        settings = _resolve(self, tracer_provider, meter_provider)
        self._cache = (tracer_provider, meter_provider, settings)
        return settings


def _resolve(telemetry: Telemetry, tracer_provider: Any, meter_provider: Any) -> Settings | None:
    """Settings for these providers, or ``None`` when both are placeholders."""
    from opentelemetry import trace
    from opentelemetry.metrics import NoOpMeterProvider

    traced = not isinstance(tracer_provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    # the API's stand-in until a meter provider is set is private; its name is stable
    metered = not isinstance(meter_provider, NoOpMeterProvider) and (
        type(meter_provider).__name__ != "_ProxyMeterProvider"
    )
    if not traced and not metered:
        return None  # both placeholders: nothing of ours is imported
    if telemetry._default and _disabled_by_env():
        return None  # read with the providers, not per call (like the SDK reads its own)

    from .._version import __version__
    from .metrics import Instruments
    from .names import SCOPE, semconv_mode
    from .spans import Settings

    tracer = tracer_provider.get_tracer(SCOPE, __version__) if traced else None
    instruments = Instruments(meter_provider) if metered else None
    capture = telemetry.capture_content
    if capture is None:
        from .content import capture_from_env

        capture = capture_from_env()
    return Settings(
        tracer=tracer,
        instruments=instruments,
        mode=telemetry.semconv or semconv_mode(),
        capture_content=capture,
        max_content_bytes=telemetry.max_content_bytes,
        propagate=telemetry.propagate,
    )


def _rebuild(*args: Any) -> Telemetry:
    tracer, meter, capture, max_bytes, propagate, semconv, enabled = args
    return Telemetry(
        tracer_provider=tracer,
        meter_provider=meter,
        capture_content=capture,
        max_content_bytes=max_bytes,
        propagate=propagate,
        semconv=semconv,
        enabled=enabled,
    )


def _default() -> Telemetry:
    return DEFAULT_TELEMETRY


def _make_default() -> Telemetry:
    telemetry = Telemetry()
    telemetry._default = True
    return telemetry


#: Follows the global providers; every client carries it unless handed a Telemetry.
DEFAULT_TELEMETRY = _make_default()


def with_default_telemetry(observers: tuple[ObserverFactory, ...]) -> tuple[ObserverFactory, ...]:
    """``observers`` plus :data:`DEFAULT_TELEMETRY`, unless they already hold a Telemetry."""
    if any(isinstance(f, Telemetry) for f in observers):
        return observers
    return (*observers, DEFAULT_TELEMETRY)
