"""The `llm-router train` subcommand: labelled JSONL in, the classifier head (head.onnx, head.json) out."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from router_py.runtime import model_dir
from router_tools.train.dataset import load_golden
from router_tools.train.embedder import core_embed_fn
from router_tools.train.train import train_head


def add_train_command(sub: argparse._SubParsersAction[Any]) -> None:
    train = sub.add_parser("train", help="train the classifier head from labelled JSONL")
    train.add_argument("file", type=Path)
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--seed", type=int, default=0)
    train.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    items = load_golden(args.file)
    # Training needs only the embedder: the classifier is what it builds.
    models = model_dir(required=("embedder/manifest.json",))
    report = train_head(items, core_embed_fn(models), args.out, seed=args.seed)
    print(report.model_dump_json(indent=2))
    return 0
