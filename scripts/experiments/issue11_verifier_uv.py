"""Research (issue 11 part 3), run from the repo root: do bi-encoder interaction features (|u-v|, u*v) help
the pair verifier? Development pairs only, out of fold grouped by intent, as the trainer suggests settings."""
import sys, json
sys.path.insert(0, "scripts")
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold
import train_pair_verifier as t
from router_py import _core
from router_tools.eval.cache_sweep import load_pairs as load_pair_file
from router_tools.eval.neighbour_pairs import intent_questions, other_intent_neighbours

rows = [row for path in t.DEV_PAIRS for row in load_pair_file(path)]
labelled = [t.as_pair(row, f"line{n}") for n, row in enumerate(rows)]
vectors = t.embed({p for q in labelled for p in (q.cached, q.query)})
found = other_intent_neighbours(intent_questions(rows), vectors, t.NEIGHBOURS, t.MIN_SIMILARITY)
neighbours = [t.as_pair(row, "") for row in found]
every = labelled + neighbours
all_sims = t.similarities(every, vectors)
keep = all_sims >= t.MIN_SIMILARITY
pairs = [p for p, k in zip(every, keep) if k]
sims = all_sims[keep]
neighbour = np.arange(len(every))[keep] >= len(labelled)
y = np.array([p.paraphrase for p in pairs], dtype=np.int64)
groups = np.array([p.group for p in pairs])
guard_ok = np.array([_core.guard_refusal(p.query, p.cached) is None for p in pairs])
dense = t.design(pairs, sims)
U = np.array([vectors[p.cached] for p in pairs]); V = np.array([vectors[p.query] for p in pairs])
inter = np.hstack([np.abs(U - V), U * V])
trainable = ~neighbour

def oof(make, x):
    s = np.zeros(len(y))
    for tr, held in GroupKFold(n_splits=5).split(x, y, groups):
        tr = tr[trainable[tr]]
        s[held] = make().fit(x[tr], y[tr]).predict_proba(x[held])[:, 1]
    return s

mono = [1 if n in ("similarity", "swapped_similarity") else 0 for n in _core.VERIFIER_DENSE]
variants = {
  "dense_gbdt": (lambda: HistGradientBoostingClassifier(random_state=0, early_stopping=False, monotonic_cst=mono), dense),
  "inter_lr": (lambda: LogisticRegression(C=0.3, max_iter=3000), np.hstack([inter, sims[:, None]])),
  "dense+inter_gbdt": (lambda: HistGradientBoostingClassifier(random_state=0, early_stopping=False, monotonic_cst=mono + [0]*768), np.hstack([dense, inter])),
}
for name, (make, x) in variants.items():
    s = oof(make, x)
    print(name, "0.5%:", t.suggest(sims, s, guard_ok, y, neighbour), "1%:", t.suggest(sims, s, guard_ok, y, neighbour, budget=0.01), flush=True)
    np.save(f"/tmp/oof_{name}.npy", s)
