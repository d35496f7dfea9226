"""The router's metrics, recorded through the OpenTelemetry SDK and read by Prometheus on /metrics.

One MeterProvider per process: the Prometheus reader registers with prometheus_client's global
registry, and a second reader would double every series."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import Protocol

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest

BREAKER_LEVEL = {"closed": 0, "half-open": 1, "open": 2}

# One scrape reads the gauges below one after another: they share one reading of the caches
# (walking every semantic tenant) when it is at most this old.
CACHE_READING_TTL_S = 1.0

# Request latency buckets, in seconds (the histogram's unit): the SDK's default boundaries
# (0, 5, 10, 25 ... 10000) are meant for milliseconds and would put every request below 5 s in
# one bucket, leaving Prometheus no latency quantile to compute. From a cache hit (a few ms)
# to a long generation (a minute).
DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class CacheCounts(Protocol):
    """What `_core.Router.cache_stats()` returns."""

    @property
    def semantic_tenants(self) -> int: ...
    @property
    def semantic_entries(self) -> int: ...
    @property
    def semantic_bytes(self) -> int: ...
    @property
    def semantic_evicted_tenants(self) -> int: ...
    @property
    def exact_entries(self) -> int: ...
    @property
    def exact_bytes(self) -> int: ...
    @property
    def limiter_buckets(self) -> int: ...


class Metrics:
    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter("llm_router")
        self.requests = meter.create_counter("llm_router_requests", description="Requests by API and outcome")
        self.duration = meter.create_histogram("llm_router_request_duration", unit="s",
                                               description="End-to-end request latency by API",
                                               explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S)
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
        self._caches: Callable[[], CacheCounts] | None = None
        self._cache_reading: tuple[float, CacheCounts] | None = None
        meter.create_observable_gauge("llm_router_cache_memory", unit="By", callbacks=[self._observe_cache_bytes],
                                      description="Cache memory by cache (semantic: resident estimate; exact: "
                                                  "bytes charged against its budget)")
        meter.create_observable_gauge("llm_router_cache_entries", callbacks=[self._observe_cache_entries],
                                      description="Cache entries by cache (semantic: expired ones not yet swept "
                                                  "included)")
        meter.create_observable_gauge("llm_router_cache_tenants", callbacks=[self._observe_cache_tenants],
                                      description="Tenants with semantic cache entries")
        meter.create_observable_counter("llm_router_cache_evicted_tenants",
                                        callbacks=[self._observe_cache_evictions],
                                        description="Tenants dropped whole from the semantic cache to stay "
                                                    "within its tenant or byte bound")
        meter.create_observable_gauge("llm_router_rate_limit_buckets", callbacks=[self._observe_limiter],
                                      description="Rate-limit buckets held (tenants limited recently)")

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

    def watch_caches(self, counts: Callable[[], CacheCounts]) -> None:
        """`counts` reads the caches' occupancy when Prometheus scrapes."""
        with self._lock:
            self._caches = counts
            self._cache_reading = None

    def _cache_counts(self) -> CacheCounts | None:
        with self._lock:
            counts, reading = self._caches, self._cache_reading
        if counts is None:
            return None
        now = time.monotonic()
        if reading is not None and now - reading[0] <= CACHE_READING_TTL_S:
            return reading[1]
        fresh = counts()
        with self._lock:
            self._cache_reading = (now, fresh)
        return fresh

    def _observe_cache_bytes(self, _: CallbackOptions) -> Iterable[Observation]:
        c = self._cache_counts()
        return [] if c is None else [Observation(c.semantic_bytes, {"cache": "semantic"}),
                                     Observation(c.exact_bytes, {"cache": "exact"})]

    def _observe_cache_entries(self, _: CallbackOptions) -> Iterable[Observation]:
        c = self._cache_counts()
        return [] if c is None else [Observation(c.semantic_entries, {"cache": "semantic"}),
                                     Observation(c.exact_entries, {"cache": "exact"})]

    def _observe_cache_tenants(self, _: CallbackOptions) -> Iterable[Observation]:
        c = self._cache_counts()
        return [] if c is None else [Observation(c.semantic_tenants, {"cache": "semantic"})]

    def _observe_cache_evictions(self, _: CallbackOptions) -> Iterable[Observation]:
        c = self._cache_counts()
        return [] if c is None else [Observation(c.semantic_evicted_tenants, {"cache": "semantic"})]

    def _observe_limiter(self, _: CallbackOptions) -> Iterable[Observation]:
        c = self._cache_counts()
        return [] if c is None else [Observation(c.limiter_buckets)]


@cache
def metrics() -> Metrics:
    return Metrics(MeterProvider(metric_readers=[PrometheusMetricReader()]))


def exposition() -> bytes:
    """The Prometheus text format of every registered metric."""
    metrics()
    return bytes(generate_latest(REGISTRY))
