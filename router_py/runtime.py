"""Where the native pieces live: the ONNX Runtime library and the model folder."""

from __future__ import annotations

import os
from pathlib import Path

MODEL_DIR_ENV = "LLM_ROUTER_MODEL_DIR"
DEFAULT_MODEL_DIR = Path.home() / ".cache" / "llm-router" / "models"


class RuntimeSetupError(RuntimeError):
    """The environment lacks something the router needs to start (models, ONNX Runtime)."""


def ort_library() -> Path:
    """The libonnxruntime shipped by the pinned `onnxruntime` wheel.

    The Rust core binds this file at run time instead of downloading its own copy at build time,
    so the Python and Rust sides share one ONNX Runtime.
    """
    import onnxruntime

    capi = Path(onnxruntime.__file__).parent / "capi"
    found = sorted(capi.glob("libonnxruntime.so*"))
    if not found:
        raise RuntimeSetupError(f"no libonnxruntime in {capi}")
    return found[-1]


ROUTER_MODELS = ("embedder/manifest.json", "classifier/head.json")


def model_dir(required: tuple[str, ...] = ROUTER_MODELS) -> Path:
    """The folder with `embedder/` and `classifier/`, built by `make models`."""
    path = Path(os.environ.get(MODEL_DIR_ENV, DEFAULT_MODEL_DIR))
    for part in required:
        if not (path / part).is_file():
            raise RuntimeSetupError(f"{path / part} is missing: run `make models` or set {MODEL_DIR_ENV}")
    return path
