"""Bounded work: past capacity a request is refused at once (429 / RESOURCE_EXHAUSTED with
Retry-After) instead of queueing, so the requests admitted still finish in time.

A fixed cap on requests in flight alone is wrong both ways: requests waiting seconds on a
provider cost almost nothing, while the router's own work (the event loop's thread, the
embedder) is what runs out. So the signals are:

- requests in flight (memory);
- how long decisions have been waiting for the decide thread (`RoutingEngine.decision_load`, averaged
  over time, not over decisions), against a target that grows with what one decision costs on
  this CPU: the router's own delay before a request can reach a provider. It rises within tens
  of milliseconds of the machine running out of CPU, whatever the providers' latency, and a
  refusal costs a fraction of an admitted request. (A fixed cap on waiting decisions alone let
  them wait 160 ms each under 2x load: the forward pass slows down when the CPU is shared.) It
  keeps admitted requests fast under overload, but at 2x load it still admits less than
  capacity (0.62x in the service bench): see the README;
- how late the event loop wakes a timer: its thread is saturated;
- and none of them while nothing else is in progress: one request at a time is always served.

The decision backlog (`RoutingEngine`'s `max_backlog`) stays as a hard bound behind them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from types import TracebackType

from router_py.routing.engine import DecisionBacklogError
from router_py.routing.wait import DecisionLoad
from router_py.telemetry.metrics import metrics


class OverloadedError(RuntimeError):
    def __init__(self, why: str, retry_after_s: float) -> None:
        super().__init__(f"the router is at capacity ({why}); retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class LoopLag:
    """How late the event loop wakes a timer, averaged (EWMA over ~50 ms of samples): while every
    request's Python work outruns the one thread the loop has, it stays high; a one-off pause (a
    first import, a garbage collection) moves it by a fifth only, so it does not refuse traffic.

    `clock` is what `run` reads the time from (default: the running loop's own clock), injectable
    as `DecisionWait`'s is, so that tests say how late each wake was instead of stalling a thread."""

    def __init__(self, interval_s: float = 0.01, *, clock: Callable[[], float] | None = None) -> None:
        self.interval_s = interval_s
        self.lag_s = 0.0
        self._clock = clock

    def observe(self, late_s: float) -> None:
        """One wake, `late_s` after the timer was due (an early one counts as on time)."""
        self.lag_s = 0.8 * self.lag_s + 0.2 * max(0.0, late_s)

    async def run(self) -> None:
        clock = self._clock or asyncio.get_running_loop().time
        while True:
            asked = clock()
            await asyncio.sleep(self.interval_s)
            self.observe(clock() - asked - self.interval_s)


class Admission:
    """One admitted request's place among those in flight: given by `AdmissionControl.admit`,
    released once (`release` or leaving its `with` block), however many times either is called.
    Whoever admits a request may hand this on to the code that finishes it (the HTTP front end
    admits before reading the body; a stream releases when its last byte is sent)."""

    def __init__(self, control: AdmissionControl, api: str) -> None:
        self._control = control
        self.api = api
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._control._release()

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if isinstance(error, DecisionBacklogError):
            metrics().overload.add(1, {"api": self.api, "signal": "decision_backlog"})
        self.release()


class AdmissionControl:
    """Counts requests on the event loop's thread, so no lock is needed. Each request is checked
    once, when it is admitted (`admit`): the refused share is drawn once per request, whichever
    front end it came through."""

    def __init__(self, max_in_flight: int, *, max_loop_lag_s: float = 0.025,
                 decisions: DecisionLoad | None = None, max_decision_wait_s: float = 0.02,
                 decision_queue_allowance: float = 16.0, retry_after_s: float = 1.0,
                 draw: Callable[[], float] = random.random) -> None:
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, not {max_in_flight}")
        self.max_in_flight = max_in_flight
        self.max_loop_lag_s = max_loop_lag_s
        self.max_decision_wait_s = max_decision_wait_s
        self.decision_queue_allowance = decision_queue_allowance
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.loop_lag = LoopLag()
        self._decisions = decisions or DecisionLoad()
        self._draw = draw  # uniform in [0, 1): which requests the refused share takes

    def admit(self, api: str) -> Admission:
        """Check the request against every signal and count it in flight, or raise
        `OverloadedError` (counted by signal). The one check a request gets."""
        refusal = self._refusal()
        if refusal is not None:
            signal, why = refusal
            metrics().overload.add(1, {"api": api, "signal": signal})
            raise OverloadedError(why, self.retry_after_s)
        self.in_flight += 1
        metrics().in_flight.add(1)
        return Admission(self, api)

    def _release(self) -> None:
        self.in_flight -= 1
        metrics().in_flight.add(-1)

    @property
    def loop_is_late(self) -> bool:
        return self.loop_lag.lag_s > self.max_loop_lag_s

    def decision_wait_target_s(self) -> float:
        """The queue time tolerated before refusing: the configured floor, or a queue of
        `decision_queue_allowance` decisions at what one costs on this CPU, whichever is longer.
        A fixed 20 ms refused long prompts sent one at a time on CPUs without VNNI."""
        return max(self.max_decision_wait_s, self.decision_queue_allowance * self._decisions.cost_s())

    def _refusal(self) -> tuple[str, str] | None:
        """The signal that refuses (a metric label) and why, in words for the caller."""
        if self.in_flight == 0:
            # Nothing else in progress: whatever the averages remember, this request is served.
            return None
        if self.in_flight >= self.max_in_flight:
            return "in_flight", f"{self.in_flight} requests in flight"
        if self.loop_is_late:
            return "loop_lag", f"event loop {self.loop_lag.lag_s * 1000:.0f} ms behind"
        wait_s = self._decisions.queue_wait.current_s()
        if self._refuse_share(wait_s) > self._draw():
            return "decision_wait", f"decisions queued for {wait_s * 1000:.0f} ms"
        return None

    def _refuse_share(self, wait_s: float) -> float:
        """None at the target, all at twice the target, in proportion between: an on/off switch
        admits a burst whenever the wait dips, the burst's queue refuses everyone after it, and
        the machine idles between the two."""
        return min(1.0, max(0.0, wait_s / self.decision_wait_target_s() - 1.0))
