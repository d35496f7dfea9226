"""Admission, in-process: each signal driven with an injected clock or count, never by loading
the machine, refuses at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.config.schema import RouterConfig
from router_py.routing.engine import DecisionBacklogError, RoutingEngine
from router_py.routing.request import RouteRequest
from router_py.routing.wait import DecisionLoad, DecisionWait
from router_py.service.app import RouterService
from router_py.service.grpc_api import RouterServicer
from router_py.service.openai_api import OpenAIApp
from router_py.service.overload import AdmissionControl, LoopLag, OverloadedError
from router_py.telemetry.metrics import exposition
from support.pipelines import mock_service


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


def test_the_loop_lag_is_how_late_the_loops_timer_wakes() -> None:
    """`run` reads the clock before and after each 10 ms timer: with a clock that moves 0.51 s
    between reads, every wake is half a second late, and the average climbs by a fifth of the
    gap each sample. The timers are real; the test waits for three samples, however long."""
    clock = _Clock()

    def read() -> float:
        clock.now += 0.51
        return clock.now

    async def samples() -> list[float]:
        averages: list[float] = []
        three = asyncio.Event()

        class Watched(LoopLag):
            def observe(self, late_s: float) -> None:
                super().observe(late_s)
                averages.append(self.lag_s)
                if len(averages) == 3:
                    three.set()

        watcher = asyncio.create_task(Watched(interval_s=0.01, clock=read).run())
        await asyncio.wait_for(three.wait(), timeout=30)
        watcher.cancel()
        return averages[:3]

    assert asyncio.run(samples()) == pytest.approx([0.1, 0.18, 0.244])


def test_a_timer_that_wakes_early_counts_as_on_time() -> None:
    lag = LoopLag()
    lag.observe(-0.005)
    assert lag.lag_s == 0.0


def test_a_late_event_loop_refuses_new_requests_until_it_catches_up() -> None:
    admission = AdmissionControl(100, max_loop_lag_s=0.05)
    admission.loop_lag.observe(0.5)  # the loop's thread was busy: a timer woke half a second late
    with admission.admit("test"):  # another request in progress: the router is not idle
        with pytest.raises(OverloadedError, match="event loop 100 ms behind"), admission.admit("test"):
            pass
        for _ in range(30):  # 300 ms of timers on time
            admission.loop_lag.observe(0.0)
        with admission.admit("test"):
            assert admission.in_flight == 2


def test_a_short_pause_does_not_refuse_traffic() -> None:
    admission = AdmissionControl(100, max_loop_lag_s=0.025)
    admission.loop_lag.observe(0.08)  # one timer 80 ms late: a first import or a garbage collection
    assert not admission.loop_is_late  # it moved the average by a fifth: 16 ms


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
    assert engine.decision_load.cost_s() == 0.0

    asyncio.run(engine.decide_async(RouteRequest(tenant="t", text="How do I reset my password?")))
    assert engine.decision_load.cost_s() > 0.0


def _loaded(wait_s: float, cost_s: float = 0.001) -> DecisionLoad:
    """A decide thread whose queue wait has stood at `wait_s` for a second, `cost_s` a decision."""
    clock = _Clock()
    load = DecisionLoad(clock=clock)
    for _ in range(500):
        clock.now += 0.002
        load.observe(wait_s, cost_s)
    return load


@pytest.mark.parametrize(("wait_ms", "draw", "refused"), [
    (20.0, 0.0, False),  # at the target: nobody refused
    (30.0, 0.49, True),  # halfway to twice the target: half refused
    (30.0, 0.51, False),
    (40.0, 0.99, True),  # twice the target: all refused
])
def test_queued_decisions_refuse_a_growing_share(wait_ms: float, draw: float, refused: bool) -> None:
    admission = AdmissionControl(100, decisions=_loaded(wait_ms / 1000), max_decision_wait_s=0.02,
                                 draw=lambda: draw)
    with admission.admit("other request"):
        if refused:
            with pytest.raises(OverloadedError, match=f"decisions queued for {wait_ms:.0f} ms"), admission.admit("t"):
                pass
        else:
            with admission.admit("test"):
                assert admission.in_flight == 2


def test_one_request_at_a_time_is_never_refused() -> None:
    """Whatever the signals remember (a burst a moment ago, a late loop), an idle router admits."""
    admission = AdmissionControl(100, decisions=_loaded(1.0), max_decision_wait_s=0.02, draw=lambda: 0.0)
    admission.loop_lag.lag_s = 1.0
    for _ in range(40):
        with admission.admit("test"):
            pass


def test_the_wait_target_grows_with_what_a_decision_costs_on_this_cpu() -> None:
    """A 128-token decision takes ~26 ms on a CPU without VNNI: a queue of a few of them is not
    overload there, while the same wait behind 1 ms decisions is."""
    slow_cpu = AdmissionControl(100, decisions=_loaded(0.1, cost_s=0.026), max_decision_wait_s=0.02,
                                draw=lambda: 0.0)
    fast_cpu = AdmissionControl(100, decisions=_loaded(0.1, cost_s=0.001), max_decision_wait_s=0.02,
                                draw=lambda: 0.0)
    assert slow_cpu.decision_wait_target_s() == pytest.approx(16 * 0.026)
    assert fast_cpu.decision_wait_target_s() == pytest.approx(0.02)
    with slow_cpu.admit("other"), slow_cpu.admit("test"):
        pass
    with fast_cpu.admit("other"), pytest.raises(OverloadedError), fast_cpu.admit("test"):
        pass


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


# -- one check per request, whichever front end -------------------------------------------------


class _Draws:
    """The refused share's draws: the first admits (0.99), any later one would refuse (0.0)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> float:
        self.count += 1
        return 0.99 if self.count == 1 else 0.0


