"""The Rust embedder as a batch function, so training and evaluation see exactly what routing sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from router_py import _core
from router_py.runtime import ort_library


def core_embed_fn(models: Path) -> Callable[[Sequence[str]], np.ndarray]:
    """The embedder under `models`/embedder, one session on two threads, as texts -> (n, dim) floats."""
    embedder = _core.Embedder(models / "embedder", ort_library=ort_library(), sessions=1, intra_threads=2)

    def embed(texts: Sequence[str]) -> np.ndarray:
        raw = embedder.embed_batch(list(texts), 128, 64)
        return np.frombuffer(raw, dtype="<f4").reshape(len(texts), embedder.dim)

    return embed
