"""The sampling fields reach each API in its own words: a recording server on a loopback port
keeps the JSON each client sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from provider_support import KEY, ask, spec, tier

from router_py.config.schema import ProviderApi
from router_py.providers.keys import KeyResolver
from router_py.providers.pool import ProviderPool

pytestmark = pytest.mark.anyio

OPENAI_ANSWER = {"model": "m", "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
ANTHROPIC_ANSWER = {"model": "m", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
                    "usage": {"input_tokens": 1, "output_tokens": 1}}


class _Recorder(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).bodies.append(body)
        answer = ANTHROPIC_ANSWER if self.path.endswith("/messages") else OPENAI_ANSWER
        raw = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def recorder() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def _sent(base_url: str, api: ProviderApi, **options: object) -> dict[str, Any]:
    _Recorder.bodies.clear()
    specs = [spec("p", base_url, api)]
    async with ProviderPool([tier(*specs)], keys=KeyResolver(environ={"MOCK_KEY": KEY})) as pool:
        await pool.client("p").complete(ask("hello", **options), timeout=5)
    (body,) = _Recorder.bodies
    return body


async def test_openai_gets_top_p_stop_and_seed(recorder: str) -> None:
    body = await _sent(recorder, ProviderApi.OPENAI, top_p=0.5, stop=["END", "\n\n"], seed=7)
    assert (body["top_p"], body["stop"], body["seed"]) == (0.5, ["END", "\n\n"], 7)


async def test_anthropic_gets_top_p_and_stop_sequences_and_no_seed(recorder: str) -> None:
    body = await _sent(recorder, ProviderApi.ANTHROPIC, top_p=0.5, stop=["END"], seed=7)
    assert (body["top_p"], body["stop_sequences"]) == (0.5, ["END"])
    assert "seed" not in body  # the Messages API has none; OpenAI calls seed best effort


async def test_unset_fields_are_not_sent(recorder: str) -> None:
    for api in (ProviderApi.OPENAI, ProviderApi.ANTHROPIC):
        body = await _sent(recorder, api)
        assert not {"top_p", "stop", "stop_sequences", "seed"} & body.keys()
