"""gRPC `llmrouter.v1.Router` on a real port: Route, Complete, CompleteStream, health,
reflection, field-level INVALID_ARGUMENT."""

from __future__ import annotations

import json
from collections.abc import Callable

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_tools.local.fleet import Fleet


@pytest.fixture()
def stub(calm: Fleet) -> pb_grpc.RouterStub:
    return pb_grpc.RouterStub(grpc.insecure_channel(calm.grpc_target))


def ask(text: str, **fields: object) -> pb.CompleteRequest:
    return pb.CompleteRequest(tenant="acme", messages=[pb.Message(role="user", content=text)], **fields)  # type: ignore[arg-type]


def test_route_returns_a_decision_without_calling_a_provider(stub: pb_grpc.RouterStub) -> None:
    response = stub.Route(pb.RouteRequest(request_id="r-1", tenant="route-only",
                                          messages=[pb.Message(role="user", content="How do I reset my password?")]))
    d = response.decision
    assert response.request_id == "r-1"
    assert d.tier == 1 and d.provider.startswith("sim-fast") and d.reason == "classifier"
    assert len(d.scores) == 3 and d.policy_name == "default" and d.latency.total_ms > 0
    assert d.tier3_cost_usd > d.estimated_cost_usd > 0


def test_complete_answers_and_accounts(stub: pb_grpc.RouterStub) -> None:
    r = stub.Complete(ask("What are your opening hours on weekends?"), timeout=20)
    assert r.content.startswith("[simulated") and r.finish_reason == "stop" and r.accepted
    assert r.tier == 1 and r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert 0 < r.cost_usd < r.tier3_cost_usd
    assert r.saved_usd == pytest.approx(r.tier3_cost_usd - r.cost_usd)
    assert r.request_id  # generated when the caller sent none


def test_an_accepted_answer_is_served_from_the_cache_next_time(stub: pb_grpc.RouterStub) -> None:
    first = stub.Complete(ask("Can I get a refund for a damaged parcel?"), timeout=20)
    again = stub.Complete(ask("Can I get a refund for a damaged parcel?"), timeout=20)
    assert not first.cached and again.cached
    assert again.decision.reason == "cache_exact" and again.content == first.content and again.cost_usd == 0


def test_stream_sends_the_decision_first_then_deltas_then_done(stub: pb_grpc.RouterStub) -> None:
    events = list(stub.CompleteStream(ask("Tell me a fun fact about otters."), timeout=20))
    assert events[0].WhichOneof("event") == "decision"
    assert events[-1].WhichOneof("event") == "done"
    deltas = [e.delta for e in events if e.WhichOneof("event") == "delta"]
    assert len(deltas) > 1 and "".join(deltas) == events[-1].done.content
    assert events[-1].done.usage.output_tokens > 0


def test_pinning_a_model_serves_from_its_tier(stub: pb_grpc.RouterStub) -> None:
    r = stub.Complete(ask("Hello there!", model="sim-reasoning"), timeout=20)
    assert r.tier == 3 and r.model == "sim-reasoning"


def _violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return {v.field: v.description for v in bad.field_violations}


@pytest.mark.parametrize(("request_", "field"), [
    (pb.CompleteRequest(tenant="acme"), "messages"),
    (ask("hi", hints=pb.Hints(min_tier=4)), "min_tier"),
    (pb.CompleteRequest(messages=[pb.Message(role="wizard", content="hi")]), "messages[0].role"),
    (ask("hi", response_json_schema="{not json"), "response_json_schema"),
])
def test_malformed_requests_get_invalid_argument_naming_the_field(
    stub: pb_grpc.RouterStub, request_: pb.CompleteRequest, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Complete(request_, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert field in _violations(caught.value)


def test_an_invalid_json_schema_is_refused_before_any_provider_is_paid(stub: pb_grpc.RouterStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.Complete(ask("hi", response_json_schema=json.dumps({"type": "nope"})), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "not a valid JSON schema" in caught.value.details()  # type: ignore[attr-defined]


def test_health_and_reflection(calm: Fleet) -> None:
    channel = grpc.insecure_channel(calm.grpc_target)
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "llmrouter.v1.Router"):
        assert health.Check(health_pb2.HealthCheckRequest(service=service)).status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    answers = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {s.name for a in answers for s in a.list_services_response.service}
    assert {"llmrouter.v1.Router", "grpc.health.v1.Health"} <= names


def test_a_deadline_shorter_than_the_provider_ends_in_deadline_exceeded(
    faults: Callable[..., None], stub: pb_grpc.RouterStub
) -> None:
    for name in ("sim-fast-a", "sim-fast-b"):
        faults(name, latency_scale=0.02, extra_latency_ms=1500)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Complete(ask("What is the capital of France?"), timeout=0.5)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
