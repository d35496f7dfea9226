"""A realistic mixed workload: held-out queries of every tier across three tenants, questions a
support queue asks again (exact repeats) or in other words (paraphrases), and some callers that
want JSON back."""

from __future__ import annotations

import json
import random
from pathlib import Path

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_tools.train.dataset import GoldenItem, load_golden

# The repository's data/ (tools/router_tools/demo/ is three folders down): the demo runs from a checkout.
DATA = Path(__file__).resolve().parents[3] / "data"
HOLDOUT = DATA / "routing" / "holdout.jsonl"
PARAPHRASES = DATA / "semantic_guard" / "pairs.jsonl"
TENANTS = ("acme", "globex", "initech")
TICKET_SCHEMA = json.dumps({
    "type": "object",
    "properties": {"summary": {"type": "string"}, "priority": {"enum": ["low", "medium", "high"]}},
    "required": ["summary", "priority"],
})


# A repeat comes this many requests after its original at least, so the original has been
# answered (and cached) by the time the repeat is sent at the demo's concurrency.
GAP = 150


def _request(rng: random.Random, text: str, i: int, schema: str = "", tenant: str | None = None) -> pb.CompleteRequest:
    return pb.CompleteRequest(request_id=f"demo-{i}", tenant=tenant or rng.choice(TENANTS),
                              messages=[pb.Message(role="user", content=text)], response_json_schema=schema)


# Share of held-out queries by their ideal tier: the hold-out itself is a third each, while the
# traffic this product is for (support, assistants, internal tools) is mostly easy.
MIX = {1: 0.55, 2: 0.30, 3: 0.15}


def _sample(rng: random.Random, n: int) -> list[GoldenItem]:
    items = load_golden(HOLDOUT)
    picked: list[GoldenItem] = []
    for tier, share in MIX.items():
        picked += rng.sample([it for it in items if it.ideal_tier == tier], round(n * share))
    return picked


def build(n: int, seed: int) -> list[pb.CompleteRequest]:
    """72% held-out queries (mixed by MIX) and 6% support questions, asked once; the same 6%
    asked again later in other words; 8% exact repeats of earlier requests; 8% asking for JSON
    (a ticket summary). Each repeat comes well after its original."""
    rng = random.Random(seed)
    items = _sample(rng, int(n * 0.72))
    pairs = [json.loads(line) for line in PARAPHRASES.read_text().splitlines() if line.strip()]
    pairs = rng.sample([p for p in pairs if p["kind"] == "paraphrase"], int(n * 0.06))
    texts = [it.query for it in items] + [p["a"] for p in pairs]
    rng.shuffle(texts)
    requests = [_request(rng, t, i) for i, t in enumerate(texts)]
    for pair in pairs:  # the same tenant asks again, later, in other words
        at, original = next((i, r) for i, r in enumerate(requests) if r.messages[0].content == pair["a"])
        rephrased = _request(rng, pair["b"], len(requests), tenant=original.tenant)
        requests.insert(rng.randint(min(at + GAP, len(requests)), len(requests)), rephrased)
    while len(requests) < int(n * 0.92):
        at = rng.randrange(len(requests) // 2)
        repeat = pb.CompleteRequest()
        repeat.CopyFrom(requests[at])
        requests.insert(rng.randint(min(at + GAP, len(requests)), len(requests)), repeat)
    for i in range(n - len(requests)):
        ticket = f"Summarise this support ticket as JSON: {rng.choice(items).query[:300]}"
        requests.insert(rng.randint(0, len(requests)), _request(rng, ticket, 10_000 + i, TICKET_SCHEMA))
    return requests
