"""The GenAI client metrics and a cost counter, made once per meter provider.

Instruments are created when a :class:`~.Telemetry` first sees a configured meter
provider and reused for every call (creating them per call would register duplicates).
Each recording carries the same low-cardinality attributes: operation, provider, request
and response model, route, app id, server address/port and, on failure, ``error.type``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.metrics import MeterProvider

from .._version import __version__
from . import names as N

__all__ = ["Instruments"]


class Instruments:
    """The five instruments of one meter provider."""

    __slots__ = ("cost", "duration", "time_per_chunk", "time_to_first_chunk", "token_usage")

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter(N.SCOPE, __version__)
        self.token_usage = meter.create_histogram(
            N.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Tokens used per call, by gen_ai.token.type (input, output).",
            explicit_bucket_boundaries_advisory=N.TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            N.METRIC_DURATION,
            unit="s",
            description="Duration of one logical call, all attempts and the whole stream.",
            explicit_bucket_boundaries_advisory=N.DURATION_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            N.METRIC_TTFC,
            unit="s",
            description="From the call's start to its first streamed delta.",
            explicit_bucket_boundaries_advisory=N.DURATION_BUCKETS,
        )
        self.time_per_chunk = meter.create_histogram(
            N.METRIC_TPOC,
            unit="s",
            description="Time between one streamed delta and the next.",
            explicit_bucket_boundaries_advisory=N.CHUNK_BUCKETS,
        )
        self.cost = meter.create_counter(
            N.METRIC_COST,
            unit="USD",
            description="Cost of calls in US dollars, as reported by Lunos or priced from "
            "its catalog (lunos.usage.cost_source).",
        )

    def record_call(
        self,
        attributes: Mapping[str, Any],
        duration: float,
        tokens: tuple[int, int] | None,
        cost: float | None,
        cost_source: str | None,
        chunk_gaps: list[float],
        first_chunk: float | None,
    ) -> None:
        """Everything of one finished call, in one place (chunk gaps were buffered)."""
        self.duration.record(duration, attributes)
        if first_chunk is not None:
            self.time_to_first_chunk.record(first_chunk, attributes)
        for gap in chunk_gaps:
            self.time_per_chunk.record(gap, attributes)
        if tokens is not None:
            self.token_usage.record(tokens[0], {**attributes, N.TOKEN_TYPE: "input"})
            self.token_usage.record(tokens[1], {**attributes, N.TOKEN_TYPE: "output"})
        if cost is not None:
            self.cost.add(cost, {**attributes, N.COST_SOURCE: cost_source or "server"})
