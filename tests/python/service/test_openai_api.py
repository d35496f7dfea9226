"""The official `openai` client, unchanged, against the router's HTTP API on a real port."""

from __future__ import annotations

import httpx
import openai
import pytest

from router_tools.local.fleet import Fleet


@pytest.fixture()
def client(calm: Fleet) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{calm.http_url}/v1", api_key="unused", max_retries=0, timeout=20)


def test_chat_completion_with_model_auto(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "How do I track my order?"}])
    assert r.choices[0].message.content and r.choices[0].message.content.startswith("[simulated")
    assert r.choices[0].finish_reason == "stop" and r.model == "sim-fast"
    assert r.usage is not None and r.usage.prompt_tokens > 0
    extra = r.model_extra or {}
    assert extra["llm_router"]["tier"] == 1 and extra["llm_router"]["saved_usd"] > 0


def test_a_concrete_model_pins_the_tier(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model="sim-smart", messages=[{"role": "user", "content": "Say hi"}])
    assert r.model == "sim-smart"


def test_streaming_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="auto", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Describe a sunny day."}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[simulated")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_json_schema_response_format(client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    r = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Reply in JSON: what is 2 plus 2?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    assert (r.model_extra or {})["llm_router"]["accepted"] in (True, False)
    assert r.choices[0].message.content is not None


def test_models_lists_auto_and_every_served_model(client: openai.OpenAI) -> None:
    assert {m.id for m in client.models.list()} == {"auto", "sim-fast", "sim-smart", "sim-reasoning"}


def test_errors_come_back_in_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="auto", messages=[])
    assert "messages" in str(caught.value)
    with pytest.raises(openai.BadRequestError, match="not served here"):
        client.chat.completions.create(model="gpt-nonexistent", messages=[{"role": "user", "content": "hi"}])


def test_probes_and_metrics(calm: Fleet) -> None:
    assert httpx.get(f"{calm.http_url}/healthz").status_code == 200
    ready = httpx.get(f"{calm.http_url}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] and ready.json()["revision"]
    httpx.post(f"{calm.http_url}/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hey"}]})
    text = httpx.get(f"{calm.http_url}/metrics").text
    for series in ("llm_router_requests_total", "llm_router_decisions_total", "llm_router_cost_usd_total",
                   "llm_router_breaker_state", "llm_router_request_duration_seconds_bucket",
                   'llm_router_cache_memory_bytes{cache="semantic"', 'llm_router_cache_entries{cache="exact"',
                   "llm_router_cache_tenants", "llm_router_rate_limit_buckets"):
        assert series in text, series


def test_a_body_that_is_not_json_is_a_400(calm: Fleet) -> None:
    r = httpx.post(f"{calm.http_url}/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
