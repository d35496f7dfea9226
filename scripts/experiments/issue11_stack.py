"""Stacking: level-1 tier probabilities of base routers (inner grouped OOF on each outer training part),
then a small meta-model on [log-probs, structure]. Level-1 features cached per outer fold.

usage: issue11_stack.py build [grouped|random]   # base models, cached to /tmp/exp/stack_<mode>.npz
       issue11_stack.py meta [grouped|random]    # meta-learners on the cache
"""
import sys, time
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from issue11_common import curve_row, fmt, folds
from issue11_cv import prepare
import issue11_models as M

LEVEL1 = ("head", "knn", "hash_lr")


def split(d, idx, mode, k, seed):
    strat = np.array([f"{s}{t}" for s, t in zip(d["source"][idx], d["ideal"][idx])])
    _, yy = np.unique(strat, return_inverse=True)
    if mode == "grouped":
        return [(idx[a], idx[b]) for a, b in
                StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(idx, yy, d["groups"][idx])]
    return [(idx[a], idx[b]) for a, b in StratifiedKFold(k, shuffle=True, random_state=seed).split(idx, yy)]


def outer_folds(d, mode):
    return split(d, np.arange(len(d["ideal"])), mode, 5, 0)


def build(d, mode):
    n = len(d["ideal"])
    of = outer_folds(d, mode)
    # level-1 for every (outer fold, item): inner OOF for the outer-train items, outer-fit for the test items
    l1 = np.zeros((len(of), len(LEVEL1), n, 3))
    for f, (tr, te) in enumerate(of):
        t = time.time()
        for j, name in enumerate(LEVEL1):
            fn = M.BASE[name]
            for a, b in split(d, tr, mode, 4, 1):
                l1[f, j, b] = fn(d, a, b)
            l1[f, j, te] = fn(d, tr, te)
        print(f"fold {f} done {time.time()-t:.0f}s", flush=True)
    np.savez(f"/tmp/exp/stack_{mode}.npz", l1=l1, folds=np.array([np.isin(np.arange(n), te) for _, te in of]))


def meta_x(l1, struct, idx, sc, use_struct=True):
    z = np.log(np.clip(l1[:, idx], 1e-4, 1)).transpose(1, 0, 2).reshape(len(idx), -1)
    parts = [z]
    if use_struct:
        parts.append(sc.transform(struct[idx]))
    return np.hstack(parts)


def meta(d, mode, learner, use=LEVEL1, use_struct=True):
    z = np.load(f"/tmp/exp/stack_{mode}.npz")
    l1, fm = z["l1"], z["folds"]
    sel = [LEVEL1.index(u) for u in use]
    n = len(d["ideal"])
    out = np.zeros((n, 3))
    for f in range(len(fm)):
        te, tr = np.flatnonzero(fm[f]), np.flatnonzero(~fm[f])
        sc = StandardScaler().fit(d["struct"][tr])
        xa = meta_x(l1[f, sel], d["struct"], tr, sc, use_struct)
        xb = meta_x(l1[f, sel], d["struct"], te, sc, use_struct)
        m = learner().fit(xa, d["ideal"][tr])
        out[te] = M.p3(m, xb)
    return out


if __name__ == "__main__":
    what, mode = sys.argv[1], sys.argv[2]
    d = prepare("train")
    if what == "build":
        build(d, mode)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier as HGB
        lr = lambda C: (lambda: LogisticRegression(C=C, max_iter=5000))
        runs = {
            "lr_all": (lr(1.0), LEVEL1, True),
            "lr_all_C0.1": (lr(0.1), LEVEL1, True),
            "lr_nostruct": (lr(1.0), LEVEL1, False),
            "lr_head_knn_struct": (lr(1.0), ("head", "knn"), True),
            "lr_head_hash_struct": (lr(1.0), ("head", "hash_lr"), True),
            "hgb_all": (lambda: HGB(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=0), LEVEL1, True),
        }
        for name, (learner, use, us) in runs.items():
            p = meta(d, mode, learner, use, us)
            np.save(f"/tmp/exp/oof_stack_{name}_{mode}.npy", p)
            print(f"stack_{name:22s} {fmt(curve_row(p, d['ideal'], d['costs'])[0])}", flush=True)
