"""Where the cost sits: oracle and structural lower bounds on train and holdout (no model)."""
import numpy as np
from issue11_common import load, curve_row, fmt
for name in ("train", "holdout"):
    d = load(name)
    c, y, src = d["costs"], d["ideal"], d["source"]
    tot3 = c[:, 2].sum()
    oracle = c[np.arange(len(y)), y - 1].sum() / tot3
    print(f"== {name}: n={len(y)} oracle cost ratio {oracle:.3f}; t2/t3 mean cost {c[:,1].sum()/tot3:.3f}, t1 {c[:,0].sum()/tot3:.3f}")
    for s in np.unique(src):
        m = src == s
        print(f"  {s:16s} n={m.sum():5d} share_t3cost={c[m,2].sum()/tot3:.3f} oracle_contrib={c[m][np.arange(m.sum()), y[m]-1].sum()/tot3:.3f}"
              f" tiers={np.bincount(y[m], minlength=4)[1:]}")
    # 'spec-perfect' router: knows source spec perfectly but outcome is a coin flip: GSM8K/MMLU scores = source base rate
    scores = np.zeros((len(y), 3))
    for s in np.unique(src):
        m = src == s
        scores[m] = np.bincount(y[m], minlength=4)[1:] / m.sum()
    print("  source-prior router (perfect source, no per-item info):", fmt(curve_row(scores, y, c)[0]))
    # perfect everywhere except outcome items get per-source prior
    sc2 = np.eye(3)[y - 1].astype(float)
    out = d["outcome"] > 0
    sc2[out] = scores[out]
    print("  oracle except outcome-labelled items at source prior:", fmt(curve_row(sc2, y, c)[0]))
    # per-subject (MMLU intent) prior for outcome items
    sc3 = sc2.copy()
    g = d["groups"]
    for gg in np.unique(g[out]):
        m = (g == gg) & out
        sc3[m] = np.bincount(y[m], minlength=4)[1:] / m.sum()
    print("  ... outcome items at per-subject prior (in-sample, optimistic):", fmt(curve_row(sc3, y, c)[0]))
