"""Strict requests on a real router: unknown or unsupported fields, bad router headers, oversized
bodies and conversations, and malformed protobuf are refused with a status naming what was
wrong; nothing is silently dropped. Every 429/503 carries Retry-After."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.service.errors import jittered, retry_after_header
from router_py.service.limits import MAX_BODY_BYTES, MAX_MESSAGES
from router_tools.local.fleet import Fleet

Body = dict[str, Any]


def _body(**fields: Any) -> Body:
    return {"model": "auto", "messages": [{"role": "user", "content": "How do I reset my password?"}], **fields}


def _post(fleet: Fleet, body: Body, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{fleet.http_url}/v1/chat/completions", json=body, headers=headers, timeout=20)


def _refused(response: httpx.Response, param: str, status: int = 400) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    return str(error["message"])


# -- HTTP body -------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [
    ("tools", [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]),
    ("tool_choice", "auto"),
    ("functions", [{"name": "lookup", "parameters": {"type": "object"}}]),
    ("function_call", "auto"),
    ("parallel_tool_calls", False),
])
def test_tool_fields_are_refused_not_stripped(calm: Fleet, field: str, value: object) -> None:
    message = _refused(_post(calm, _body(**{field: value})), field)
    assert "tool calling is not supported" in message


def test_tool_messages_and_tool_calls_are_refused(calm: Fleet) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    with_call = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [call]}]
    _refused(_post(calm, _body(messages=with_call)), "messages[1].tool_calls")
    tool = [{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "c1", "content": "42"}]
    assert "not supported" in _refused(_post(calm, _body(messages=tool)), "messages[1].role")


def test_unknown_fields_are_refused_by_name(calm: Fleet) -> None:
    _refused(_post(calm, _body(temprature=0.2)), "temprature")
    _refused(_post(calm, _body(messages=[{"role": "user", "content": "hi", "colour": "red"}])), "messages[0].colour")
    _refused(_post(calm, _body(response_format={"type": "json_object", "extra": 1})), "response_format.extra")


def test_neutral_values_are_accepted_and_others_refused(calm: Fleet) -> None:
    neutral = _body(presence_penalty=0, frequency_penalty=0.0, logit_bias={}, logprobs=False, top_logprobs=0,
                    store=False, service_tier="auto", metadata={"team": "support"}, user="u-1", n=1)
    assert _post(calm, neutral).status_code == 200
    for field, value in [("presence_penalty", 0.5), ("frequency_penalty", -1), ("logit_bias", {"50256": -100}),
                         ("logprobs", True), ("top_logprobs", 3), ("store", True), ("service_tier", "priority")]:
        assert "only" in _refused(_post(calm, _body(**{field: value})), field)


def test_an_assistant_message_echoed_back_from_a_response_is_accepted(calm: Fleet) -> None:
    echoed: Body = {"role": "assistant", "content": "Hello!", "refusal": None, "tool_calls": None, "function_call": None,
              "annotations": [], "audio": None}
    body = _body(messages=[{"role": "user", "content": "hi"}, echoed, {"role": "user", "content": "And now?"}])
    assert _post(calm, body).status_code == 200


def test_sampling_fields_are_accepted(calm: Fleet) -> None:
    for stop in ("END", ["END", "STOP"]):
        r = _post(calm, _body(top_p=0.9, seed=42, stop=stop))
        assert r.status_code == 200, r.text
    _refused(_post(calm, _body(stop=["a", "b", "c", "d", "e"])), "stop")
    _refused(_post(calm, _body(top_p=0)), "top_p")


# -- HTTP headers ----------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "value"), [
    ("x-llm-router-tenant", ""),
    ("x-llm-router-region", ""),
    ("x-llm-router-timeout-ms", "-5"),
    ("x-llm-router-timeout-ms", "0"),
    ("x-llm-router-timeout-ms", "nan"),
    ("x-llm-router-timeout-ms", "inf"),
    ("x-llm-router-timeout-ms", "soon"),
    ("x-llm-router-min-tier", "4"),
    ("x-llm-router-max-tier", "two"),
    ("x-llm-router-tenent", "acme"),
])
def test_bad_router_headers_are_a_400_naming_the_header(calm: Fleet, header: str, value: str) -> None:
    _refused(_post(calm, _body(), headers={header: value}), header)


def test_good_router_headers_are_used(calm: Fleet) -> None:
    headers = {"x-llm-router-tenant": "acme", "x-llm-router-min-tier": "2", "x-llm-router-timeout-ms": "15000"}
    r = _post(calm, _body(), headers=headers)
    assert r.status_code == 200 and r.json()["llm_router"]["tier"] >= 2


# -- sizes -----------------------------------------------------------------------------------


def _raw_http(fleet: Fleet, head: bytes, body_parts: list[bytes]) -> bytes:
    """What the router answers to `head` and whatever of `body_parts` it lets us send; the
    socket timeout only ends a hung test, it is not what is being tested."""
    with socket.create_connection(("127.0.0.1", fleet.http_port), timeout=20) as s:
        s.sendall(head)
        for part in body_parts:
            try:
                s.sendall(part)
            except OSError:  # the router answered and closed: it stopped reading, as it should
                break
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_a_declared_body_over_the_limit_is_a_413_before_it_is_sent(calm: Fleet) -> None:
    declared = 100 * 1024 * 1024
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {declared}\r\n\r\n").encode()
    # Only the head and a few bytes are ever sent: a router waiting for the 100 MB would hang here.
    answer = _raw_http(calm, head, [b'{"model": "auto", '])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_chunked_body_over_the_limit_is_a_413_once_it_passes_the_limit(calm: Fleet) -> None:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (MAX_BODY_BYTES // len(piece) + 2)
    answer = _raw_http(calm, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_too_many_messages_or_tokens_is_a_400(calm: Fleet) -> None:
    many = [{"role": "user", "content": "hi"}] * (MAX_MESSAGES + 1)
    assert "messages" in _refused(_post(calm, _body(messages=many)), "messages")
    # ~225k estimated tokens in 900 kB: under the body limit, over the conversation's.
    long = [{"role": "user", "content": "word " * 180_000}]
    assert "tokens" in _refused(_post(calm, _body(messages=long)), "messages")


# -- gRPC ------------------------------------------------------------------------------------


@pytest.fixture()
def channel(calm: Fleet) -> grpc.Channel:
    return grpc.insecure_channel(calm.grpc_target)


def _ask(text: str = "How do I reset my password?", **fields: Any) -> pb.CompleteRequest:
    return pb.CompleteRequest(**{"tenant": "acme", "messages": [pb.Message(role="user", content=text)], **fields})


def _status(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value


def _violations(error: grpc.RpcError) -> dict[str, str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(d.Unpack(bad) for d in status.details)
    return {v.field: v.description for v in bad.field_violations}


def test_an_empty_tenant_is_invalid_argument(channel: grpc.Channel) -> None:
    stub = pb_grpc.RouterStub(channel)
    for call in (lambda: stub.Complete(_ask(tenant=""), timeout=10),
                 lambda: stub.Route(pb.RouteRequest(messages=[pb.Message(role="user", content="hi")]), timeout=10)):
        error = _status(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "tenant" in _violations(error)


def test_grpc_sampling_fields_are_accepted_and_checked(channel: grpc.Channel) -> None:
    stub = pb_grpc.RouterStub(channel)
    r = stub.Complete(_ask(f"Say hi ({uuid.uuid4().hex[:6]})", top_p=0.9, stop=["END"], seed=3), timeout=20)
    assert r.content
    error = _status(lambda: stub.Complete(_ask(stop=["a", "b", "c", "d", "e"]), timeout=10))
    assert "stop" in _violations(error)
    error = _status(lambda: stub.Complete(_ask(messages=[pb.Message(role="user", content="hi"),
                                                                     pb.Message(role="tool", content="42")]), timeout=10))
    assert "not supported" in _violations(error)["messages"]


def test_malformed_protobuf_is_invalid_argument(channel: grpc.Channel) -> None:
    raw = channel.unary_unary("/llmrouter.v1.Router/Complete", request_serializer=lambda b: b,
                              response_deserializer=lambda b: b)
    for garbage in (b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x22\x03\x12\x02\xc3\x28"):  # bad tag, short, bad UTF-8
        error = _status(lambda: raw(garbage, timeout=10))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
    stream = channel.unary_stream("/llmrouter.v1.Router/CompleteStream", request_serializer=lambda b: b,
                                  response_deserializer=lambda b: b)
    error = _status(lambda: list(stream(b"\xff\xff", timeout=10)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_grpc_sizes_are_bounded(channel: grpc.Channel) -> None:
    stub = pb_grpc.RouterStub(channel)
    error = _status(lambda: stub.Complete(_ask("x" * (MAX_BODY_BYTES + 1)), timeout=10))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    many = [pb.Message(role="user", content="hi")] * (MAX_MESSAGES + 1)
    error = _status(lambda: stub.Complete(pb.CompleteRequest(tenant="acme", messages=many), timeout=10))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "messages" in _violations(error)


# -- Retry-After -----------------------------------------------------------------------------


def test_jitter_spreads_the_delay_and_never_shortens_it() -> None:
    assert jittered(1.0, lambda: 0.0) == 1.0
    assert 1.9 < jittered(1.0, lambda: 0.999) < 2.0
    assert jittered(4.0, lambda: 0.5) == 6.0
    # HTTP has whole seconds: a 1 s base still spreads over 1 and 2, never below the base.
    assert {retry_after_header(jittered(1.0, lambda: d), 1.0) for d in (0.0, 0.2, 0.6, 0.99)} == {"1", "2"}
    assert retry_after_header(jittered(0.2, lambda: 0.0), 0.2) == "1"
    assert retry_after_header(jittered(1.4, lambda: 0.0), 1.4) == "2"


def test_a_503_carries_retry_after_with_jitter(calm: Fleet, faults: Callable[..., None]) -> None:
    """Tier 3 down and pinned: nowhere to fail over to."""
    for name in ("sim-reasoning-a", "sim-reasoning-b"):
        faults(name, latency_scale=0.02, error_rate=1.0)
    run = uuid.uuid4().hex[:8]
    for i in range(3):
        r = _post(calm, _body(model="sim-reasoning", messages=[{"role": "user", "content": f"hi {i} {run}"}]))
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"] in ("1", "2")
    stub = pb_grpc.RouterStub(grpc.insecure_channel(calm.grpc_target))
    delays: set[int] = set()
    for i in range(4):
        error = _status(lambda: stub.Complete(_ask(f"hi {i} {run}", model="sim-reasoning"), timeout=20))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        assert status is not None
        retry = error_details_pb2.RetryInfo()
        assert any(d.Unpack(retry) for d in status.details)
        delay_ms = retry.retry_delay.ToMilliseconds()
        assert 1000 <= delay_ms < 2000
        delays.add(delay_ms)
    assert len(delays) > 1, "four refusals asked for the same delay: no jitter"

