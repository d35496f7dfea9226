"""What the caches and the classifier see of a completion request: the question, and its context."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.completion import CompletionRequest
from router_py.providers.types import ChatMessage
from router_py.service.errors import BadRequestError
from router_py.service.grpc_api import _route_request
from router_py.service.limits import RequestLimits


def req(*messages: tuple[str, str], **fields: object) -> CompletionRequest:
    chat = [ChatMessage.model_validate({"role": r, "content": c}) for r, c in messages]
    return CompletionRequest.model_validate({"request_id": "r", "messages": chat, **fields})


def test_a_lone_question_is_routed_on_its_text_alone() -> None:
    route = req(("user", "Reset my password")).route_request()
    assert (route.text, route.context) == ("Reset my password", "")


def test_the_verifier_reads_the_conversation_with_its_roles() -> None:
    text = req(("system", "Be brief."), ("user", "Hi")).routing_text()
    assert text == "system: Be brief.\nuser: Hi"


def test_the_question_is_the_last_user_message_and_the_rest_is_context() -> None:
    long_system = "You are the support bot of Acme Bank. " * 200
    route = req(("system", long_system), ("user", "Close my account"), ("assistant", "Sure?"),
                ("user", "Yes, close my account")).route_request()
    assert route.text == "Yes, close my account"
    assert long_system in route.context and "Sure?" in route.context and "Close my account" in route.context
    assert "Yes, close my account" not in route.context
    only_system = req(("system", "Say hi")).route_request()
    assert only_system.text == "Say hi" and only_system.context != ""


def test_pinned_model_and_hints_travel_outside_the_context() -> None:
    route = req(("user", "Summarise"), pinned_model="sim-smart", min_tier=2, region="eu").route_request()
    assert (route.pinned_model, route.min_tier, route.region, route.context) == ("sim-smart", 2, "eu", "")


def test_stop_sequences_are_a_set() -> None:
    a = req(("user", "Count"), stop=["b", "a", "a"]).routing_context()
    assert a == req(("user", "Count"), stop=["a", "b"]).routing_context() != req(("user", "Count")).routing_context()


_VARIANTS: dict[str, dict[str, object]] = {
    "history": {"messages": [("user", "Earlier question"), ("assistant", "Earlier answer"), ("user", "Summarise")]},
    "other history": {"messages": [("user", "Another question"), ("assistant", "Earlier answer"), ("user", "Summarise")]},
    "system prompt": {"messages": [("system", "Answer in French."), ("user", "Summarise")]},
    "other system prompt": {"messages": [("system", "Answer in German."), ("user", "Summarise")]},
    "question as system": {"messages": [("system", "Summarise")]},
    "schema": {"response_schema": {"type": "object"}},
    "other schema": {"response_schema": {"type": "array"}},
    "temperature": {"temperature": 0.2},
    "other temperature": {"temperature": 1.5},
    "top_p": {"top_p": 0.5},
    "max_tokens": {"max_tokens": 10},
    "other max_tokens": {"max_tokens": 500},
    "stop": {"stop": ["\n"]},
    "seed": {"seed": 1},
    "other seed": {"seed": 2},
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(_VARIANTS)), min_size=0, max_size=3, unique=True),
       st.lists(st.sampled_from(sorted(_VARIANTS)), min_size=0, max_size=3, unique=True))
def test_requests_share_a_cache_key_only_when_everything_that_changes_the_answer_is_equal(
        a: list[str], b: list[str]) -> None:
    def build(names: list[str]) -> CompletionRequest:
        fields: dict[str, object] = {"messages": [("user", "Summarise")]}
        for name in names:
            fields.update(_VARIANTS[name])
        messages = fields.pop("messages")
        assert isinstance(messages, list)
        return req(*messages, **fields)

    first, second = build(a), build(b)
    same_request = first.model_dump(exclude={"request_id"}) == second.model_dump(exclude={"request_id"})
    key = lambda r: (r.route_request().text, r.route_request().context)  # noqa: E731
    assert (key(first) == key(second)) == same_request


def test_a_request_with_nothing_to_answer_is_refused() -> None:
    with pytest.raises(ValidationError, match="non-empty content"):
        req(("user", "   "))
    with pytest.raises(ValidationError):
        req()


# -- gRPC Route: a conversation to decide on, not a completion ---------------------------------


def _route_call(*messages: tuple[str, str], **fields: Any) -> pb.RouteRequest:
    return pb.RouteRequest(messages=[pb.Message(role=r, content=c) for r, c in messages], **fields)


def test_route_is_parsed_without_building_a_completion_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision needs the conversation, who asks and the hints. `Route` used to validate a whole
    CompletionRequest (with a made-up request id) to reuse its methods."""

    def built(*_: object, **__: object) -> None:
        raise AssertionError("Route built a CompletionRequest")

    monkeypatch.setattr(CompletionRequest, "model_validate", built)
    call = _route_call(("system", "Be brief."), ("user", "Reset my password"), tenant="acme", user="u1",
                       hints=pb.Hints(min_tier=2, region="eu"))
    route = _route_request(call, RequestLimits())
    assert (route.tenant, route.user, route.min_tier, route.max_tier, route.region) == ("acme", "u1", 2, None, "eu")
    assert route.pinned_model is None
    monkeypatch.undo()
    # What a Complete call of the same conversation is routed on: they share cached answers.
    same = req(("system", "Be brief."), ("user", "Reset my password"), tenant="acme", user="u1", min_tier=2,
               region="eu").route_request()
    assert route == same


def test_route_is_checked_as_a_complete_call_is() -> None:

    with pytest.raises(ValidationError, match="tenant"):
        _route_request(_route_call(("user", "Hi"), tenant=" "), RequestLimits())
    with pytest.raises(ValidationError, match="tool messages"):
        _route_request(_route_call(("tool", "42"), tenant="t"), RequestLimits())
    with pytest.raises(BadRequestError, match="2 messages"):
        _route_request(_route_call(("user", "a"), ("user", "b"), tenant="t"), RequestLimits(max_messages=1))
