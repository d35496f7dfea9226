"""Shared fixtures: the real models built by `make models` and the embedded default config; no
hypothesis example timed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import RouterConfig
from router_py.routing.engine import RoutingEngine
from router_py.runtime import model_dir

# Hypothesis's 200 ms deadline per example and its "too slow" health check time this machine: a
# busy one fails them whatever the code does (how fast is the benches' to measure).
settings.register_profile("untimed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("untimed")


@pytest.fixture(scope="session")
def models() -> Path:
    return model_dir()


@pytest.fixture(scope="session")
def default_config() -> RouterConfig:
    return load_config(embedded_default_dir())


@pytest.fixture()
def engine(models: Path, default_config: RouterConfig) -> RoutingEngine:
    """A fresh router (empty caches, closed breakers) with the default policy live."""
    e = RoutingEngine.load(models, sessions=2)
    e.apply(default_config)
    return e
