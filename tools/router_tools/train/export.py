"""Write a trained head as ONNX (temperatures baked in) plus its head.json metadata."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from router_tools.train.dataset import TIERS
from router_tools.train.head import HeadParams

ONNX_FILE = "head.onnx"
METADATA_FILE = "head.json"
METADATA_FORMAT = 1
INPUT = "embedding"
TIER_OUTPUT = "tier_probs"
DOMAIN_OUTPUT = "domain_probs"
# Same opset/IR as the embedder graph, so one ONNX Runtime build loads both.
OPSET = 17
IR_VERSION = 8


def _initializer(name: str, value: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name)


def _probs_branch(prefix: str, weight: np.ndarray, bias: np.ndarray, temperature: float,
                  output: str) -> tuple[list[onnx.NodeProto], list[TensorProto]]:
    inits = [
        _initializer(f"{prefix}_w", weight),
        _initializer(f"{prefix}_b", bias),
        _initializer(f"{prefix}_temperature", np.array(temperature, dtype=np.float32)),
    ]
    nodes = [
        helper.make_node("MatMul", ["hidden", f"{prefix}_w"], [f"{prefix}_mm"]),
        helper.make_node("Add", [f"{prefix}_mm", f"{prefix}_b"], [f"{prefix}_logits"]),
        helper.make_node("Div", [f"{prefix}_logits", f"{prefix}_temperature"], [f"{prefix}_scaled"]),
        helper.make_node("Softmax", [f"{prefix}_scaled"], [output], axis=-1),
    ]
    return nodes, inits


def build_head_model(params: HeadParams, temperature_tier: float,
                     temperature_domain: float) -> onnx.ModelProto:
    """The graph: embedding -> ReLU(MatMul+Add) -> two softmax(logits / T) outputs."""
    nodes = [
        helper.make_node("MatMul", [INPUT, "w1"], ["hidden_mm"]),
        helper.make_node("Add", ["hidden_mm", "b1"], ["hidden_pre"]),
        helper.make_node("Relu", ["hidden_pre"], ["hidden"]),
    ]
    inits = [_initializer("w1", params.w1), _initializer("b1", params.b1)]
    for prefix, w, b, t, out in (
        ("tier", params.w_tier, params.b_tier, temperature_tier, TIER_OUTPUT),
        ("domain", params.w_domain, params.b_domain, temperature_domain, DOMAIN_OUTPUT),
    ):
        branch_nodes, branch_inits = _probs_branch(prefix, w, b, t, out)
        nodes += branch_nodes
        inits += branch_inits
    graph = helper.make_graph(
        nodes,
        "router_classifier_head",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", params.dim])],
        [
            helper.make_tensor_value_info(TIER_OUTPUT, TensorProto.FLOAT, ["batch", len(TIERS)]),
            helper.make_tensor_value_info(DOMAIN_OUTPUT, TensorProto.FLOAT, ["batch", params.n_domains]),
        ],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="router_tools.train")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def head_metadata(params: HeadParams, domains: Sequence[str], temperature_tier: float,
                  temperature_domain: float, train: dict[str, Any]) -> dict[str, Any]:
    """The head.json document the Rust core reads beside head.onnx."""
    if len(domains) != params.n_domains:
        raise ValueError(f"{len(domains)} domain names for {params.n_domains} domain outputs")
    return {
        "format": METADATA_FORMAT,
        "dim": params.dim,
        "tiers": list(TIERS),
        "domains": list(domains),
        "temperature_tier": temperature_tier,
        "temperature_domain": temperature_domain,
        "train": train,
    }


def export_head(params: HeadParams, domains: Sequence[str], temperature_tier: float,
                temperature_domain: float, train: dict[str, Any],
                out_dir: Path) -> tuple[Path, Path]:
    """Write head.onnx and head.json into out_dir; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build_head_model(params, temperature_tier, temperature_domain)
    meta = head_metadata(params, domains, temperature_tier, temperature_domain, train)
    onnx_path, meta_path = out_dir / ONNX_FILE, out_dir / METADATA_FILE
    onnx.save_model(model, onnx_path)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return onnx_path, meta_path
