"""The ONE holdout evaluation (issue 11 part 2): finalists trained on train.jsonl, scored on holdout.jsonl in one run,
beside tfidf_lr / knn / the head refit, with the eval's 1000-resample bootstrap.

`dry` instead of `holdout` runs the identical pipeline with grouped fold 0 of train as the test set (bug check).
"""
import sys
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from router_tools.eval.curve import cost_curve, classifier_tiers
from issue11_common import folds
from issue11_cv import prepare
import issue11_models as M

target = sys.argv[1]
tr_d = prepare("train")
if target == "holdout":
    te_d = prepare("holdout")
    oof = {n: np.load(f"/tmp/exp/oof_{n}.npy") for n in ("head", "knn", "hash_lr")}
    tr_idx = np.arange(len(tr_d["ideal"]))
else:  # dry run: fold 0 of train as the test set; meta on inner OOF would be needed, reuse stack cache instead
    a, b = folds(tr_d)[0]
    te_d = {k: (v[b] if isinstance(v, np.ndarray) else [v[i] for i in b]) for k, v in tr_d.items()}
    l1 = np.load("/tmp/exp/stack_grouped.npz")["l1"][0]
    oof = {n: l1[j] for j, n in enumerate(("head", "knn", "hash_lr"))}
    tr_idx = a

# one combined dict so the model functions (fit on tr, predict te) can index both
n_tr = len(tr_d["ideal"])
comb = {}
for k in ("emb", "ideal", "struct", "domain_idx", "tokens", "outcome"):
    comb[k] = np.concatenate([tr_d[k], te_d[k]])
comb["texts"] = list(tr_d["texts"]) + list(te_d["texts"])
tr = tr_idx
te = np.arange(n_tr, n_tr + len(te_d["ideal"]))

preds = {}
for name in ("tfidf_lr", "knn", "head", "hash_lr", "lin_all"):
    preds[name] = M.BASE[name](comb, tr, te)
    print("fitted", name, flush=True)

# stack_lr_all: meta LR (C=1) on grouped-CV OOF level-1 of the training items, [log p head, knn, hash_lr, structure]
sc = StandardScaler().fit(tr_d["struct"][tr])
def meta_x(ps, struct):
    return np.hstack([np.log(np.clip(p, 1e-4, 1)) for p in ps] + [sc.transform(struct)])
meta = LogisticRegression(C=1.0, max_iter=5000).fit(
    meta_x([oof[n][tr] for n in ("head", "knn", "hash_lr")], tr_d["struct"][tr]), tr_d["ideal"][tr])
preds["stack_lr_all"] = M.p3(meta, meta_x([preds[n] for n in ("head", "knn", "hash_lr")], te_d["struct"]))

y, c, src = te_d["ideal"], te_d["costs"], np.asarray(te_d["source"])
curves = {}
print(f"\n{target}: n={len(y)}; cost ratio at <= under-routing budget [95% bootstrap, 1000 resamples]")
for name, p in preds.items():
    cv = cost_curve(p, y, c)
    curves[name] = cv
    print(f"{name:14s} " + "  ".join(f"{pt.cost_ratio:.3f} [{pt.ci95[0]:.3f},{pt.ci95[1]:.3f}]" for pt in cv.points))
t3 = {n: curves[n].points[1].cost_ratio for n in curves}
print("at 3 %: " + ", ".join(f"{n} {v:.3f} ({v / t3['tfidf_lr']:.2f}x tfidf)" for n, v in t3.items()))
# paired bootstrap of the ratio stack/tfidf at 3 %: same resample for both
from router_tools.eval.curve import build_events, _settings, _pick, _resample_weights
rng = np.random.default_rng(0)
ev = {n: build_events(preds[n], y, c) for n in ("stack_lr_all", "tfidf_lr")}
ratios = []
for _ in range(10):
    w = _resample_weights(rng, 100, len(y))
    vals = {}
    for n, e in ev.items():
        r, u = _settings(e, w, c[:, 2])
        k = _pick(r, u, 0.03)
        vals[n] = r[np.arange(len(w)), k]
    ratios.append(vals["stack_lr_all"] / vals["tfidf_lr"])
ratios = np.concatenate(ratios)
print(f"paired bootstrap stack/tfidf at 3 %: median {np.median(ratios):.3f}, 95% [{np.percentile(ratios, 2.5):.3f}, {np.percentile(ratios, 97.5):.3f}]")
tot3 = c[:, 2].sum()
print("\nper source at each router's 3 % setting: cost share / under-routed")
names = ["stack_lr_all", "tfidf_lr", "knn", "head", "lin_all"]
print(f"{'source':15s}" + "".join(f"{n:>16s}" for n in names))
tiers = {n: classifier_tiers(preds[n], curves[n].points[1].threshold) for n in names}
for s in np.unique(src):
    m = src == s
    print(f"{s:15s}" + "".join(f"{c[m][np.arange(m.sum()), tiers[n][m]-1].sum()/tot3:>10.3f}/{int((tiers[n][m] < y[m]).sum()):>4d} " for n in names))
np.savez(f"/tmp/exp/final_{target}.npz", **preds)
