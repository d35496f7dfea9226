"""Independent numpy forward pass of all-MiniLM-L6-v2 (BERT + mean pooling + L2 norm).

Written from the BERT paper / HF BertModel semantics, not from scripts/build_embedder.py,
so that the exported ONNX graph can be checked against something that shares no code
with it. Computes in float64 so the reference itself adds no rounding of note.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(x: np.ndarray) -> np.ndarray:
    # The exact (erf) GELU BERT was trained with, not the tanh approximation.
    return 0.5 * x * (1.0 + np.asarray(_erf(x / math.sqrt(2.0)), dtype=np.float64))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + eps) * gamma + beta)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return np.asarray(e / np.sum(e, axis=-1, keepdims=True))


class MiniLmReference:
    def __init__(self, model_dir: Path) -> None:
        config = json.loads((model_dir / "config.json").read_text())
        self.heads: int = config["num_attention_heads"]
        self.layers: int = config["num_hidden_layers"]
        self.eps: float = config["layer_norm_eps"]
        self.w = {k: v.astype(np.float64) for k, v in load_file(str(model_dir / "model.safetensors")).items()}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text).ids)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps)

    def _self_attention(self, x: np.ndarray, name: str) -> np.ndarray:
        seq, hidden = x.shape
        size = hidden // self.heads

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(seq, self.heads, size).transpose(1, 0, 2)

        q = split(self._dense(x, f"{name}.self.query"))
        k = split(self._dense(x, f"{name}.self.key"))
        v = split(self._dense(x, f"{name}.self.value"))
        probs = _softmax(q @ k.transpose(0, 2, 1) / math.sqrt(size))
        context = (probs @ v).transpose(1, 0, 2).reshape(seq, hidden)
        return self._dense(context, f"{name}.output.dense")

    def _layer(self, x: np.ndarray, i: int) -> np.ndarray:
        name = f"encoder.layer.{i}"
        x = self._norm(x + self._self_attention(x, f"{name}.attention"), f"{name}.attention.output.LayerNorm")
        ff = self._dense(_gelu(self._dense(x, f"{name}.intermediate.dense")), f"{name}.output.dense")
        return self._norm(x + ff, f"{name}.output.LayerNorm")

    def hidden_states(self, ids: list[int]) -> np.ndarray:
        """Last-layer token states for one unpadded sequence (no mask needed: every token is real)."""
        x = (
            self.w["embeddings.word_embeddings.weight"][ids]
            + self.w["embeddings.position_embeddings.weight"][: len(ids)]
            + self.w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        for i in range(self.layers):
            x = self._layer(x, i)
        return x

    def embed_ids(self, ids: list[int]) -> np.ndarray:
        pooled = np.mean(self.hidden_states(ids), axis=0)
        return np.asarray(pooled / max(float(np.linalg.norm(pooled)), 1e-12))

    def embed(self, text: str) -> np.ndarray:
        return self.embed_ids(self.tokenize(text))
