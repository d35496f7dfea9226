"""How an HTTP answer that is not a success is classified, and how long a provider asks us to wait."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from router_py.providers.anthropic import AnyKnownEvent, _StreamState
from router_py.providers.openai import ChatCompletion
from router_py.providers.transport import parse_body, parse_retry_after, status_error
from router_py.providers.types import FailureKind, ProviderError

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, FailureKind.BAD_REQUEST),
        (401, FailureKind.AUTH),
        (403, FailureKind.AUTH),
        (404, FailureKind.BAD_REQUEST),
        (408, FailureKind.TIMEOUT),
        (413, FailureKind.BAD_REQUEST),
        (429, FailureKind.RATE_LIMITED),
        (500, FailureKind.SERVER_ERROR),
        (503, FailureKind.SERVER_ERROR),
        (529, FailureKind.SERVER_ERROR),
        (302, FailureKind.BAD_RESPONSE),
    ],
)
def test_status_codes_map_to_failure_kinds(status: int, kind: FailureKind) -> None:
    assert status_error("p", httpx.Response(status)).kind is kind


def test_the_error_type_is_kept_but_not_the_message_which_may_echo_the_prompt() -> None:
    body = {
        "error": {
            "message": "messages[0].content 'my secret question' is too long",
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
        }
    }
    err = status_error("p", httpx.Response(400, json=body))
    assert err.message == "HTTP 400 (invalid_request_error, context_length_exceeded)"


def test_a_429_carries_its_retry_after() -> None:
    err = status_error("p", httpx.Response(429, headers={"retry-after": "12"}))
    assert (err.kind, err.retry_after) == (FailureKind.RATE_LIMITED, 12.0)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({}, None),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "Wed, 01 Jan 2025 12:00:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 01 Jan 2025 11:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "250", "retry-after": "1"}, 0.25),
    ],
)
def test_retry_after_as_seconds_or_an_http_date(headers: dict[str, str], seconds: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers), NOW) == seconds


def event(payload: dict[str, object]) -> AnyKnownEvent:
    return AnyKnownEvent.model_validate_json(json.dumps(payload))


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", FailureKind.SERVER_ERROR),
        ("rate_limit_error", FailureKind.RATE_LIMITED),
        ("invalid_request_error", FailureKind.BAD_RESPONSE),
    ],
)
def test_an_anthropic_error_event_mid_stream_is_classified(error_type: str, kind: FailureKind) -> None:
    state = _StreamState("claude")
    state.absorb(
        event(
            {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 3, "output_tokens": 1}}}
        ).root
    )
    with pytest.raises(ProviderError) as caught:
        state.absorb(event({"type": "error", "error": {"type": error_type, "message": "busy"}}).root)
    assert caught.value.kind is kind


def test_a_token_count_past_any_request_is_a_bad_response() -> None:
    """The core prices counts as 64-bit integers: a provider's absurd count must be refused where
    it is parsed, not overflow in the accounting after the answer was accepted."""
    body = {"model": "m", "choices": [{"message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2**64, "completion_tokens": 1}}
    with pytest.raises(ProviderError) as err:
        parse_body("p", ChatCompletion, json.dumps(body), "chat completion")
    assert err.value.kind is FailureKind.BAD_RESPONSE and "usage.prompt_tokens" in str(err.value)
    body["usage"] = {"prompt_tokens": 2**32 - 1, "completion_tokens": 1}
    assert parse_body("p", ChatCompletion, json.dumps(body), "chat completion").usage.prompt_tokens == 2**32 - 1
