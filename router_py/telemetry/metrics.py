"""The router's metrics, recorded through the OpenTelemetry SDK and read by Prometheus on /metrics.

One MeterProvider per process: the Prometheus reader registers with prometheus_client's global
registry, and a second reader would double every series."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from functools import cache

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest

BREAKER_LEVEL = {"closed": 0, "half-open": 1, "open": 2}


class Metrics:
    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter("llm_router")
        self.requests = meter.create_counter("llm_router_requests", description="Requests by API and outcome")
        self.duration = meter.create_histogram("llm_router_request_duration", unit="s",
                                               description="End-to-end request latency by API")
        self.decisions = meter.create_counter("llm_router_decisions", description="Decisions by tier and reason")
        self.escalations = meter.create_counter("llm_router_escalations", description="Cascade escalations")
        self.failovers = meter.create_counter("llm_router_failovers", description="Same-tier failovers")
        self.cost = meter.create_counter("llm_router_cost_usd", description="Provider cost by tenant")
        self.saved = meter.create_counter("llm_router_saved_usd", description="Saved against always-tier-3")
        self.tokens = meter.create_counter("llm_router_tokens", description="Tokens by tier and direction")
        self.overload = meter.create_counter("llm_router_overload_rejections", description="Refused past capacity")
        self.transitions = meter.create_counter("llm_router_breaker_transitions", description="Breaker state changes")
        self.in_flight = meter.create_up_down_counter("llm_router_in_flight", description="Requests being served")
        self._breakers: Callable[[], Iterable[tuple[str, str]]] = lambda: ()
        self._lock = threading.Lock()
        meter.create_observable_gauge("llm_router_breaker_state", callbacks=[self._observe_breakers],
                                      description="0 closed, 1 half-open, 2 open")

    def count_request(self, api: str, code: str, started: float) -> None:
        """One finished request: its outcome (gRPC code or HTTP status) and its duration since
        `started` (a `time.monotonic()` reading)."""
        self.requests.add(1, {"api": api, "code": code})
        self.duration.record(time.monotonic() - started, {"api": api})

    def watch_breakers(self, states: Callable[[], Iterable[tuple[str, str]]]) -> None:
        """`states` yields (provider, state) when Prometheus scrapes."""
        with self._lock:
            self._breakers = states

    def _observe_breakers(self, _: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            states = self._breakers
        return [Observation(BREAKER_LEVEL.get(state, 2), {"provider": p}) for p, state in states()]


@cache
def metrics() -> Metrics:
    return Metrics(MeterProvider(metric_readers=[PrometheusMetricReader()]))


def exposition() -> bytes:
    """The Prometheus text format of every registered metric."""
    metrics()
    return bytes(generate_latest(REGISTRY))
