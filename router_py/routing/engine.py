"""The routing engine the servers and tools use: the Rust core plus a live config."""

from __future__ import annotations

import asyncio
from pathlib import Path

from router_py import _core
from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import RouterConfig
from router_py.routing.request import RouteRequest
from router_py.runtime import model_dir as default_model_dir
from router_py.runtime import ort_library


class RoutingEngine:
    """Owns one `_core.Router`. `decide` releases the GIL for the whole decision, so
    `decide_async` runs it on a worker thread without stalling the event loop."""

    def __init__(self, core: _core.Router) -> None:
        self._core = core

    @classmethod
    def load(
        cls,
        models: Path | None = None,
        *,
        sessions: int = 2,
        variant: str = "default",
        snapshot_dir: Path | None = None,
        semantic_max_entries_per_tenant: int = 100_000,
    ) -> RoutingEngine:
        core = _core.Router(
            models or default_model_dir(),
            ort_library=ort_library(),
            variant=variant,
            sessions=sessions,
            snapshot_dir=snapshot_dir,
            semantic_max_entries_per_tenant=semantic_max_entries_per_tenant,
        )
        return cls(core)

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
            user=request.user,
            region=request.region,
            min_tier=request.min_tier,
            max_tier=request.max_tier,
        )

    async def decide_async(self, request: RouteRequest) -> _core.Decision:
        return await asyncio.to_thread(self.decide, request)
