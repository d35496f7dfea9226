"""Shared helpers for issue 11 part 2 experiments (grouped CV on train.jsonl only)."""
import json
import numpy as np
from router_tools.eval.curve import cost_curve, sweep, BUDGETS

def load(name):
    d = dict(np.load(f"/tmp/exp/{name}.npz"))
    meta = json.load(open(f"/tmp/exp/{name}_meta.json"))
    d["source"] = np.array([m["source"] for m in meta])
    d["texts"] = [m["query"] for m in meta]
    d["meta"] = meta
    # groups: intent; GSM8K has no intent -> each item its own group (independent problems)
    d["groups"] = np.array([f"{m['source']}:{m['intent']}" if m["intent"] is not None else f"{m['source']}:{m['id']}"
                            for m in meta])
    return d

def folds(d, k=5, seed=0):
    from sklearn.model_selection import StratifiedGroupKFold
    strat = np.array([f"{s}{t}" for s, t in zip(d["source"], d["ideal"])])
    # StratifiedGroupKFold wants integer-ish labels
    _, y = np.unique(strat, return_inverse=True)
    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(d["emb"], y, d["groups"]))

def curve_row(scores, ideal, costs, budgets=BUDGETS):
    c = cost_curve(scores, ideal, costs, budgets, resamples=0)
    return [p.cost_ratio for p in c.points], [p.threshold for p in c.points]

def fmt(vals):
    return " ".join("  -  " if v is None else f"{v:.3f}" for v in vals)
