"""Every attribute and metric name the telemetry records, and which convention version.

One module holds the names so the README table, the span observer and the tests cannot
drift apart. It imports nothing from OpenTelemetry: the names are plain strings, so they
can be read (and the package imported) without the ``otel`` extra.

Two vocabularies exist because the GenAI conventions renamed things after v1.36.0
(``gen_ai.system`` became ``gen_ai.provider.name``; message content moved from span events
to the ``gen_ai.input.messages`` / ``gen_ai.output.messages`` attributes). The conventions
ask instrumentations to keep the v1.36 names unless ``OTEL_SEMCONV_STABILITY_OPT_IN``
lists ``gen_ai_latest_experimental``; :func:`semconv_mode` reads that, and a
:class:`~lunos_integrations.telemetry.Telemetry` can be told either one explicitly.
"""

from __future__ import annotations

import os
from typing import Literal

__all__ = ["SemconvMode", "semconv_mode"]

SemconvMode = Literal["latest", "legacy"]

#: The value of ``OTEL_SEMCONV_STABILITY_OPT_IN`` that selects the latest GenAI names.
LATEST_OPT_IN = "gen_ai_latest_experimental"
#: ``gen_ai.provider.name`` / ``gen_ai.system`` value: the gateway is what we talk to.
PROVIDER = "lunos"
#: The instrumentation scope (tracer and meter name).
SCOPE = "lunos_integrations"


def semconv_mode(value: str | None = None) -> SemconvMode:
    """``"latest"`` when the opt-in list names ``gen_ai_latest_experimental``, else legacy.

    ``value`` defaults to the environment variable; the list is comma-separated and
    entries are compared without surrounding spaces, case-insensitively.
    """
    if value is None:
        value = os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    entries = {part.strip().lower() for part in value.split(",")}
    return "latest" if LATEST_OPT_IN in entries else "legacy"


# --------------------------------------------------------------------------- gen_ai.*
OPERATION = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"  # latest
SYSTEM = "gen_ai.system"  # v1.36 and before
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_TOP_K = "gen_ai.request.top_k"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_STOP = "gen_ai.request.stop_sequences"
REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
REQUEST_STREAM = "gen_ai.request.stream"
OUTPUT_TYPE = "gen_ai.output.type"
EMBEDDINGS_DIMENSIONS = "gen_ai.embeddings.dimension.count"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TTFC = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT = "gen_ai.usage.input_tokens"
USAGE_OUTPUT = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION = "gen_ai.usage.cache_creation.input_tokens"  # legacy registry name
USAGE_CACHE_WRITE = "gen_ai.usage.cache_write.input_tokens"  # latest (renamed from the above)
USAGE_REASONING = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
# content, latest: JSON attributes on the span
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
# content, legacy: span events carrying one JSON attribute each
EVENT_PROMPT = "gen_ai.content.prompt"
EVENT_COMPLETION = "gen_ai.content.completion"
PROMPT = "gen_ai.prompt"
COMPLETION = "gen_ai.completion"

# --------------------------------------------------------------------------- general
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
RESEND_COUNT = "http.request.resend_count"
STATUS_CODE = "http.response.status_code"

# --------------------------------------------------------------------------- lunos.*
ROUTE = "lunos.route"
APP_ID = "lunos.app_id"
REQUEST_ID = "lunos.request_id"
UPSTREAM_PROVIDER = "lunos.upstream.provider"
COST = "lunos.usage.cost"
COST_SOURCE = "lunos.usage.cost_source"
FALLBACK_MODEL = "lunos.fallback_model"
DROPPED_PARAMETERS = "lunos.dropped_parameters"
RATE_LIMIT_WAIT = "lunos.rate_limit.wait_seconds"
STREAM_CLOSED = "lunos.stream.closed_early"
CONTENT_TRUNCATED = "lunos.content.truncated"

# --------------------------------------------------------------------------- metrics
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_DURATION = "gen_ai.client.operation.duration"
METRIC_TTFC = "gen_ai.client.operation.time_to_first_chunk"
METRIC_TPOC = "gen_ai.client.operation.time_per_output_chunk"
METRIC_COST = "lunos.client.cost"

#: Bucket boundaries the conventions advise for token counts (powers of 4).
TOKEN_BUCKETS = tuple(float(4**i) for i in range(14))
#: ... and for durations in seconds (0.01 s doubling up to 81.92 s).
DURATION_BUCKETS = tuple(round(0.01 * 2**i, 2) for i in range(14))
#: Chunk-to-chunk gaps are short: finer buckets below a second.
CHUNK_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
