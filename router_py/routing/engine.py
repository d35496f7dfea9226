"""The routing engine the servers and tools use: the Rust core plus a live config."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from router_py import _core
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import RouterConfig
from router_py.routing.request import RouteRequest
from router_py.routing.wait import DecisionLoad
from router_py.runtime import model_dir as default_model_dir
from router_py.runtime import ort_library


class DecisionBacklogError(RuntimeError):
    """More decisions are waiting for an embedder session than the service will queue."""

    def __init__(self, pending: int, retry_after_s: float = 1.0) -> None:
        super().__init__(f"the router is at capacity ({pending} decisions in progress or waiting for the embedder); "
                         f"retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s


class RoutingEngine:
    """Owns one `_core.Router`. `decide` releases the GIL for the whole decision, so
    `decide_async` runs it on a worker thread without stalling the event loop: one thread per
    embedder session (more would only queue inside the core), and at most `max_backlog`
    decisions waiting for one, past which `decide_async` refuses at once (the service answers
    429) rather than let a queue build whose callers will have given up."""

    def __init__(self, core: _core.Router, *, sessions: int = 2, max_backlog: int | None = None) -> None:
        self._core = core
        self._executor = ThreadPoolExecutor(max_workers=sessions, thread_name_prefix="decide")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-put")
        self._limit = None if max_backlog is None else sessions + max_backlog
        self._pending = 0
        self.decision_load = DecisionLoad()

    @classmethod
    def load(
        cls,
        models: Path | None = None,
        *,
        sessions: int = 2,
        variant: str = "default",
        snapshot_dir: Path | None = None,
        semantic_max_entries_per_tenant: int = 100_000,
        semantic_max_tenants: int = 10_000,
        semantic_max_bytes: int = 512 << 20,
        max_backlog: int | None = None,
    ) -> RoutingEngine:
        """The semantic cache holds at most `semantic_max_tenants` tenants and
        `semantic_max_bytes` resident bytes (least recently used tenants go first)."""
        core = _core.Router(
            models or default_model_dir(),
            ort_library=ort_library(),
            variant=variant,
            sessions=sessions,
            snapshot_dir=snapshot_dir,
            semantic_max_entries_per_tenant=semantic_max_entries_per_tenant,
            semantic_max_tenants=semantic_max_tenants,
            semantic_max_bytes=semantic_max_bytes,
        )
        return cls(core, sessions=sessions, max_backlog=max_backlog)

    @classmethod
    def from_manifests(cls, manifests: Path | None = None, *, sessions: int = 2) -> RoutingEngine:
        """An engine with the manifests at `manifests` (default: the embedded default) applied."""
        engine = cls.load(sessions=sessions)
        engine.apply(load_config(manifests or embedded_default_dir()))
        return engine

    @property
    def core(self) -> _core.Router:
        return self._core

    def apply(self, config: RouterConfig) -> _core.PolicyInfo:
        """Swap in `config`; raises `_core.InvalidConfigError` and keeps the live one on error."""
        return self._core.apply_config(config.to_core_json())

    def decide(self, request: RouteRequest) -> _core.Decision:
        return self._core.decide(
            request.tenant,
            request.text,
            context=request.context,
            user=request.user,
            region=request.region,
            min_tier=request.min_tier,
            max_tier=request.max_tier,
            pinned_model=request.pinned_model,
        )

    async def decide_async(self, request: RouteRequest) -> _core.Decision:
        if self._limit is not None and self._pending >= self._limit:
            raise DecisionBacklogError(self._pending)
        self._pending += 1
        submitted = time.monotonic()
        began: list[float] = []

        def timed() -> _core.Decision:
            began.append(time.monotonic())
            return self.decide(request)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, timed)
        finally:
            self._pending -= 1
            if began:
                self.decision_load.observe(began[0] - submitted, time.monotonic() - began[0])

    async def cache_put_async(self, decision: _core.Decision, answer: _core.CachedAnswer) -> None:
        """Filing an answer inserts into the HNSW index (~0.1 ms, GIL released):
        on one writer thread, so the event loop's thread stays free and inserts keep their order."""
        await asyncio.get_running_loop().run_in_executor(self._writer, self._core.cache_put, decision, answer)
