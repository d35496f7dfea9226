"""Bounded work: past capacity a request is refused at once (429 / RESOURCE_EXHAUSTED with
Retry-After) instead of queueing, so the requests admitted still finish in time.

Three signals, because a fixed cap on requests in flight alone is wrong both ways: requests
waiting seconds on a provider cost almost nothing, while the Python work around each request
runs on one event-loop thread. So: requests in flight (memory), decisions waiting for the
embedder (`RoutingEngine`'s backlog) and how late the event loop runs its timers (the loop
itself is saturated)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from router_py.telemetry.metrics import metrics


class OverloadedError(RuntimeError):
    def __init__(self, why: str, retry_after_s: float) -> None:
        super().__init__(f"the router is at capacity ({why}); retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class LoopLag:
    """How late the event loop wakes a timer, averaged (EWMA over ~50 ms of samples): while every
    request's Python work outruns the one thread the loop has, it stays high; a one-off pause (a
    first import, a garbage collection) moves it by a fifth only, so it does not refuse traffic."""

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.lag_s = 0.0

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time()
            await asyncio.sleep(self.interval_s)
            self.lag_s = 0.8 * self.lag_s + 0.2 * max(0.0, loop.time() - asked - self.interval_s)


class AdmissionControl:
    """Counts requests on the event loop's thread, so no lock is needed."""

    def __init__(self, max_in_flight: int, *, max_loop_lag_s: float = 0.025, retry_after_s: float = 1.0) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, not {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.max_loop_lag_s = max_loop_lag_s
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.loop_lag = LoopLag()

    def check(self, api: str) -> None:
        """Raise `OverloadedError` now if `admit` would: for front ends, before they parse."""
        why = self._refusal()
        if why is not None:
            metrics().overload.add(1, {"api": api})
            raise OverloadedError(why, self.retry_after_s)

    @property
    def loop_is_late(self) -> bool:
        return self.loop_lag.lag_s > self.max_loop_lag_s

    @contextmanager
    def admit(self, api: str) -> Iterator[None]:
        self.check(api)
        self.in_flight += 1
        metrics().in_flight.add(1)
        try:
            yield
        finally:
            self.in_flight -= 1
            metrics().in_flight.add(-1)

    def _refusal(self) -> str | None:
        if self.in_flight >= self.max_in_flight:
            return f"{self.in_flight} requests in flight"
        if self.loop_is_late:
            return f"event loop {self.loop_lag.lag_s * 1000:.0f} ms behind"
        return None
