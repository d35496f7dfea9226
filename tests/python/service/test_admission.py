"""Admission, in-process: the decision backlog and event-loop lag refuse at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from router_py.config.schema import RouterConfig
from router_py.routing.engine import DecisionBacklogError, RoutingEngine
from router_py.routing.request import RouteRequest
from router_py.routing.wait import DecisionWait
from router_py.telemetry.metrics import exposition
from router_py.service.overload import AdmissionControl, OverloadedError


def test_decisions_past_the_backlog_are_refused_not_queued(models: Path, default_config: RouterConfig) -> None:
    engine = RoutingEngine.load(models, sessions=1, max_backlog=1)
    engine.apply(default_config)

    async def burst() -> list[object]:
        asks = [engine.decide_async(RouteRequest(tenant="t", text=f"How do I reset my password, take {i}?"))
                for i in range(6)]
        return list(await asyncio.gather(*asks, return_exceptions=True))

    outcomes = asyncio.run(burst())
    refused = [o for o in outcomes if isinstance(o, DecisionBacklogError)]
    assert len(refused) == 4, outcomes  # one running, one waiting, the rest refused
    assert all(not isinstance(o, Exception) or isinstance(o, DecisionBacklogError) for o in outcomes)


def test_a_late_event_loop_refuses_new_requests() -> None:
    async def scenario() -> tuple[bool, bool]:
        admission = AdmissionControl(100, max_loop_lag_s=0.05)
        watcher = asyncio.create_task(admission.loop_lag.run())
        await asyncio.sleep(0.05)
        time.sleep(0.5)  # the loop's thread is busy: the next timer fires late
        await asyncio.sleep(0.02)
        try:
            with admission.admit("test"):
                pass
            refused_while_late = False
        except OverloadedError as e:
            refused_while_late = "behind" in str(e)
        await asyncio.sleep(0.3)  # caught up
        with admission.admit("test"):
            recovered = True
        watcher.cancel()
        return refused_while_late, recovered

    assert asyncio.run(scenario()) == (True, True)


def test_a_short_pause_does_not_refuse_traffic() -> None:
    async def scenario() -> bool:
        admission = AdmissionControl(100, max_loop_lag_s=0.025)
        watcher = asyncio.create_task(admission.loop_lag.run())
        await asyncio.sleep(0.05)
        time.sleep(0.08)  # a first import or a garbage collection
        await asyncio.sleep(0.015)
        late = admission.loop_is_late
        watcher.cancel()
        return late

    assert asyncio.run(scenario()) is False


def test_in_flight_requests_are_bounded() -> None:
    admission = AdmissionControl(1)
    with admission.admit("test"), pytest.raises(OverloadedError, match="1 requests in flight"), admission.admit("test"):
        pass
    with admission.admit("test"):
        assert admission.in_flight == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_on_an_idle_router_moves_the_decision_wait_by_a_fraction() -> None:
    clock = _Clock()
    wait = DecisionWait(memory_s=0.1, clock=clock)
    clock.now += 10.0  # idle
    for i in range(24):  # 24 at once, decided 2.5 ms apart: the last waited 60 ms
        clock.now += 0.0025
        wait.observe(0.0025 * (i + 1))
    assert wait.current_s() < 0.02  # under the 20 ms target: nobody refused (weighted by count, 10% each: 39 ms)


def test_a_standing_queue_moves_it_all_the_way_and_a_drained_router_admits_again() -> None:
    clock = _Clock()
    wait = DecisionWait(memory_s=0.1, clock=clock)
    for _ in range(500):  # a decision every 2 ms for a second, each after 30 ms in the queue
        clock.now += 0.002
        wait.observe(0.03)
    assert wait.current_s() == pytest.approx(0.03, rel=1e-3)
    clock.now += 0.5  # nothing finished for half a second
    assert wait.current_s() < 0.001


def test_engine_measures_its_decisions(models: Path, default_config: RouterConfig) -> None:
    engine = RoutingEngine.load(models, sessions=1)
    engine.apply(default_config)
    assert engine.wait.current_s() == 0.0

    asyncio.run(engine.decide_async(RouteRequest(tenant="t", text="How do I reset my password?")))
    assert engine.wait.current_s() > 0.0


@pytest.mark.parametrize(("wait_ms", "draw", "refused"), [
    (20.0, 0.0, False),  # at the target: nobody refused
    (30.0, 0.49, True),  # halfway to twice the target: half refused
    (30.0, 0.51, False),
    (40.0, 0.99, True),  # twice the target: all refused
])
def test_slow_decisions_refuse_a_growing_share(wait_ms: float, draw: float, refused: bool) -> None:
    admission = AdmissionControl(100, decision_wait_s=lambda: wait_ms / 1000, max_decision_wait_s=0.02,
                                 draw=lambda: draw)
    if refused:
        with pytest.raises(OverloadedError, match=f"decisions taking {wait_ms:.0f} ms"), admission.admit("test"):
            pass
    else:
        with admission.admit("test"):
            assert admission.in_flight == 1


def test_a_full_decision_backlog_is_counted_as_a_refusal() -> None:
    admission = AdmissionControl(100)

    def counted() -> float:
        for line in exposition().decode().splitlines():
            if line.startswith("llm_router_overload_rejections_total{") and 'signal="decision_backlog"' in line \
                    and 'api="test.backlog"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = counted()
    with pytest.raises(DecisionBacklogError), admission.admit("test.backlog"):
        raise DecisionBacklogError(3)
    assert counted() == before + 1
    assert admission.in_flight == 0
