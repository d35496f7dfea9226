"""Issue 11 part 2 experiments: gather train/holdout arrays (tokens, cached embeddings, labels, costs).

Writes /tmp/exp/{train,holdout}.npz and meta json. Embeddings come from the eval cache (same key as
tools/router_tools/eval/baselines.cached_embeddings); token counts from the core's tokenizer.
"""
import json, sys
from pathlib import Path
import numpy as np
from router_py import _core
from router_tools.eval.baselines import file_digest, cached_embeddings
from router_tools.eval.files import load_eval_file
from router_py.runtime import model_dir, ort_library
from router_tools.eval.cli import evaluation_config, tier_prices
from router_tools.eval.compare import Pricing

models = model_dir(required=("embedder/manifest.json",))
key = file_digest(models / "embedder" / "manifest.json")
router = _core.Router(models, ort_library=ort_library(), sessions=1)
config = evaluation_config(None)
prices = tier_prices(config)
out_tok = config.policy.expected_output_tokens
print("prices", prices, "out", out_tok)

def no_embed(texts):
    raise RuntimeError("not cached")

for name in ("train", "holdout"):
    path = Path(f"data/routing/{name}.jsonl")
    items = load_eval_file(path)
    texts = [it.query for it in items]
    emb = cached_embeddings(path, texts, no_embed, models / "eval-cache", key)
    tokens = [router.count_tokens(t) for t in texts]
    costs = Pricing(prices=prices, input_tokens=tokens, output_tokens=out_tok).costs()
    groups = [f"{it.source}:{it.intent}" if it.intent is not None else f"{it.source}:{it.id}" for it in items]
    np.savez(f"/tmp/exp/{name}.npz", emb=emb, tokens=np.array(tokens), costs=costs,
             ideal=np.array([it.ideal_tier for it in items]),
             spec=np.array([it.spec_tier or 0 for it in items]),
             outcome=np.array([it.outcome_tier or 0 for it in items]))
    meta = [{"id": it.id, "source": it.source, "intent": it.intent, "domain": it.domain, "query": it.query,
             "tags": list(it.tags)} for it in items]
    Path(f"/tmp/exp/{name}_meta.json").write_text(json.dumps(meta))
    print(name, emb.shape, np.mean(tokens))
