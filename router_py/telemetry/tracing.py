"""OpenTelemetry tracing: a span per request, per decision stage and per provider call.

Spans go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set and the OTLP exporter
package is installed; otherwise they are created (for in-process exporters and tests) and dropped."""

from __future__ import annotations

import os
import time
from functools import cache

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, Tracer

from router_py.routing.request import StageRecord


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


def record_stages(parent: Span, stages: StageRecord, ended_ns: int) -> None:
    """Child spans for the decision's stages, placed back in time from the core's timings (the
    decision runs in Rust, in one call, so the spans are written after it returns)."""
    context = trace.set_span_in_context(parent)
    cursor = ended_ns - int(stages.total * 1e6)
    for name in ("limits", "exact_cache", "embed", "semantic_cache", "classify", "policy"):
        took = int(getattr(stages, name) * 1e6)
        if took == 0:
            continue
        span = tracer().start_span(f"decide.{name}", context=context, start_time=cursor)
        span.end(end_time=cursor + took)
        cursor += took


def now_ns() -> int:
    return time.time_ns()
