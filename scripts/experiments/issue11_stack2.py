"""Extra level-1 model(s) for the stack, cached separately: issue11_stack2.py build|meta grouped|random."""
import sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.ensemble import HistGradientBoostingClassifier as HGB
from issue11_common import curve_row, fmt
from issue11_cv import prepare
from issue11_stack import split, outer_folds, LEVEL1
import issue11_models as M

EXTRA = ("outcome_lr",)
what, mode = sys.argv[1], sys.argv[2]
d = prepare("train")
n = len(d["ideal"])
if what == "build":
    of = outer_folds(d, mode)
    l1 = np.zeros((len(of), len(EXTRA), n, 3))
    for f, (tr, te) in enumerate(of):
        for j, name in enumerate(EXTRA):
            for a, b in split(d, tr, mode, 4, 1):
                l1[f, j, b] = M.BASE[name](d, a, b)
            l1[f, j, te] = M.BASE[name](d, tr, te)
        print("fold", f, flush=True)
    np.savez(f"/tmp/exp/stack_{mode}_extra.npz", l1=l1)
else:
    z = np.load(f"/tmp/exp/stack_{mode}.npz")
    l1 = np.concatenate([z["l1"], np.load(f"/tmp/exp/stack_{mode}_extra.npz")["l1"]], axis=1)
    names = LEVEL1 + EXTRA
    fm = z["folds"]

    def run(learner, use, use_struct=True):
        sel = [names.index(u) for u in use]
        out = np.zeros((n, 3))
        for f in range(len(fm)):
            te, tr = np.flatnonzero(fm[f]), np.flatnonzero(~fm[f])
            sc = StandardScaler().fit(d["struct"][tr])
            def x(idx):
                zz = [np.log(np.clip(l1[f, j, idx], 1e-4, 1)) for j in sel]
                # outcome model: use its logit only
                zz = [a[:, 1:] if names[j] in EXTRA else a for a, j in zip(zz, sel)]
                parts = zz + ([sc.transform(d["struct"][idx])] if use_struct else [])
                return np.hstack(parts)
            out[te] = M.p3(learner().fit(x(tr), d["ideal"][tr]), x(te))
        return out
    runs = {
        "lr_all+outcome": (lambda: LogisticRegression(C=1.0, max_iter=5000), names),
        "hgb_all+outcome": (lambda: HGB(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0), names),
    }
    for name, (learner, use) in runs.items():
        p = run(learner, use)
        np.save(f"/tmp/exp/oof_stack_{name}_{mode}.npy", p)
        print(f"stack_{name:22s} {fmt(curve_row(p, d['ideal'], d['costs'])[0])}", flush=True)
