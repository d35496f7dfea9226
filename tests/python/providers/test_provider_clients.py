"""Both API clients against the real mock server on a loopback port: answers, streams, JSON mode,
and every failure mapped to its FailureKind."""

from __future__ import annotations

import json
import socket

import jsonschema
import pytest
from provider_support import KEY, ask, spec, tier

from router_py.config.schema import ProviderApi
from router_py.providers.keys import KeyResolver
from router_py.providers.pool import ProviderPool
from router_py.providers.types import (
    ChatRequest,
    ChatResult,
    FailureKind,
    ProviderClient,
    ProviderError,
    StreamDelta,
    StreamEnd,
    StreamEvent,
)
from router_tools.mock.answers import count_tokens
from router_tools.mock.profiles import Faults
from router_tools.mock.server import MockProvider

pytestmark = pytest.mark.anyio

EASY = "How do I reset my password?"
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "population": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "population"],
    "additionalProperties": False,
}


async def collect(client: ProviderClient, request: ChatRequest, timeout: float = 5.0) -> list[StreamEvent]:
    return [event async for event in client.stream(request, timeout=timeout)]


async def failure(client: ProviderClient, request: ChatRequest, *, stream: bool, timeout: float = 5.0) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        if stream:
            await collect(client, request, timeout)
        else:
            await client.complete(request, timeout=timeout)
    return caught.value


def assert_consistent(result: ChatResult, events: list[StreamEvent]) -> None:
    *deltas, end = events
    assert all(isinstance(d, StreamDelta) for d in deltas)
    assert isinstance(end, StreamEnd)
    assert "".join(d.text for d in deltas if isinstance(d, StreamDelta)) == result.text
    assert (end.finish_reason, end.usage, end.model) == (result.finish_reason, result.usage, result.model)


async def test_an_easy_question_gets_a_whole_simulated_answer(client: ProviderClient) -> None:
    result = await client.complete(ask(EASY), timeout=5)
    assert result.text.startswith("[simulated sim-fast]")
    assert result.finish_reason == "stop"
    assert result.model == "sim-fast"
    assert result.usage.output_tokens == count_tokens(result.text)
    assert result.usage.input_tokens > count_tokens(EASY)


async def test_a_stream_adds_up_to_the_whole_answer(client: ProviderClient) -> None:
    whole = await client.complete(ask(EASY), timeout=5)
    assert_consistent(whole, await collect(client, ask(EASY)))


async def test_openai_logprobs_give_a_verifier_score(openai: ProviderClient) -> None:
    plain = await openai.complete(ask(EASY), timeout=5)
    scored = await openai.complete(ask(EASY, logprobs=True), timeout=5)
    assert plain.verifier_score is None
    assert scored.verifier_score is not None and 0.8 < scored.verifier_score <= 1.0


async def test_the_model_struggling_shows_in_its_verifier_score(openai: ProviderClient) -> None:
    hard = "Prove step by step that a continuous function on a closed interval has an integral; implement it in Python."
    easy = await openai.complete(ask(EASY, logprobs=True), timeout=5)
    lost = await openai.complete(ask(hard, logprobs=True), timeout=5)
    assert easy.verifier_score is not None and lost.verifier_score is not None
    assert lost.verifier_score < easy.verifier_score - 0.2


async def test_json_schema_mode_returns_a_valid_document(client: ProviderClient) -> None:
    result = await client.complete(ask("Give me a city as JSON.", response_schema=SCHEMA), timeout=5)
    jsonschema.validate(json.loads(result.text), SCHEMA)


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(client: ProviderClient) -> None:
    result = await client.complete(ask(EASY, max_tokens=3), timeout=5)
    assert (result.finish_reason, result.usage.output_tokens) == ("length", 3)
    end = (await collect(client, ask(EASY, max_tokens=3)))[-1]
    assert isinstance(end, StreamEnd) and end.finish_reason == "length"


