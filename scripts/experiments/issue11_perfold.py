"""Per-fold cost ratio at 3 % (each fold's test part evaluated on its own), grouped and random CV."""
import numpy as np
from issue11_common import load, curve_row
from issue11_cv import prepare
from issue11_stack import outer_folds
d = prepare("train")
names = ["tfidf_lr", "knn", "head", "head_struct", "lin_all", "stack_lr_all", "stack_hgb_all"]
for mode in ("grouped", "random"):
    fs = outer_folds(d, mode)
    print(f"## {mode}: 3 % per fold, then mean and ratio to tfidf per fold")
    res = {}
    for n in names:
        f = (f"/tmp/exp/oof_{n}_{mode}.npy" if (n.startswith("stack") or mode == "random") else f"/tmp/exp/oof_{n}.npy")
        p = np.load(f)
        res[n] = np.array([curve_row(p[te], d["ideal"][te], d["costs"][te], (0.03,))[0][0] for _, te in fs])
    for n in names:
        r = res[n] / res["tfidf_lr"]
        print(f"{n:15s} " + " ".join(f"{v:.3f}" for v in res[n]) + f"  mean {res[n].mean():.3f}  ratio/fold " +
              " ".join(f"{v:.2f}" for v in r) + f"  mean {r.mean():.2f}")
