"""The router service behind both front ends: one engine, one provider pool, one pipeline, the
live config (kept on a bad update) and admission control."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable

from router_py import _core
from router_py.accounting.decision_log import log_decision, log_failure
from router_py.accounting.ledger import Ledger
from router_py.complete.failover import Failover, ms_since
from router_py.complete.pipeline import Pipeline
from router_py.completion import Completion, CompletionRequest
from router_py.config.source import BreakerReport, ConfigSource, ConfigUpdate, ReplicaStatus
from router_py.providers.pool import ProviderPool
from router_py.providers.types import Usage
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import DecisionRecord, RouteRequest
from router_py.service.overload import Admission, AdmissionControl
from router_py.telemetry.decisions import observe_decision
from router_py.telemetry.logs import request_id_var
from router_py.telemetry.metrics import metrics
from router_py.telemetry.tracing import tracer

log = logging.getLogger("llm_router.service")

ReadinessListener = Callable[[bool], None]


class RouterService:
    def __init__(
        self,
        engine: RoutingEngine,
        pool: ProviderPool,
        *,
        max_in_flight: int = 1024,
        max_loop_lag_s: float = 0.025,
        max_decision_wait_s: float = 0.02,
        default_deadline_s: float = 60.0,
        replica: str | None = None,
    ) -> None:
        self.engine = engine
        self.pool = pool
        self.ledger = Ledger()
        self.admission = AdmissionControl(max_in_flight, max_loop_lag_s=max_loop_lag_s,
                                          decisions=engine.decision_load, max_decision_wait_s=max_decision_wait_s)
        self.failover = Failover(engine.core, pool, self._on_transition, lambda: self.admission.loop_is_late)
        self.pipeline = Pipeline(engine, pool, self.failover, self.ledger)
        self.default_deadline_s = default_deadline_s
        self.replica = replica or os.environ.get("POD_NAME") or socket.gethostname()
        self.revision: str | None = None
        self.last_error: str | None = None
        self.draining = False
        # Set when a breaker changes state: the report loop publishes at once instead of waiting
        # for its interval, so the operator's status follows within a second.
        self.report_due = asyncio.Event()
        self._listeners: list[ReadinessListener] = []
        metrics().watch_breakers(lambda: [(b.provider, b.state) for b in engine.core.breaker_states()])
        metrics().watch_caches(engine.core.cache_stats)

    # -- config -------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.revision is not None and not self.draining

    def on_readiness(self, listener: ReadinessListener) -> None:
        self._listeners.append(listener)
        listener(self.ready)

    def apply(self, update: ConfigUpdate) -> bool:
        """Swap in the update's config; on any error keep the live one and remember why."""
        if update.config is None:
            return self._refused(update.revision, update.error or "the source has no config")
        try:
            info = self.pipeline.configure(update.config)
        except _core.InvalidConfigError as e:
            return self._refused(update.revision, str(e))
        except Exception as e:  # noqa: BLE001 - a config the core took but the rest could not: refused, reported
            log.exception("config could not be applied", extra={"revision": update.revision})
            return self._refused(update.revision, f"{type(e).__name__}: {e}")
        self.revision, self.last_error = update.revision, None
        log.info("config live", extra={"revision": update.revision, "policy": info.name, "policy_version": info.version})
        self._notify()
        return True

    def _refused(self, revision: str, why: str) -> bool:
        self.last_error = f"revision {revision}: {why}"
        log.error("config refused; the live one stays", extra={"revision": revision, "error": why,
                                                                "live_revision": self.revision})
        return False

    async def follow(self, source: ConfigSource) -> None:
        async for update in source.updates():
            self.apply(update)
            await source.report(self.status())

    def status(self) -> ReplicaStatus:
        policy = self.engine.core.policy()
        breakers = [BreakerReport(provider=b.provider, state=b.state, since_unix_ms=b.since_unix_ms,
                                  consecutive_failures=b.consecutive_failures) for b in self.engine.core.breaker_states()]
        return ReplicaStatus(replica=self.replica, policy_name=policy.name if policy else None,
                             policy_version=policy.version if policy else None, revision=self.revision,
                             last_error=self.last_error, breakers=breakers, reported_unix_ms=int(time.time() * 1000))

    def drain(self) -> None:
        self.draining = True
        self._notify()

    def _notify(self) -> None:
        for listener in self._listeners:
            listener(self.ready)

    def _on_transition(self, transition: _core.Transition) -> None:
        self.report_due.set()
        metrics().transitions.add(1, {"provider": transition.provider, "to": transition.to_state})
        log.warning("breaker transition", extra={"provider": transition.provider, "from": transition.from_state,
                                                 "to": transition.to_state})

    # -- requests -----------------------------------------------------------------------------

    def deadline(self, remaining_s: float | None) -> float:
        """The monotonic instant the request must be answered by: the caller's deadline if it
        sent one, capped by the service default."""
        budget = self.default_deadline_s if remaining_s is None else min(remaining_s, self.default_deadline_s)
        return time.monotonic() + budget

    # Each request is admitted once (`AdmissionControl.admit`): by the front end, which hands the
    # `Admission` on here to be released when the request ends, or else here.

    async def route(self, request: RouteRequest, request_id: str, *, api: str,
                    admitted: Admission | None = None) -> DecisionRecord:
        started = time.monotonic()
        request_id_var.set(request_id)
        with admitted or self.admission.admit(api), tracer().start_as_current_span(api):
            try:
                decision = observe_decision(await self.engine.decide_async(request))
            except (Exception, asyncio.CancelledError) as e:
                # A decision-only call buys nothing, but a refused one is still a logged request.
                log_failure(request_id, request.tenant, None, [], usage=Usage(input_tokens=0, output_tokens=0),
                            cost_usd=0.0, error=e, api=api, latency_ms=ms_since(started))
                raise
        log_decision(request_id, request.tenant, decision, api=api)
        return decision

    async def complete(self, request: CompletionRequest, deadline: float, *, api: str,
                       admitted: Admission | None = None) -> Completion:
        with admitted or self.admission.admit(api), tracer().start_as_current_span(api):
            return await self.pipeline.complete(request, deadline, api=api)

    async def stream(self, request: CompletionRequest, deadline: float, *, api: str,
                     admitted: Admission | None = None) -> AsyncIterator[DecisionRecord | str | Completion]:
        """Holds the request's place in flight until the stream ends or is closed. A generator
        never started runs no code: a caller that hands `admitted` on releases it itself if it
        does not start the stream."""
        with admitted or self.admission.admit(api):
            async for item in self.pipeline.stream(request, deadline, api=api):
                yield item

    async def aclose(self) -> None:
        await self.pool.aclose()
