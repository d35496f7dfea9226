"""The request-latency histogram is bucketed in its own unit."""

from __future__ import annotations

import time

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader

from router_py.telemetry.metrics import DURATION_BUCKETS_S, Metrics


def test_request_duration_buckets_are_seconds() -> None:
    reader = InMemoryMetricReader()
    metrics = Metrics(MeterProvider(metric_readers=[reader]))
    metrics.count_request("http", "200", time.monotonic())
    data = reader.get_metrics_data()
    assert data is not None
    [histogram] = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
                   if m.name == "llm_router_request_duration"]
    assert histogram.unit == "s"
    [point] = histogram.data.data_points
    assert isinstance(point, HistogramDataPoint)
    assert tuple(point.explicit_bounds) == DURATION_BUCKETS_S
    # a cache hit (milliseconds) and a slow generation land in different buckets
    assert DURATION_BUCKETS_S[0] <= 0.005 and DURATION_BUCKETS_S[-1] >= 60.0
