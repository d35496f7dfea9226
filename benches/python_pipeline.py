"""The baseline: the same decision pipeline written in plain Python.

tokenizers + onnxruntime (same ONNX graph and variant as the Rust core) + hnswlib (same M/ef) +
a numpy classifier head (same weights, read from head.onnx) + the same policy rules for the
default policy (cumulative under-routing risk, confidence gate, domain minimum tiers). It exists
only so `make bench` can report the Rust core against it as a ratio, on the same inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import hnswlib
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from tokenizers import Tokenizer

MAX_TOKENS = 128


@dataclass(frozen=True)
class PyDecision:
    tier: int
    reason: str
    scores: tuple[float, float, float]


class NumpyHead:
    def __init__(self, classifier_dir: Path) -> None:
        weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(classifier_dir / "head.onnx")).graph.initializer}
        self.w1, self.b1 = weights["w1"], weights["b1"]
        self.wt, self.bt, self.tt = weights["tier_w"], weights["tier_b"], float(weights["tier_temperature"].reshape(-1)[0])
        self.wd, self.bd, self.td = weights["domain_w"], weights["domain_b"], float(weights["domain_temperature"].reshape(-1)[0])
        self.domains: list[str] = json.loads((classifier_dir / "head.json").read_text())["domains"]

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, str]:
        h = np.maximum(x @ self.w1 + self.b1, 0.0)
        tier = _softmax((h @ self.wt + self.bt) / self.tt)
        domain = _softmax((h @ self.wd + self.bd) / self.td)
        return tier, self.domains[int(np.argmax(domain))]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


class PythonPipeline:
    def __init__(self, models: Path, *, variant_file: str, m: int, ef_construction: int, ef_search: int,
                 max_elements: int, underroute_risk: float, confidence_threshold: float,
                 domain_min_tier: dict[str, int], similarity_threshold: float) -> None:
        self.tokenizer = Tokenizer.from_file(str(models / "embedder" / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(models / "embedder" / variant_file), options, providers=["CPUExecutionProvider"])
        self.head = NumpyHead(models / "classifier")
        self.index = hnswlib.Index(space="ip", dim=384)
        self.index.init_index(max_elements=max_elements, M=m, ef_construction=ef_construction)
        self.index.set_ef(ef_search)
        self.index.set_num_threads(1)
        self.answers: dict[int, str] = {}
        self.exact: dict[tuple[str, str], str] = {}
        self.risk, self.gate = underroute_risk, confidence_threshold
        self.domain_min_tier, self.similarity = domain_min_tier, similarity_threshold

    def forward(self, ids: list[int]) -> np.ndarray:
        arr = np.asarray([ids], dtype=np.int64)
        out = self.session.run(["sentence_embedding"], {"input_ids": arr, "attention_mask": np.ones_like(arr)})[0]
        return np.asarray(out[0])

    def encode(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer.encode(text).ids
        if len(ids) <= MAX_TOKENS:
            return ids
        head = (MAX_TOKENS - 2 + 1) // 2
        tail = MAX_TOKENS - 2 - head
        return ids[: head + 1] + ids[len(ids) - 1 - tail :]

    def decide(self, tenant: str, text: str) -> PyDecision:
        key = (tenant, " ".join(text.split()).lower())
        if key in self.exact:
            return PyDecision(1, "cache_exact", (1.0, 0.0, 0.0))
        vector = self.forward(self.encode(text))
        if self.index.get_current_count() > 0:
            labels, distances = self.index.knn_query(vector, k=1)
            if 1.0 - float(distances[0][0]) >= self.similarity:
                return PyDecision(1, "cache_semantic", (1.0, 0.0, 0.0))
        scores, domain = self.head(vector)
        tier = self._tier(scores, domain)
        return PyDecision(tier, "classifier", (float(scores[0]), float(scores[1]), float(scores[2])))

    def _tier(self, scores: np.ndarray, domain: str) -> int:
        above = [float(scores[1] + scores[2]), float(scores[2]), 0.0]
        tier = next(t for t in (1, 2, 3) if above[t - 1] <= self.risk)
        if float(scores.max()) < self.gate:
            tier = min(3, tier + 1)
        return max(tier, self.domain_min_tier.get(domain, 1))

    def fill(self, vectors: np.ndarray, texts: list[str]) -> None:
        start = self.index.get_current_count()
        self.index.add_items(vectors, np.arange(start, start + len(vectors)))
        for i, t in enumerate(texts):
            self.exact[("bench", " ".join(t.split()).lower())] = "answer"
            self.answers[start + i] = "answer"
