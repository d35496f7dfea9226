"""Bounded in-flight work: past capacity a request is refused at once (429 / RESOURCE_EXHAUSTED
with Retry-After) instead of queueing, so the requests admitted still finish in time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from router_py.telemetry.metrics import metrics


class OverloadedError(RuntimeError):
    def __init__(self, limit: int, retry_after_s: float) -> None:
        super().__init__(f"the router is at capacity ({limit} requests in flight); retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class AdmissionControl:
    """Counts requests on the event loop's thread, so no lock is needed."""

    def __init__(self, max_in_flight: int, retry_after_s: float = 1.0) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, not {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.in_flight = 0

    @contextmanager
    def admit(self, api: str) -> Iterator[None]:
        if self.in_flight >= self.max_in_flight:
            metrics().overload.add(1, {"api": api})
            raise OverloadedError(self.max_in_flight, self.retry_after_s)
        self.in_flight += 1
        metrics().in_flight.add(1)
        try:
            yield
        finally:
            self.in_flight -= 1
            metrics().in_flight.add(-1)
