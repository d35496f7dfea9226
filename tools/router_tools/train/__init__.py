"""Training of the classifier head (`llm-router train`): data loading, numpy training, ONNX export."""

from router_tools.train.dataset import DOMAINS, TIERS, GoldenFileError, GoldenItem, load_golden
from router_tools.train.train import TrainReport, train_head

__all__ = ["DOMAINS", "TIERS", "GoldenFileError", "GoldenItem", "TrainReport", "load_golden", "train_head"]