def _half_refusing(service: RouterService) -> _Draws:
    """Admission at a decision wait that refuses half the requests (1.5x the target), drawing
    from a counter."""
    draws = _Draws()
    service.admission = AdmissionControl(100, decisions=_loaded(0.03), max_decision_wait_s=0.02, draw=draws)
    return draws


class _GrpcContext:
    def time_remaining(self) -> float | None:
        return None

    async def abort_with_status(self, status: Any) -> None:
        raise AssertionError(f"aborted: {status.code} {status.details}")


QUESTION = [{"role": "user", "content": "How do I reset my password?"}]


def _through(engine: RoutingEngine, default_config: RouterConfig,
             send: Callable[[RouterService], Any]) -> tuple[Any, int, int]:
    """What `send` got, how many draws admission made for it, and the requests left in flight,
    with one other request in progress (so admission does check)."""

    async def scenario() -> tuple[Any, int, int]:
        async with mock_service(engine, default_config) as service:
            draws = _half_refusing(service)
            with service.admission.admit("other request"):
                got = await send(service)
                return got, draws.count, service.admission.in_flight - 1

    return asyncio.run(scenario())


async def _http(service: RouterService, body: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=OpenAIApp(service).app)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
        return await client.post("/v1/chat/completions", json=body)


@pytest.mark.parametrize("stream", [False, True])
def test_an_http_request_is_checked_once(engine: RoutingEngine, default_config: RouterConfig, stream: bool) -> None:
    """HTTP used to be checked before its body was read and again when the service admitted it:
    two draws, so under load HTTP was refused more often than gRPC."""
    response, draws, left = _through(engine, default_config, lambda s: _http(
        s, {"model": "auto", "messages": QUESTION, "stream": stream}))
    assert response.status_code == 200, response.text
    assert (draws, left) == (1, 0)


def test_a_refused_http_request_is_refused_before_its_body_is_read(
    engine: RoutingEngine, default_config: RouterConfig
) -> None:
    async def refused(service: RouterService) -> httpx.Response:
        service.admission._draw = lambda: 0.0
        return await _http(service, {"not": "read"})  # would be a 400 if it were parsed

    response, _, left = _through(engine, default_config, refused)
    assert response.status_code == 429 and "retry-after" in response.headers
    assert left == 0


def test_a_request_refused_after_admission_leaves_no_place_held(
    engine: RoutingEngine, default_config: RouterConfig
) -> None:
    response, draws, left = _through(engine, default_config, lambda s: _http(s, {"model": "auto", "messages": []}))
    assert response.status_code == 400
    assert (draws, left) == (1, 0)


def test_grpc_requests_are_checked_once(engine: RoutingEngine, default_config: RouterConfig) -> None:
    async def both(service: RouterService) -> tuple[Any, Any]:
        servicer = RouterServicer(service)
        messages = [pb.Message(role="user", content=QUESTION[0]["content"])]
        routed = await servicer.Route(pb.RouteRequest(tenant="t", messages=messages), _GrpcContext())  # type: ignore[arg-type]
        service.admission._draw = _Draws()  # another request: its first draw admits again
        done = await servicer.Complete(pb.CompleteRequest(tenant="t", messages=messages), _GrpcContext())  # type: ignore[arg-type]
        return routed, done

    (routed, done), _, left = _through(engine, default_config, both)
    assert routed.decision.tier >= 1 and done.content
    assert left == 0


def test_an_admission_is_released_once_however_often_it_is_let_go() -> None:
    admission = AdmissionControl(100)
    admitted = admission.admit("test")
    assert admission.in_flight == 1
    admitted.release()
    admitted.release()
    with admitted:
        pass
    assert admission.in_flight == 0
