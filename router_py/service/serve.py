"""`llm-router serve`: both front ends in one process on one event loop, following a config
source; SIGTERM drains (readiness off, in-flight requests finish, then exit)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from pydantic import BaseModel, ConfigDict

from router_py.config.file_source import FileSource
from router_py.config.source import ConfigSource
from router_py.providers.pool import ProviderPool
from router_py.routing.engine import RoutingEngine
from router_py.service.app import RouterService
from router_py.service.grpc_api import GrpcServer
from router_py.service.openai_api import OpenAIApp

log = logging.getLogger("llm_router.serve")


class ServeOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    config: Path | None = None
    host: str = "0.0.0.0"
    grpc_port: int = 50051
    http_port: int = 8080
    max_in_flight: int = 1024
    max_decision_backlog: int = 32
    max_loop_lag_ms: float = 25.0
    max_decision_wait_ms: float = 20.0
    drain_s: float = 20.0
    report_interval_s: float = 5.0
    # One decide thread: with two, on two cores, they starve the event loop's thread, and the
    # service bench fell over at 250 requests/s (one thread sustains ~275; a decision is ~1.2 ms).
    sessions: int = 1
    snapshot_dir: Path | None = None


def config_source(options: ServeOptions) -> ConfigSource:
    if options.config is not None:
        return FileSource(options.config)
    from router_py.config.kube_source import KubeSource

    return KubeSource.from_env()


async def serve(options: ServeOptions, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or _stop_on_signals()
    engine = await asyncio.to_thread(RoutingEngine.load, sessions=options.sessions, snapshot_dir=options.snapshot_dir,
                                     max_backlog=options.max_decision_backlog)
    service = RouterService(engine, ProviderPool([]), max_in_flight=options.max_in_flight,
                            max_loop_lag_s=options.max_loop_lag_ms / 1000,
                            max_decision_wait_s=options.max_decision_wait_ms / 1000)
    grpc_server = GrpcServer(service, f"{options.host}:{options.grpc_port}")
    http = _UvicornServer(uvicorn.Config(OpenAIApp(service).app, host=options.host, port=options.http_port,
                                         log_config=None, access_log=False, loop="none", lifespan="off",
                                         timeout_graceful_shutdown=int(options.drain_s)))
    source = config_source(options)
    # Everything loaded so far lives as long as the process: out of the collector's sight, a full
    # collection no longer walks it (tens of milliseconds, in the middle of some request).
    gc.freeze()
    await grpc_server.start()
    tasks = [asyncio.create_task(service.follow(source), name="config"),
             asyncio.create_task(_report(service, source, options.report_interval_s), name="report"),
             asyncio.create_task(http.serve(), name="http"),
             asyncio.create_task(service.admission.loop_lag.run(), name="loop-lag")]
    for task in tasks:
        task.add_done_callback(lambda t: _stop_if_failed(t, stop))
    log.info("serving", extra={"grpc_port": grpc_server.port, "http_port": options.http_port,
                               "config": str(options.config) if options.config else "kubernetes"})
    await stop.wait()
    log.info("draining", extra={"in_flight": service.admission.in_flight, "grace_s": options.drain_s})
    service.drain()
    http.should_exit = True
    await grpc_server.stop(options.drain_s)
    for task in tasks:
        if task.get_name() != "http":
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await service.aclose()
    if options.snapshot_dir is not None:
        await asyncio.to_thread(engine.core.snapshot, options.snapshot_dir)
    log.info("stopped")


class _UvicornServer(uvicorn.Server):
    """Signals are the serve loop's to handle: it drains gRPC and HTTP together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _report(service: RouterService, source: ConfigSource, interval_s: float) -> None:
    """Every `interval_s` (a heartbeat: the operator ignores stale reports), and at once after a
    breaker transition."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.report_due.wait(), interval_s)
        service.report_due.clear()
        await source.report(service.status())


def _stop_if_failed(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """A config follower or server that dies leaves a router nobody can steer: stop, and let the
    orchestrator restart it."""
    if not task.cancelled() and task.exception() is not None:
        log.error("task failed; stopping", extra={"task": task.get_name()}, exc_info=task.exception())
        stop.set()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
