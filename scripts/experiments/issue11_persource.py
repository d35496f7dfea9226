"""Per source: each router's cost contribution (share of the all-tier-3 total) and under-routed count at its own
global <=3 % setting, plus within-source AUC for the decision that matters there."""
import sys
import warnings; warnings.filterwarnings("ignore")
import numpy as np
from sklearn.metrics import roc_auc_score
from issue11_common import load, curve_row
from router_tools.eval.curve import classifier_tiers

mode = sys.argv[1]
names = sys.argv[2:]
d = load("train")
y, c, src = d["ideal"], d["costs"], d["source"]
tot3 = c[:, 2].sum()
rows = {}
for name in names:
    f = f"/tmp/exp/oof_{name}.npy" if mode == "grouped" and not name.startswith("stack") else f"/tmp/exp/oof_{name}_{mode}.npy"
    p = np.load(f)
    r, th = curve_row(p, y, c, (0.03,))
    t = classifier_tiers(p, th[0])
    rows[name] = (r[0], t, p)
print(f"{'source':15s} " + " ".join(f"{n[:18]:>26s}" for n in names))
print(f"{'':15s} " + " ".join(f"{'cost/under/AUC':>26s}" for n in names))
for s in np.unique(src):
    m = src == s
    cells = []
    for name in names:
        _, t, p = rows[name]
        cost = c[m][np.arange(m.sum()), t[m] - 1].sum() / tot3
        under = int((t[m] < y[m]).sum())
        if len(np.unique(y[m])) > 1:
            auc = roc_auc_score(y[m] == 3, p[m, 2])
        else:  # single-tier source: AUC of this source against everything of a higher tier (p1 ranking)
            other = y > y[m][0]
            mm = m | other
            auc = roc_auc_score(~other[mm], p[mm, 0]) if y[m][0] == 1 else roc_auc_score(y[mm] == 3, p[mm, 2])
        cells.append(f"{cost:.3f}/{under:3d}/{auc:.3f}")
    print(f"{s:15s} " + " ".join(f"{x:>26s}" for x in cells))
print(f"{'total @3%':15s} " + " ".join(f"{rows[n][0]:>26.3f}" for n in names))
