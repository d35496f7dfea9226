"""Ceiling: a router perfect on every spec-labelled item, with a given outcome predictor on GSM8K/MMLU items.

Cost at <=3 % under-routing on train (n=6125). The outcome predictor is the best found (within-source
random CV, subjects seen: the holdout's situation), and synthetic predictors of given AUC (binormal).
"""
import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import roc_auc_score
from issue11_common import load, curve_row, fmt

d = load("train")
S = np.load("/tmp/exp/train_struct.npy")
y, src, g, c = d["ideal"], d["source"], d["groups"], d["costs"]
out = d["outcome"] > 0


def best_outcome_scores():
    p = np.zeros(len(y))
    for s in ("routellm_gsm8k", "routellm_mmlu"):
        idx = np.flatnonzero(src == s)
        yy = (y[idx] == 3).astype(int)
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(idx, yy):
            a, b = idx[tr], idx[te]
            prior = yy[tr].mean()
            rate = {gg: (yy[tr][g[a] == gg].sum() + 5 * prior) / ((g[a] == gg).sum() + 5) for gg in np.unique(g[idx])}
            lo = lambda ii: np.array([np.log(rate[gg] / (1 - rate[gg])) for gg in g[ii]])[:, None]
            sc = StandardScaler().fit(S[a])
            xa = np.hstack([d["emb"][a], sc.transform(S[a]) * 0.3, lo(a)])
            xb = np.hstack([d["emb"][b], sc.transform(S[b]) * 0.3, lo(b)])
            p[b] = LogisticRegression(C=1.0, max_iter=3000).fit(xa, yy[tr]).predict_proba(xb)[:, 1]
    return p


def with_outcome(p_out):
    sc = np.eye(3)[y - 1].astype(float)
    sc[out] = np.stack([np.zeros(out.sum()), 1 - p_out[out], p_out[out]], axis=1)
    return curve_row(sc, y, c)[0]


p = best_outcome_scores()
print(f"best outcome predictor AUC {roc_auc_score(y[out]==3, p[out]):.3f}; spec-perfect router with it: {fmt(with_outcome(p))}")
rng = np.random.default_rng(0)
for auc in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95):
    from scipy.stats import norm
    mu = np.sqrt(2) * norm.ppf(auc)
    z = rng.standard_normal(len(y)) + mu * (y == 3)
    q = 1 / (1 + np.exp(-z))
    print(f"synthetic AUC {roc_auc_score(y[out]==3, q[out]):.3f}: {fmt(with_outcome(q))}")
# cost share held by outcome items
tot3 = c[:, 2].sum()
print("share of always-tier-3 cost on outcome items: %.3f; their tier-2 items' t3-t2 saving: %.3f" %
      (c[out, 2].sum() / tot3, (c[out & (y == 2), 2] - c[out & (y == 2), 1]).sum() / tot3))
