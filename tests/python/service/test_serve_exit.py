"""`serve` ends with a status the orchestrator can act on: 0 after a signal, non-zero when a task
it cannot run without (the config follower, a server) has died."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router_py.config.source import ConfigUpdate, ReplicaStatus
from router_py.service import serve as serve_module
from router_py.service.serve import ServeOptions, serve
from router_tools.local.fleet import free_port


class _BrokenSource:
    async def updates(self) -> AsyncIterator[ConfigUpdate]:
        raise ConnectionError("the config source is gone")
        yield  # an async generator that fails on its first step

    async def report(self, status: ReplicaStatus) -> None:
        """Nothing to report to."""


def _options(tmp_path: Path) -> ServeOptions:
    return ServeOptions(config=tmp_path, host="127.0.0.1", grpc_port=free_port(), http_port=free_port(), drain_s=0.5)


def test_a_dead_config_follower_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve_module, "config_source", lambda _options: _BrokenSource())
    assert asyncio.run(serve(_options(tmp_path))) == 1


def test_a_stop_request_exits_zero(tmp_path: Path) -> None:
    async def run() -> int:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        return await serve(_options(tmp_path), stop=stop)

    assert asyncio.run(run()) == 0