FAULTS = [
    pytest.param(Faults(latency_scale=0, error_rate=1.0), FailureKind.SERVER_ERROR, id="5xx"),
    pytest.param(Faults(latency_scale=0, rate_limit_rate=1.0, retry_after=7), FailureKind.RATE_LIMITED, id="429"),
    pytest.param(Faults(latency_scale=0, garbage_rate=1.0), FailureKind.BAD_RESPONSE, id="garbage"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("faults", "kind"), FAULTS)
async def test_faults_map_to_their_failure_kind(
    faults: Faults, kind: FailureKind, client: ProviderClient, stream: bool, mock: MockProvider
) -> None:
    mock.faults = faults
    err = await failure(client, ask(EASY), stream=stream)
    assert (err.kind, err.provider) == (kind, client.name)
    assert err.retry_after == (7.0 if kind is FailureKind.RATE_LIMITED else None)
    assert EASY not in str(err) and KEY not in str(err)


async def test_a_stream_cut_before_its_end_is_a_bad_response(client: ProviderClient, mock: MockProvider) -> None:
    mock.faults = Faults(latency_scale=0, cut_stream_rate=1.0)
    err = await failure(client, ask(EASY), stream=True)
    assert err.kind is FailureKind.BAD_RESPONSE
    # Whole answers have nothing to cut: the same fault leaves them alone.
    assert (await client.complete(ask(EASY), timeout=5)).finish_reason == "stop"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_provider_slower_than_the_budget_times_out(
    stream: bool, openai: ProviderClient, mock: MockProvider
) -> None:
    mock.faults = Faults(latency_scale=0, extra_latency_ms=3000)
    err = await failure(openai, ask(EASY), stream=stream, timeout=0.2)
    assert err.kind is FailureKind.TIMEOUT


async def test_a_stream_that_stalls_after_its_headers_times_out(anthropic: ProviderClient, mock: MockProvider) -> None:
    # The headers come at once; the first token only after the fixed latency.
    mock.faults = Faults(latency_ms=3000)
    err = await failure(anthropic, ask(EASY), stream=True, timeout=0.2)
    assert err.kind is FailureKind.TIMEOUT
    assert "stalled" in err.message


@pytest.mark.parametrize("api", list(ProviderApi))
async def test_a_closed_port_is_a_connect_failure(api: ProviderApi) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with ProviderPool([tier(spec("gone", f"http://127.0.0.1:{port}/v1", api, key_ref=None))]) as pool:
        for stream in (False, True):
            err = await failure(pool.client("gone"), ask(EASY), stream=stream)
            assert err.kind is FailureKind.CONNECT


@pytest.mark.parametrize("api", list(ProviderApi))
async def test_a_wrong_key_is_an_auth_failure_that_does_not_echo_it(api: ProviderApi, mock: MockProvider) -> None:
    keys = KeyResolver(environ={"MOCK_KEY": "sk-wrong-key"})
    async with ProviderPool([tier(spec("p", mock.base_url, api))], keys=keys) as pool:
        err = await failure(pool.client("p"), ask(EASY), stream=False)
    assert err.kind is FailureKind.AUTH
    assert "sk-wrong-key" not in str(err)


async def test_an_unresolvable_key_fails_before_any_request(mock: MockProvider) -> None:
    before = mock.state.requests
    async with ProviderPool(
        [tier(spec("p", mock.base_url, key_ref="env:NOT_SET"))], keys=KeyResolver(environ={})
    ) as pool:
        err = await failure(pool.client("p"), ask(EASY), stream=True)
    assert err.kind is FailureKind.AUTH and "env:NOT_SET" in err.message
    assert mock.state.requests == before


async def test_anthropic_refuses_what_its_api_cannot_express_without_a_call(anthropic: ProviderClient) -> None:
    system_only = ChatRequest.model_validate({"messages": [{"role": "system", "content": "Be brief."}]})
    err = await failure(anthropic, system_only, stream=False)
    assert err.kind is FailureKind.BAD_REQUEST and not err.fails_over


async def test_anthropic_sends_system_messages_as_its_system_prompt(anthropic: ProviderClient) -> None:
    bare = await anthropic.complete(ask(EASY), timeout=5)
    with_system = ChatRequest.model_validate(
        {"messages": [{"role": "system", "content": "You are a support agent."}, {"role": "user", "content": EASY}]}
    )
    framed = await anthropic.complete(with_system, timeout=5)
    # The mock counts the system prompt as input: it arrived, and in the field the API reads.
    assert framed.usage.input_tokens > bare.usage.input_tokens
    assert framed.text == bare.text
