"""Out-of-fold tier probabilities on train.jsonl under grouped 5-fold CV; cached to /tmp/exp/oof_<name>.npy."""
import sys, time
import numpy as np
from issue11_common import load, folds, curve_row, fmt
import issue11_models as M
from router_tools.train.dataset import DOMAINS


def prepare(name):
    d = load(name)
    d["struct"] = np.load(f"/tmp/exp/{name}_struct.npy")
    d["domain_idx"] = np.array([DOMAINS.index(m["domain"]) if m["domain"] else -1 for m in d["meta"]])
    return d


def oof(d, fn, fs, **kw):
    out = np.zeros((len(d["ideal"]), 3))
    for tr, te in fs:
        out[te] = fn(d, tr, te, **kw)
    return out


if __name__ == "__main__":
    import os
    from issue11_stack import outer_folds
    mode = os.environ.get("CV_MODE", "grouped")
    d = prepare("train")
    fs = outer_folds(d, mode)
    for name in sys.argv[1:]:
        t = time.time()
        p = oof(d, M.BASE[name], fs)
        np.save(f"/tmp/exp/oof_{name}.npy" if mode == "grouped" else f"/tmp/exp/oof_{name}_{mode}.npy", p)
        print(f"{name:10s} {fmt(curve_row(p, d['ideal'], d['costs'])[0])}  ({time.time()-t:.0f}s)", flush=True)
