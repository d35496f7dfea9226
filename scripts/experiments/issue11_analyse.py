"""Per-source decomposition of the cost at the 3 % under-routing setting, for cached OOF scores."""
import sys
import numpy as np
from issue11_common import load, curve_row
from router_tools.eval.curve import classifier_tiers

d = load(sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in ("train", "holdout") else "train")
names = [a for a in sys.argv[1:] if a not in ("train", "holdout")]
y, c, src = d["ideal"], d["costs"], d["source"]
tot3 = c[:, 2].sum()
for name in names:
    p = np.load(f"/tmp/exp/oof_{name}.npy") if not name.startswith("/") else np.load(name)
    ratios, ths = curve_row(p, y, c, (0.03,))
    t = classifier_tiers(p, ths[0])
    print(f"== {name}: cost ratio at 3% {ratios[0]:.3f} (threshold {ths[0]:.4f}); oracle 0.469")
    print(f"   {'source':16s} {'n':>5s} {'under':>5s} {'cost':>6s} {'oracle':>6s} {'excess':>6s}  routed t1/t2/t3 | for ideal=2: t1/t2/t3")
    for s in np.unique(src):
        m = src == s
        cost = c[m][np.arange(m.sum()), t[m] - 1].sum() / tot3
        orc = c[m][np.arange(m.sum()), y[m] - 1].sum() / tot3
        under = int((t[m] < y[m]).sum())
        r = np.bincount(t[m], minlength=4)[1:]
        r2 = np.bincount(t[m & (y == 2)], minlength=4)[1:]
        print(f"   {s:16s} {m.sum():5d} {under:5d} {cost:6.3f} {orc:6.3f} {cost-orc:6.3f}  {r} | {r2}")
