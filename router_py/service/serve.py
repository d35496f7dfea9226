"""`llm-router serve`: both front ends in one process on one event loop, following a config
source; SIGTERM drains (readiness off, in-flight requests finish, then exit)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path

import uvicorn
from pydantic import BaseModel, ConfigDict

from router_py.config.file_source import FileSource
from router_py.config.source import ConfigSource
from router_py.providers.pool import ProviderPool
from router_py.routing.engine import RoutingEngine
from router_py.service.app import RouterService
from router_py.service.auth import ApiKeys, Authenticator
from router_py.service.grpc_api import GrpcServer
from router_py.service.limits import RequestLimits
from router_py.service.openai_api import OpenAIApp
from router_py.service.tls import TlsCertificates, TlsFiles

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
    embedder_variant: str = "default"
    # The hashed API keys file (router_py/service/auth.py); None: auth off, the tenant header is believed.
    api_keys: Path | None = None
    # Certificate and key for both ports; None: plaintext.
    tls: TlsFiles | None = None
    # Body size, message count and conversation size bounds, both front ends (limits.py).
    limits: RequestLimits = RequestLimits()
    # Lookups skip expired semantic entries at once; the sweep is what frees them (a walk over
    # every entry, ~1 ms per 10,000, each tenant write-locked in turn).
    cache_sweep_interval_s: float = 30.0
    # Semantic cache bounds; past them the least recently used tenants are dropped whole.
    semantic_max_tenants: int = 10_000
    semantic_max_bytes: int = 512 << 20


def config_source(options: ServeOptions) -> ConfigSource:
    if options.config is not None:
        return FileSource(options.config)
    from router_py.config.kube_source import KubeSource

    return KubeSource.from_env()


class _Stop:
    """Why the serve loop ends: a signal (exit 0) or a task that died (exit 1, so the
    orchestrator restarts the process and counts the failure)."""

    def __init__(self, event: asyncio.Event) -> None:
        self.event = event
        self.failed: str | None = None


async def serve(options: ServeOptions, *, stop: asyncio.Event | None = None) -> int:
    """Runs until `stop` (or SIGTERM/SIGINT); returns the process's exit status."""
    ending = _Stop(stop or _stop_on_signals())
    # Before the models load: a keys file or certificate that does not load stops the start at
    # once, with one line saying why (later changes that do not load keep the last good ones).
    auth = Authenticator(ApiKeys.load(options.api_keys) if options.api_keys is not None else None)
    tls = TlsCertificates(options.tls) if options.tls is not None else None
    engine = await asyncio.to_thread(RoutingEngine.load, sessions=options.sessions, snapshot_dir=options.snapshot_dir,
                                     variant=options.embedder_variant,
                                     semantic_max_tenants=options.semantic_max_tenants,
                                     semantic_max_bytes=options.semantic_max_bytes,
                                     max_backlog=options.max_decision_backlog)
    service = RouterService(engine, ProviderPool([]), max_in_flight=options.max_in_flight,
                            max_loop_lag_s=options.max_loop_lag_ms / 1000,
                            max_decision_wait_s=options.max_decision_wait_ms / 1000)
    grpc_server = GrpcServer(service, f"{options.host}:{options.grpc_port}", auth=auth,
                             credentials=tls.grpc_credentials() if tls is not None else None, limits=options.limits)
    http = _UvicornServer(uvicorn.Config(OpenAIApp(service, auth, limits=options.limits).app, host=options.host, port=options.http_port,
                                         log_config=None, access_log=False, loop="none", lifespan="off",
                                         timeout_graceful_shutdown=int(options.drain_s),
                                         ssl_context_factory=_ssl_factory(tls)))
    source = config_source(options)
    # Everything loaded so far lives as long as the process: out of the collector's sight, a full
    # collection no longer walks it (tens of milliseconds, in the middle of some request).
    gc.freeze()
    await grpc_server.start()
    tasks = [asyncio.create_task(service.follow(source), name="config"),
             asyncio.create_task(_report(service, source, options.report_interval_s), name="report"),
             asyncio.create_task(http.serve(), name="http"),
             asyncio.create_task(service.admission.loop_lag.run(), name="loop-lag"),
             asyncio.create_task(_sweep(engine, options.cache_sweep_interval_s), name="cache-sweep"),
             *(asyncio.create_task(watch(), name=name) for name, watch in _watchers(auth, tls))]
    for task in tasks:
        task.add_done_callback(lambda t: _stop_if_failed(t, ending))
    log.info("serving", extra={"grpc_port": grpc_server.port, "http_port": options.http_port,
                               "config": str(options.config) if options.config else "kubernetes",
                               "auth": auth.status().auth, "tls": tls is not None})
    if not auth.enabled:
        log.warning("auth off: callers name their own tenant (x-llm-router-tenant); "
                    "give --api-keys wherever an untrusted caller can reach the router")
    await ending.event.wait()
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
    log.info("stopped", extra={"failed_task": ending.failed})
    return 0 if ending.failed is None else 1


def _ssl_factory(tls: TlsCertificates | None) -> Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext] | None:
    """uvicorn's context would hold the first certificate forever; ours follows renewals."""
    return None if tls is None else (lambda _config, _default: tls.http_context())


def _watchers(auth: Authenticator, tls: TlsCertificates | None) -> list[tuple[str, Callable[[], Coroutine[None, None, None]]]]:
    """Loops that re-read the keys file and the certificate; they never end, nor raise."""
    found: list[tuple[str, Callable[[], Coroutine[None, None, None]]]] = []
    if auth.keys is not None:
        found.append(("api-keys", auth.keys.follow))
    if tls is not None:
        found.append(("tls", tls.follow))
    return found


class _UvicornServer(uvicorn.Server):
    """Signals are the serve loop's to handle: it drains gRPC and HTTP together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _sweep(engine: RoutingEngine, interval_s: float) -> None:
    """Every `interval_s`, drop expired semantic entries and full rate-limit buckets."""
    while True:
        await asyncio.sleep(interval_s)
        dropped = await asyncio.to_thread(engine.core.expire_caches)
        if dropped:
            log.debug("cache sweep", extra={"expired": dropped})


async def _report(service: RouterService, source: ConfigSource, interval_s: float) -> None:
    """Every `interval_s` (a heartbeat: the operator ignores stale reports), and at once after a
    breaker transition."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.report_due.wait(), interval_s)
        service.report_due.clear()
        await source.report(service.status())


def _stop_if_failed(task: asyncio.Task[None], ending: _Stop) -> None:
    """A config follower or server that ends leaves a router nobody can steer: stop with a
    failure, and let the orchestrator restart it. These tasks run until cancelled, so one that
    returns has failed too."""
    if task.cancelled() or ending.event.is_set():
        return
    error = task.exception()
    log.error("task ended; stopping", extra={"task": task.get_name()}, exc_info=error)
    ending.failed = task.get_name()
    ending.event.set()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop
