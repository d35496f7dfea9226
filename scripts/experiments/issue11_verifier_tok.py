"""Research (issue 11 part 3), run from the repo root: contextual token alignment (BERTScore-like, over
MiniLM's last layer with IDF weights) as pair verifier features. Development pairs only, out of fold
grouped by intent."""
import sys, math
sys.path.insert(0, "scripts")
import numpy as np, onnx, onnxruntime as ort
from tokenizers import Tokenizer
from collections import Counter
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import GroupKFold
import train_pair_verifier as t
from router_py.runtime import model_dir
from router_py import _core
from router_tools.eval.cache_sweep import load_pairs as load_pair_file
from router_tools.eval.neighbour_pairs import intent_questions, other_intent_neighbours

D = str(model_dir(("embedder/manifest.json",)) / "embedder") + "/"
m = onnx.load(D + "model_fp32.onnx")
m.graph.output.append(onnx.helper.make_tensor_value_info("layernormalization_214", onnx.TensorProto.FLOAT, None))
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1
sess = ort.InferenceSession(m.SerializeToString(), opts)
tok = Tokenizer.from_file(D + "tokenizer.json"); tok.no_padding(); tok.no_truncation()

rows = [row for path in t.DEV_PAIRS for row in load_pair_file(path)]
labelled = [t.as_pair(row, f"line{n}") for n, row in enumerate(rows)]
vectors = t.embed({p for q in labelled for p in (q.cached, q.query)})
found = other_intent_neighbours(intent_questions(rows), vectors, t.NEIGHBOURS, t.MIN_SIMILARITY)
every = labelled + [t.as_pair(row, "") for row in found]
all_sims = t.similarities(every, vectors)
keep = all_sims >= t.MIN_SIMILARITY
pairs = [p for p, k in zip(every, keep) if k]
sims = all_sims[keep]
neighbour = np.arange(len(every))[keep] >= len(labelled)
y = np.array([p.paraphrase for p in pairs], dtype=np.int64)
groups = np.array([p.group for p in pairs])
guard_ok = np.array([_core.guard_refusal(p.query, p.cached) is None for p in pairs])

texts = sorted({s for p in pairs for s in (p.cached, p.query)})
print(len(texts), "texts", flush=True)
states, ids_of = {}, {}
for i in range(0, len(texts), 64):
    batch = texts[i:i+64]
    enc = [tok.encode(x) for x in batch]
    L = max(len(e.ids) for e in enc)
    ids = np.zeros((len(batch), L), np.int64); mask = np.zeros((len(batch), L), np.int64)
    for j, e in enumerate(enc):
        ids[j, :len(e.ids)] = e.ids; mask[j, :len(e.ids)] = 1
    _, h = sess.run(None, {"input_ids": ids, "attention_mask": mask})
    for j, (x, e) in enumerate(zip(batch, enc)):
        n = len(e.ids)
        v = h[j, 1:n-1]
        states[x] = v / np.linalg.norm(v, axis=1, keepdims=True)
        ids_of[x] = e.ids[1:n-1]
print("encoded", flush=True)
df = Counter(i for x in texts for i in set(ids_of[x]))
N = len(texts)
idf = {i: math.log((N + 1) / (c + 1)) + 1 for i, c in df.items()}

def side(a, b, ida):
    c = states[a] @ states[b].T  # tokens of a x tokens of b
    best = c.max(axis=1)
    w = np.array([idf.get(i, math.log(N + 1) + 1) for i in ida])
    srt = np.sort(best)
    return [float((best * w).sum() / w.sum()), float(srt[0]), float(srt[1] if len(srt) > 1 else srt[0]),
            float((best < 0.5).sum()), float((best < 0.7).sum()), float(((1 - best) * w).sum()),
            float(w[best < 0.6].sum()), float(len(best))]

def feats(p):
    f1 = side(p.query, p.cached, ids_of[p.query]); f2 = side(p.cached, p.query, ids_of[p.cached])
    lo = [min(a, b) for a, b in zip(f1, f2)]; hi = [max(a, b) for a, b in zip(f1, f2)]
    return lo + hi

tokf = np.array([feats(p) for p in pairs], np.float32)
dense = t.design(pairs, sims)
trainable = ~neighbour
mono = [1 if n in ("similarity", "swapped_similarity") else 0 for n in _core.VERIFIER_DENSE]

def oof(x, cst):
    s = np.zeros(len(y))
    for tr, held in GroupKFold(n_splits=5).split(x, y, groups):
        tr = tr[trainable[tr]]
        s[held] = HistGradientBoostingClassifier(random_state=0, early_stopping=False, monotonic_cst=cst).fit(x[tr], y[tr]).predict_proba(x[held])[:, 1]
    return s

for name, x, cst in [("tok+sim", np.hstack([sims[:, None], tokf]), [1] + [0]*tokf.shape[1]),
                     ("dense+tok", np.hstack([dense, tokf]), mono + [0]*tokf.shape[1])]:
    s = oof(x, cst)
    print(name, "0.5%:", t.suggest(sims, s, guard_ok, y, neighbour), "1%:", t.suggest(sims, s, guard_ok, y, neighbour, budget=0.01), flush=True)
    print(name, "no guard 1%:", t.suggest(sims, s, np.ones_like(guard_ok), y, neighbour, budget=0.01), flush=True)
