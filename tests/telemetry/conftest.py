"""In-memory OpenTelemetry SDK providers for each test (never the global ones).

Each test gets its own tracer and meter provider, handed to a
:class:`~lunos_integrations.telemetry.Telemetry`, so tests share no state and run under
pytest-xdist; the global providers stay unset (the default telemetry stays silent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the test extra installs opentelemetry-sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lunos_integrations.client import LunosClient
from lunos_integrations.telemetry import Telemetry
from lunos_integrations.testing import LocalLunosServer

#: A key no attribute, event or message may ever contain.
MARKER_KEY = "sk-lunos-OTEL-MARKER-7f3a9c"


@dataclasses.dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def telemetry(self, **kwargs: Any) -> Telemetry:
        return Telemetry(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs
        )

    def client(self, server: LocalLunosServer, *, telemetry: Any = None, **kw: Any) -> LunosClient:
        kw.setdefault("max_retries", 2)
        return LunosClient(
            api_key=server.api_key,
            base_url=server.base_url,
            observers=(telemetry or self.telemetry(),),
            **kw,
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self) -> ReadableSpan:
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metrics(self) -> dict[str, list[Any]]:
        """Metric name -> its data points."""
        out: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out.setdefault(metric.name, []).extend(metric.data.data_points)
        return out


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    for name in (
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS",
    ):
        monkeypatch.delenv(name, raising=False)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(exporter, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def server() -> Iterator[LocalLunosServer]:
    with LocalLunosServer(api_key=MARKER_KEY) as srv:
        yield srv
