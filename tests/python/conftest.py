"""Shared fixtures: the real models built by `make models` and the embedded default config."""

from __future__ import annotations

from pathlib import Path

import pytest

from router_py.config.manifests import embedded_default_dir, load_config
from router_py.config.schema import RouterConfig
from router_py.routing.engine import RoutingEngine
from router_py.runtime import model_dir


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
