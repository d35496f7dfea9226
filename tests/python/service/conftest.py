"""A real fleet for the service tests: six `mock-provider` processes and one `llm-router serve`
process on free loopback ports, from test manifests where every request starts at tier 1 (so
failover and cascade paths are deterministic) and breakers trip fast, with admission that load
cannot trip (`support.admission`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from router_tools.local.fleet import Fleet
from support.admission import router_args
from support.manifests import write_manifests


@pytest.fixture(scope="package")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    with Fleet(write_manifests(root / "manifests"), root / "logs", router_args=router_args()) as f:
        yield f


@pytest.fixture(scope="package")
def make_manifests() -> Callable[[Path], Path]:
    return write_manifests


FaultSetter = Callable[..., None]


@pytest.fixture()
def faults(calm: Fleet) -> FaultSetter:
    """`faults("sim-fast-a", error_rate=1.0)`; every provider is calmed again after the test."""
    return lambda provider, **kw: calm.set_faults(provider, **kw)


@pytest.fixture()
def calm(fleet: Fleet) -> Iterator[Fleet]:
    """Fast answers and no faults before and after each test."""
    names = [p.name for t in fleet.config.tiers for p in t.providers]
    for name in names:
        fleet.set_faults(name, latency_scale=0.02)
    yield fleet
    for name in names:
        fleet.set_faults(name, latency_scale=0.02)
