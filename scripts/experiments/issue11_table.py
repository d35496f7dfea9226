"""CV table: cost ratio at 1/3/5/10 % under-routing, grouped and random 5-fold CV on train.jsonl (OOF pooled)."""
import numpy as np
from issue11_common import load, curve_row
d = load("train")
names = ["length", "struct_lr", "tfidf_lr", "hash_lr", "knn", "head", "emb_lr", "head_struct", "lin_all",
         "stack_lr_all", "stack_hgb_all", "stack_lr_all+outcome"]
for mode in ("grouped", "random"):
    print(f"## {mode} CV          1%     3%     5%    10%   3%/tfidf")
    res = {}
    for n in names:
        f = (f"/tmp/exp/oof_{n}_{mode}.npy" if (n.startswith("stack") or mode == "random") else f"/tmp/exp/oof_{n}.npy")
        res[n] = curve_row(np.load(f), d["ideal"], d["costs"])[0]
    for n in names:
        r = res[n]
        print(f"{n:22s} " + " ".join(f"{v:.3f}" for v in r) + f"   {r[1]/res['tfidf_lr'][1]:.2f}x")
