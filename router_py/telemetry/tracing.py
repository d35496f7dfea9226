"""OpenTelemetry tracing: a span per request, per decision stage and per provider call.

Spans go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set and the OTLP exporter
package is installed; otherwise they are created (for in-process exporters and tests) and dropped."""

from __future__ import annotations

import os
import time
from functools import cache

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

from router_py.routing.request import DecisionRecord

STAGES = ("limits", "exact_cache", "embed", "semantic_cache", "classify", "policy")


@cache
def provider() -> TracerProvider:
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": "llm-router"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter  # type: ignore[import-not-found]

        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return tracer_provider


def add_processor(processor: SpanProcessor) -> None:
    provider().add_span_processor(processor)


def tracer() -> Tracer:
    return provider().get_tracer("llm_router")


def record_decision(record: DecisionRecord) -> None:
    """A `decide` span with a child per stage, placed back in time from the core's timings (the
    decision runs in Rust, in one call, so the spans are written after it returns); a child of
    the current span, if any."""
    ended = time.time_ns()
    cursor = ended - int(record.latency_ms.total * 1e6)
    attributes: dict[str, str | int] = {"llm_router.tier": record.tier, "llm_router.reason": record.reason,
                  "llm_router.policy": record.policy_name, "llm_router.provider": record.provider}
    decide = tracer().start_span("decide", start_time=cursor, attributes=attributes)
    context = trace.set_span_in_context(decide)
    for name in STAGES:
        took = int(getattr(record.latency_ms, name) * 1e6)
        if took == 0:
            continue
        tracer().start_span(f"decide.{name}", context=context, start_time=cursor).end(end_time=cursor + took)
        cursor += took
    decide.end(end_time=ended)
