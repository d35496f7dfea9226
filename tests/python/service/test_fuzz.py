"""No input reaches a 500 (HTTP) or UNKNOWN/INTERNAL (gRPC): hypothesis mutates valid requests,
field by field and byte by byte, and sends them to a real router.

Deterministic (`derandomize`) and bounded: LLM_ROUTER_FUZZ_EXAMPLES examples per front end
(default 300, a few seconds each); `make bench` runs the same tests with thousands
(benches/fuzz.py)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_tools.local.fleet import Fleet

EXAMPLES = int(os.environ.get("LLM_ROUTER_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}, "n": {"$ref": "#/$defs/n"}},
          "required": ["answer"], "$defs": {"n": {"type": "integer"}}}
VALID_BODIES: list[dict[str, Any]] = [
    {"model": "auto", "messages": [{"role": "user", "content": "How do I reset my password?"}]},
    {"model": "auto", "stream": True, "stream_options": {"include_usage": True},
     "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Describe a sunny day."}]},
    {"model": "sim-smart", "max_tokens": 64, "temperature": 0.3, "top_p": 0.9, "stop": ["END"], "seed": 1,
     "messages": [{"role": "developer", "content": "Answer in one line."},
                  {"role": "user", "content": [{"type": "text", "text": "What is 2 plus 2?"}]},
                  {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3 plus 3?"}]},
    {"model": "auto", "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}},
     "messages": [{"role": "user", "content": "Reply in JSON: what is the capital of France?"}]},
]


def _nested(depth: int, kind: str) -> Any:
    node: Any = {}
    for _ in range(depth):
        node = [node] if kind == "list" else {"a": node}
    return node


# Values that have broken parsers before: deep nesting, references, extremes, odd text.
ODD = st.sampled_from([
    None, True, 0, -1, 2**63, -(2**63) - 1, 10**400, 1e308, -0.0, 1e-320, "", " ", "\x00", "\u2028",
    "auto", "tool", "developer", "json_schema", "json_object", "x" * 5000,
    {"$ref": "#/nope"}, {"$ref": "http://example.com/s.json"}, {"$ref": "#"}, {"$dynamicRef": "#x"},
    {"type": "object", "properties": {"a": {"$ref": "#"}}}, {"allOf": [{"$ref": "#"}]}, {"type": "nope"},
    {"$id": "http://x/", "$ref": "#"}, {"pattern": "("}, {"format": "date-time", "type": 3},
    _nested(150, "list"), _nested(150, "dict"), _nested(40, "dict"), [], {}, [[]], [{}],
])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
# Copied: a mutation edits what it inserted, and ODD's objects must stay as they are.
VALUES = st.one_of(ODD.map(copy.deepcopy), JSON_VALUES)
KEYS = st.one_of(st.sampled_from(["role", "content", "type", "schema", "json_schema", "messages", "model", "stop",
                                  "tools", "n", "stream", "$ref", "properties", "text", "name"]),
                 st.text(max_size=10))
HEADER_VALUES = st.one_of(st.sampled_from(["", "0", "-5", "1e309", "nan", "4", "2", "acme", "eu", "9" * 40]),
                          st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=12))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _mutate(data: st.DataObject, body: Any) -> Any:
    """Up to three edits, each at a random place: replace a value, delete it, or add a key."""
    body = copy.deepcopy(body)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        path = data.draw(st.sampled_from(list(_paths(body))), label="path")
        action = data.draw(st.sampled_from(["replace", "delete", "add"]), label="action")
        if not path:
            body = data.draw(VALUES) if action == "replace" else body
            continue
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = data.draw(VALUES, label="value")
        elif action == "delete":
            del parent[last]
        elif isinstance(parent[last], dict):
            parent[last][data.draw(KEYS, label="key")] = data.draw(VALUES, label="value")
        elif isinstance(parent[last], list):
            parent[last].append(data.draw(VALUES, label="value"))
    return body


def _mutate_bytes(data: st.DataObject, raw: bytes) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4), label="byte edits")):
        if not out:
            break
        at = data.draw(st.integers(0, len(out) - 1), label="at")
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]), label="byte action")
        if action == "flip":
            out[at] ^= data.draw(st.integers(1, 255), label="mask")
        elif action == "insert":
            out[at:at] = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        elif action == "delete":
            del out[at:at + data.draw(st.integers(1, 8), label="length")]
        else:
            del out[at:]
    return bytes(out)


@pytest.fixture(scope="module")
def quick(fleet: Fleet) -> Fleet:
    """Fast, fault-free providers (as `calm` gives each test; hypothesis runs one test many times)."""
    for spec in (p for t in fleet.config.tiers for p in t.providers):
        fleet.set_faults(spec.name, latency_scale=0.02)
    return fleet


@pytest.fixture(scope="module")
def http(quick: Fleet) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=quick.http_url, timeout=30) as client:
        yield client


@FUZZ
@given(data=st.data())
def test_no_http_body_or_header_reaches_a_500(http: httpx.Client, data: st.DataObject) -> None:
    body = data.draw(st.sampled_from(VALID_BODIES), label="valid body")
    mode = data.draw(st.sampled_from(["json", "schema", "bytes", "headers"]), label="mode")
    headers = {"content-type": "application/json"}
    if mode == "json":
        raw = json.dumps(_mutate(data, body)).encode()
    elif mode == "schema":
        # The response schema is the one caller-written structure a library compiles: aim there.
        schema = _mutate(data, SCHEMA) if data.draw(st.booleans(), label="edit schema") else data.draw(VALUES)
        shaped = {**VALID_BODIES[3], "response_format": {"type": "json_schema",
                                                         "json_schema": {"name": "a", "schema": schema}}}
        raw = json.dumps(shaped).encode()
    elif mode == "bytes":
        raw = _mutate_bytes(data, json.dumps(body).encode())
    else:
        raw = json.dumps(body).encode()
        name = data.draw(st.sampled_from(["tenant", "min-tier", "max-tier", "region", "timeout-ms", "tier"]))
        headers[f"x-llm-router-{name}"] = data.draw(HEADER_VALUES, label="header value")
    response = http.post("/v1/chat/completions", content=raw, headers=headers)
    event(f"{mode}: {response.status_code}")  # pytest --hypothesis-show-statistics
    assert response.status_code != 500 and response.status_code < 600, response.text[:500]
    if response.status_code in (429, 503):
        assert int(response.headers["retry-after"]) >= 1
    if response.status_code >= 400:
        assert response.json()["error"]["message"]


@pytest.fixture(scope="module")
def channel(quick: Fleet) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(quick.grpc_target) as channel:
        yield channel


def _valid_protos() -> list[pb.CompleteRequest]:
    hints = pb.Hints(min_tier=1, max_tier=3, region="eu")
    return [
        pb.CompleteRequest(tenant="fuzz", messages=[pb.Message(role="user", content="How do I reset my password?")]),
        pb.CompleteRequest(tenant="fuzz", user="u", hints=hints, max_tokens=64, temperature=0.2, top_p=0.9,
                           stop=["END"], seed=5, model="sim-smart",
                           messages=[pb.Message(role="system", content="Be brief."),
                                     pb.Message(role="user", content="What is 2 plus 2?")]),
        pb.CompleteRequest(tenant="fuzz", response_json_schema=json.dumps(SCHEMA),
                           messages=[pb.Message(role="user", content="Reply in JSON: the capital of France?")]),
    ]


@FUZZ
@given(data=st.data())
def test_no_protobuf_reaches_unknown_or_internal(channel: grpc.Channel, data: st.DataObject) -> None:
    message = data.draw(st.sampled_from(_valid_protos()), label="valid request")
    if data.draw(st.booleans(), label="field edit"):
        # Well-formed protobuf with odd field values: the request model's checks, not the parser's.
        text = data.draw(st.one_of(st.text(max_size=30), st.sampled_from(["", "tool", "auto", "{", "\x00"])))
        edit = data.draw(st.sampled_from(["tenant", "role", "content", "schema", "model", "stop", "region",
                                          "floats", "tiers"]), label="field")
        if edit == "tenant":
            message.tenant = text
        elif edit == "role":
            message.messages[0].role = text
        elif edit == "content":
            message.messages[0].content = text
        elif edit == "schema":
            message.response_json_schema = json.dumps(data.draw(VALUES, label="schema"))
        elif edit == "model":
            message.model = text
        elif edit == "stop":
            message.stop.extend([text] * data.draw(st.integers(0, 6)))
        elif edit == "region":
            message.hints.region = text
        elif edit == "floats":
            message.temperature = data.draw(st.floats(width=32), label="temperature")
            message.top_p = data.draw(st.floats(width=32), label="top_p")
        else:
            message.hints.min_tier = data.draw(st.integers(0, 2**32 - 1), label="min_tier")
            message.hints.max_tier = data.draw(st.integers(0, 2**32 - 1), label="max_tier")
        raw = message.SerializeToString()
    else:
        raw = _mutate_bytes(data, message.SerializeToString())
    method = data.draw(st.sampled_from(["Complete", "CompleteStream", "Route"]), label="method")
    path = f"/llmrouter.v1.Router/{method}"
    try:
        if method == "CompleteStream":
            list(channel.unary_stream(path, request_serializer=bytes, response_deserializer=bytes)(raw, timeout=30))
        else:
            channel.unary_unary(path, request_serializer=bytes, response_deserializer=bytes)(raw, timeout=30)
    except grpc.RpcError as e:
        code = e.code()
        event(f"{method}: {code.name}")
        assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL), e.details()
