"""The mock provider as an HTTP server: its endpoints, run-time faults, auth, and the CLI that runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from router_py.cli import main
from router_tools.mock.profiles import Faults
from router_tools.mock.server import MockProcess, MockProvider

pytestmark = pytest.mark.anyio

CHAT = {"model": "sim-fast", "messages": [{"role": "user", "content": "How do I reset my password?"}]}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def served() -> AsyncIterator[tuple[MockProvider, httpx.AsyncClient]]:
    async with MockProvider("fast", faults=Faults(latency_scale=0), api_key="sk-mock") as mock:
        root = mock.base_url.removesuffix("/v1")
        async with httpx.AsyncClient(
            base_url=root, headers={"authorization": "Bearer sk-mock", "x-api-key": "sk-mock"}
        ) as http:
            yield mock, http


async def test_health_and_models(served: tuple[MockProvider, httpx.AsyncClient]) -> None:
    _, http = served
    assert (await http.get("/healthz")).json() == {"status": "ok", "profile": "fast", "model": "sim-fast"}
    assert [m["id"] for m in (await http.get("/v1/models")).json()["data"]] == ["sim-fast"]


async def test_faults_change_at_run_time(served: tuple[MockProvider, httpx.AsyncClient]) -> None:
    mock, http = served
    assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200
    changed = await http.post("/_mock/faults", json={"error_rate": 1.0})
    assert changed.json()["error_rate"] == 1.0 and changed.json()["latency_scale"] == 0.0
    assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 500
    assert (await http.get("/_mock/faults")).json()["error_rate"] == 1.0
    stats = (await http.get("/_mock/stats")).json()
    assert (stats["requests"], stats["injected"]) == (2, {"error": 1})
    mock.faults = Faults(latency_scale=0)
    assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200


@pytest.mark.parametrize("body", [{"error_rate": 2}, {"eror_rate": 0.5}, [1, 2]])
async def test_bad_fault_settings_are_refused(body: object, served: tuple[MockProvider, httpx.AsyncClient]) -> None:
    mock, http = served
    before = mock.faults
    assert (await http.post("/_mock/faults", json=body)).status_code == 400
    assert mock.faults == before


async def test_a_wrong_key_gets_each_apis_401(served: tuple[MockProvider, httpx.AsyncClient]) -> None:
    _, http = served
    openai = await http.post("/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer nope"})
    anthropic = await http.post("/v1/messages", json={**CHAT, "max_tokens": 10}, headers={"x-api-key": "nope"})
    assert (openai.status_code, openai.json()["error"]["code"]) == (401, "invalid_api_key")
    assert (anthropic.status_code, anthropic.json()["error"]["type"]) == (401, "authentication_error")


async def test_a_request_the_api_would_refuse_is_a_400(served: tuple[MockProvider, httpx.AsyncClient]) -> None:
    _, http = served
    no_max_tokens = await http.post("/v1/messages", json=CHAT)
    no_messages = await http.post("/v1/chat/completions", json={"model": "sim-fast", "messages": []})
    assert (no_max_tokens.status_code, no_messages.status_code) == (400, 400)
    assert no_max_tokens.json()["error"]["type"] == "invalid_request_error"


async def test_content_as_text_parts_is_understood(served: tuple[MockProvider, httpx.AsyncClient]) -> None:
    _, http = served
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "How do I reset my password?"}]}]}
    whole = (await http.post("/v1/chat/completions", json=CHAT)).json()
    split = (await http.post("/v1/chat/completions", json=parts)).json()
    assert split["choices"][0]["message"]["content"] == whole["choices"][0]["message"]["content"]


def test_the_cli_serves_a_profile_in_a_child_process() -> None:
    with MockProcess("fixed", args=["--latency-ms", "5"]) as mock, httpx.Client(base_url=mock.base_url) as http:
        assert http.get("/models").json()["data"][0]["id"] == "sim-fixed"
        answer = http.post("/chat/completions", json=CHAT).json()
    assert answer["choices"][0]["message"]["content"].startswith("[simulated sim-fixed]")


def test_the_cli_refuses_bad_fault_flags_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mock-provider", "--port", "0", "--profile", "fast", "--error-rate", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("llm-router mock-provider:") and err.count("\n") == 1
