"""The serve loop's cache sweep: it calls the core's expire on its interval, and keeps going."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from router_py.routing.engine import RoutingEngine
from router_py.service.serve import ServeOptions, _sweep


class _Core:
    def __init__(self, calls: int) -> None:
        self.calls = 0
        self.done = asyncio.Event()
        self._want = calls

    def expire_caches(self) -> int:
        self.calls += 1
        if self.calls == self._want:
            self.done.set()
        return self.calls % 2


class _Engine:
    def __init__(self, core: _Core) -> None:
        self.core = core


def test_the_sweep_calls_expire_repeatedly_until_cancelled() -> None:
    async def run() -> int:
        core = _Core(calls=3)
        task = asyncio.create_task(_sweep(cast(RoutingEngine, cast(Any, _Engine(core))), 0.0))
        await core.done.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return core.calls

    assert asyncio.run(run()) >= 3


def test_the_sweep_is_on_by_default() -> None:
    assert 0 < ServeOptions().cache_sweep_interval_s <= 60
