"""A realistic mixed workload: held-out queries of every tier across three tenants, questions a
support queue asks again (exact repeats) or in other words (paraphrases), and some callers that
want JSON back."""

from __future__ import annotations

import json
import random
from pathlib import Path

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.train.dataset import load_golden

DATA = Path(__file__).resolve().parents[2] / "data"
HOLDOUT = DATA / "routing" / "holdout.jsonl"
PARAPHRASES = DATA / "semantic_guard" / "pairs.jsonl"
TENANTS = ("acme", "globex", "initech")
TICKET_SCHEMA = json.dumps({
    "type": "object",
    "properties": {"summary": {"type": "string"}, "priority": {"enum": ["low", "medium", "high"]}},
    "required": ["summary", "priority"],
})


def _request(rng: random.Random, text: str, i: int, schema: str = "") -> pb.CompleteRequest:
    return pb.CompleteRequest(request_id=f"demo-{i}", tenant=rng.choice(TENANTS),
                              messages=[pb.Message(role="user", content=text)], response_json_schema=schema)


def build(n: int, seed: int) -> list[pb.CompleteRequest]:
    """70% fresh held-out queries, 10% of them asked again, 12% paraphrase pairs, 8% asking for
    JSON (a ticket summary), shuffled with each repeat after its original."""
    rng = random.Random(seed)
    items = rng.sample(load_golden(HOLDOUT), int(n * 0.78))
    pairs = [json.loads(line) for line in PARAPHRASES.read_text().splitlines() if line.strip()]
    pairs = rng.sample([p for p in pairs if p["kind"] == "paraphrase"], int(n * 0.06))
    texts = [it.query for it in items] + [p["a"] for p in pairs]
    rng.shuffle(texts)
    requests = [_request(rng, t, i) for i, t in enumerate(texts)]
    for pair in pairs:  # the paraphrase comes later than the question it rephrases
        at = next(i for i, r in enumerate(requests) if r.messages[0].content == pair["a"])
        requests.insert(rng.randint(at + 1, len(requests)), _request(rng, pair["b"], len(requests)))
    while len(requests) < int(n * 0.92):
        original = rng.choice(requests[: len(requests) // 2])
        repeat = pb.CompleteRequest()
        repeat.CopyFrom(original)
        requests.insert(rng.randint(requests.index(original) + 1, len(requests)), repeat)
    for i in range(n - len(requests)):
        ticket = f"Summarise this support ticket as JSON: {rng.choice(items).query[:300]}"
        requests.insert(rng.randint(0, len(requests)), _request(rng, ticket, 10_000 + i, TICKET_SCHEMA))
    return requests
