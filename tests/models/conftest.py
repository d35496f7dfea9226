"""Fixtures for the embedder export tests: one built model directory per session."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need the module registered while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def builder() -> ModuleType:
    return _load("build_embedder", REPO_ROOT / "scripts/build_embedder.py")


@pytest.fixture(scope="session")
def reference_module() -> ModuleType:
    return _load("bert_numpy", REPO_ROOT / "tests/reference/bert_numpy.py")


def _reusable_dir(builder: ModuleType) -> Path | None:
    """$LLM_ROUTER_MODEL_DIR/embedder, if it holds a build of the current builder and sources."""
    root = os.environ.get("LLM_ROUTER_MODEL_DIR")
    if not root:
        return None
    out_dir = Path(root) / "embedder"
    model_dir = builder.package_model_dir()
    current = builder.manifest_is_current(
        out_dir,
        builder.sha256_file(model_dir / "model.safetensors"),
        builder.sha256_file(REPO_ROOT / "scripts/build_embedder.py"),
        builder.sha256_file(REPO_ROOT / builder.QUERIES_FILE),
    )
    return out_dir if current else None


@pytest.fixture(scope="session")
def embedder_dir(builder: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    reusable = _reusable_dir(builder)
    if reusable is not None:
        return reusable
    out_dir = tmp_path_factory.mktemp("embedder")
    builder.build(out_dir)
    return out_dir
