"""OpenTelemetry: every Lunos call as a GenAI span (and metrics), printed by the console exporter.

Shows:

* configuring OpenTelemetry the usual way (a global ``TracerProvider`` and
  ``MeterProvider``) is all it takes: ChatLunos, LunosLLM and a bare ``LunosClient`` emit
  one ``CLIENT`` span per call, with no Lunos-specific setup;
* the spans nest under whatever span is current (here a stand-in for a web request), and
  the W3C ``traceparent`` of the call's span is sent with each HTTP attempt;
* a stream's span covers the whole stream, with its time to first chunk;
* the GenAI metrics (token usage, duration, time to first chunk / per chunk) and the
  ``lunos.client.cost`` counter, read back from an in-memory reader.

Needs ``opentelemetry-sdk`` (the ``cookbook`` extra installs it). Message content is not
recorded unless you opt in (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``);
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` switches to the newest
attribute names (``gen_ai.provider.name`` instead of ``gen_ai.system``).

The file is not called ``opentelemetry.py``: run as a script, it would shadow the package.

Run: ``python cookbook/opentelemetry_spans.py`` — offline against an embedded local server
when ``LUNOS_API_KEY`` is unset, against the real API when it is set.
"""

from __future__ import annotations

from _setup import CHAT_MODEL, connection, section
from llama_index.core.llms import ChatMessage
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from lunos_integrations import ChatLunos, LunosLLM


def main() -> None:
    # What an application does once at start-up (usually with an OTLP exporter instead).
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    kept = InMemorySpanExporter()  # only so this recipe can summarise the spans below
    provider.add_span_processor(SimpleSpanProcessor(kept))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    conn = connection()
    chat = ChatLunos(model=CHAT_MODEL, app_id="cookbook-otel", **conn.kwargs)
    llm = LunosLLM(model=CHAT_MODEL, app_id="cookbook-otel", **conn.kwargs)

    section("spans (console exporter)")
    tracer = trace.get_tracer("cookbook")
    with tracer.start_as_current_span("handle request"):
        chat.invoke("What does a gateway span record?")
        for _ in chat.stream("Stream a short answer, please."):
            pass
        llm.chat([ChatMessage(role="user", content="And from LlamaIndex?")])

    section("summary")
    spans = kept.get_finished_spans()
    names = {span.context.span_id: span.name for span in spans}
    for span in spans:
        if span.name == "handle request":
            continue
        attrs = span.attributes or {}
        parent = names.get(span.parent.span_id) if span.parent else None
        print(
            f"{span.name} | kind {span.kind.name} | child of: {parent} | "
            f"route {attrs.get('lunos.route')} | stream {attrs.get('gen_ai.request.stream')} | "
            f"tokens {attrs.get('gen_ai.usage.input_tokens')} in / "
            f"{attrs.get('gen_ai.usage.output_tokens')} out | "
            f"cost {attrs.get('lunos.usage.cost')} ({attrs.get('lunos.usage.cost_source')})"
        )

    section("metrics")
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = metric.data.data_points
                if all(hasattr(p, "count") for p in points):  # histograms
                    count = sum(p.count for p in points)
                    print(f"{metric.name} [{metric.unit}]: {count} recording(s)")
                else:  # the cost counter
                    total = sum(p.value for p in points)
                    print(f"{metric.name} [{metric.unit}]: total ${total:.6f}")
    provider.shutdown()


if __name__ == "__main__":
    main()
