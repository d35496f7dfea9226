"""How predictable is the outcome label (did Mixtral solve it) from the text? AUC of P(tier 3) on outcome items.

Grouped CV (the cached OOF scores, subjects unseen) and a within-source random CV (subjects seen, as in the holdout).
Also: the ROC point needed to hit a cost target, and the subject-prior ceiling.
"""
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from issue11_common import load
from issue11_feats import hashed_vectorizer

d = load("train")
S = np.load("/tmp/exp/train_struct.npy")
y, src, g = d["ideal"], d["source"], d["groups"]
print("grouped-CV OOF AUC of p3 on outcome items (tier 3 vs 2):")
for name in ("head", "knn", "tfidf_lr", "hash_lr", "struct_lr", "length", "emb_lr"):
    p = np.load(f"/tmp/exp/oof_{name}.npy")
    row = []
    for s in ("routellm_gsm8k", "routellm_mmlu"):
        m = src == s
        row.append(roc_auc_score(y[m] == 3, p[m, 2]))
    m = d["outcome"] > 0
    row.append(roc_auc_score(y[m] == 3, p[m, 2]))
    print(f"  {name:10s} gsm8k {row[0]:.3f} mmlu {row[1]:.3f} both {row[2]:.3f}")

# within-source random CV: binary LR on outcome items only (subjects can be learnt)
print("within-source random 5-fold CV, binary models on outcome items only:")
texts = np.array(d["texts"], dtype=object)
for s in ("routellm_gsm8k", "routellm_mmlu"):
    idx = np.flatnonzero(src == s)
    yy = (y[idx] == 3).astype(int)
    res = {}
    for name in ("emb", "hash", "struct", "subject", "emb+subject+struct"):
        p = np.zeros(len(idx))
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(idx, yy):
            a, b = idx[tr], idx[te]
            if name == "emb":
                m = LogisticRegression(C=1.0, max_iter=3000).fit(d["emb"][a], yy[tr]); p[te] = m.predict_proba(d["emb"][b])[:, 1]
            elif name == "hash":
                v = hashed_vectorizer(); m = LogisticRegression(C=3.0, max_iter=3000).fit(v.fit_transform(texts[a]), yy[tr])
                p[te] = m.predict_proba(v.transform(texts[b]))[:, 1]
            elif name == "struct":
                sc = StandardScaler().fit(S[a]); m = LogisticRegression(C=0.3, max_iter=3000).fit(sc.transform(S[a]), yy[tr])
                p[te] = m.predict_proba(sc.transform(S[b]))[:, 1]
            elif name == "subject":
                # smoothed per-subject rate from training part
                prior = yy[tr].mean()
                for gg in np.unique(g[b]):
                    mt = g[a] == gg
                    p[te[g[b] == gg]] = (yy[tr][mt].sum() + 5 * prior) / (mt.sum() + 5)
            else:
                prior = yy[tr].mean()
                subj = np.array([(yy[tr][g[a] == gg].sum() + 5 * prior) / ((g[a] == gg).sum() + 5) for gg in g[a]])
                subj_b = np.array([(yy[tr][g[a] == gg].sum() + 5 * prior) / ((g[a] == gg).sum() + 5) for gg in g[b]])
                sc = StandardScaler().fit(S[a])
                xa = np.hstack([d["emb"][a], sc.transform(S[a]) * 0.3, np.log(subj / (1 - subj))[:, None]])
                xb = np.hstack([d["emb"][b], sc.transform(S[b]) * 0.3, np.log(subj_b / (1 - subj_b))[:, None]])
                m = LogisticRegression(C=1.0, max_iter=3000).fit(xa, yy[tr]); p[te] = m.predict_proba(xb)[:, 1]
        res[name] = roc_auc_score(yy, p)
    print(f"  {s}: " + " ".join(f"{k}={v:.3f}" for k, v in res.items()))
