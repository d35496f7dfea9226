"""Admission, in-process: the decision backlog and event-loop lag refuse at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from router_py.config.schema import RouterConfig
from router_py.routing.engine import DecisionBacklogError, RoutingEngine
from router_py.routing.request import RouteRequest
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
