"""`llm-router mock-provider`: a real HTTP server playing one simulated model.

It speaks OpenAI chat completions (`/v1/chat/completions`, `/v1/models`) and the Anthropic
Messages API (`/v1/messages`), whole or streamed, with the profile's latency and answer quality
and faults drawn per request. `/_mock/faults` changes the faults while it runs, so a test can make
a healthy provider start failing; `/_mock/stats` counts what it served.

Run it in the caller's event loop (`async with MockProvider("fast") as m: m.base_url`), on a
thread of its own (`with serve_in_thread(MockProvider("fast")) as m: ...`) or as a child process
(`with MockProcess("fast") as m: ...`), which is what `llm-router mock-provider` is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import select
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType

import uvicorn
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from router_py.providers.transport import validation_summary
from router_tools.mock.answers import Answer, compose
from router_tools.mock.profiles import PROFILES, Faults, Profile
from router_tools.mock.wire import GARBAGE_BODY, GARBAGE_EVENT, AnthropicFormat, ApiFormat, Ask, ErrorKind, OpenAIFormat

log = logging.getLogger("llm_router.mock")

STARTUP_TIMEOUT_S = 30.0


class Fault(Enum):
    NONE = "none"
    RATE_LIMIT = "rate_limit"
    ERROR = "error"
    GARBAGE = "garbage"
    CUT = "cut_stream"


@dataclass
class MockState:
    """The server's mutable state; in-process owners may change `faults` directly."""

    profile: Profile
    faults: Faults
    rng: random.Random
    api_key: str | None = None
    requests: int = 0
    injected: Counter[str] = field(default_factory=Counter)

    def draw_fault(self, *, stream: bool) -> Fault:
        f = self.faults
        rates = (
            (Fault.RATE_LIMIT, f.rate_limit_rate),
            (Fault.ERROR, f.error_rate),
            (Fault.GARBAGE, f.garbage_rate),
            (Fault.CUT, f.cut_stream_rate if stream else 0.0),
        )
        for fault, rate in rates:
            # Draw only for faults that are on, so a run without faults keeps the latency sequence.
            if rate > 0 and self.rng.random() < rate:
                self.injected[fault.value] += 1
                return fault
        return Fault.NONE

    def timing(self) -> Timing:
        f = self.faults
        if f.latency_ms is not None:
            return Timing(first_token_s=f.latency_ms / 1000, per_token_s=0.0)
        latency = self.profile.latency
        return Timing(
            first_token_s=latency.first_token_s(self.rng) * f.latency_scale,
            per_token_s=latency.per_token_ms / 1000 * f.latency_scale + f.token_delay_ms / 1000,
        )


@dataclass(frozen=True, slots=True)
class Timing:
    first_token_s: float
    per_token_s: float

    def whole(self, tokens: int) -> float:
        return self.first_token_s + self.per_token_s * tokens


class Health(BaseModel):
    status: str = "ok"
    profile: str
    model: str


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int = 0
    owned_by: str = "llm-router-mock"


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]


class Stats(BaseModel):
    profile: str
    model: str
    requests: int
    injected: dict[str, int]


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


class _Handlers:
    def __init__(self, state: MockState) -> None:
        self.state = state

    async def healthz(self, _request: Request) -> Response:
        return _json(Health(profile=self.state.profile.name, model=self.state.profile.model))

    async def models(self, _request: Request) -> Response:
        return _json(ModelList(data=[ModelCard(id=self.state.profile.model)]))

    async def stats(self, _request: Request) -> Response:
        s = self.state
        return _json(
            Stats(profile=s.profile.name, model=s.profile.model, requests=s.requests, injected=dict(s.injected))
        )

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                patch = await request.json()
                if not isinstance(patch, dict):
                    raise ValueError("want a JSON object of fault fields")
                self.state.faults = Faults.model_validate(self.state.faults.model_dump() | patch)
            except ValidationError as err:
                return JSONResponse({"error": validation_summary(err)}, status_code=400)
            except ValueError as err:
                return JSONResponse({"error": str(err)}, status_code=400)
            log.info("faults changed", extra={"faults": self.state.faults.model_dump()})
        return _json(self.state.faults)

    async def openai(self, request: Request) -> Response:
        return await self._complete(request, OpenAIFormat())

    async def anthropic(self, request: Request) -> Response:
        return await self._complete(request, AnthropicFormat())

    async def _complete(self, request: Request, fmt: ApiFormat) -> Response:
        state = self.state
        state.requests += 1
        if state.api_key is not None and not fmt.authorised(request.headers, state.api_key):
            return _error(fmt, ErrorKind.AUTH, "invalid api key")
        try:
            ask = fmt.parse(await request.body())
        except ValidationError as err:
            return _error(fmt, ErrorKind.BAD_REQUEST, validation_summary(err))
        except ValueError as err:
            return _error(fmt, ErrorKind.BAD_REQUEST, str(err))
        fault = state.draw_fault(stream=ask.stream)
        if not await _pause(request, state.faults.extra_latency_ms / 1000):
            return Response(status_code=499)
        if fault is Fault.RATE_LIMIT:
            retry_after = state.faults.retry_after
            headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
            return _error(fmt, ErrorKind.RATE_LIMIT, "simulated rate limit", headers)
        if fault is Fault.ERROR:
            return _error(fmt, ErrorKind.SERVER, "simulated server error")
        answer = compose(state.profile, ask.query, max_tokens=ask.max_tokens, schema=ask.schema)
        log.debug(
            "answer",
            extra={
                "outcome": answer.outcome.value,
                "difficulty": answer.difficulty,
                "tokens": len(answer.tokens),
                "fault": fault.value,
            },
        )
        timing = state.timing()
        model = state.profile.model
        if ask.stream:
            events = _stream(fmt, model, ask, answer, timing, fault)
            return StreamingResponse(events, media_type="text/event-stream", headers={"cache-control": "no-cache"})
        if not await _pause(request, timing.whole(len(answer.tokens))):
            return Response(status_code=499)
        body = GARBAGE_BODY if fault is Fault.GARBAGE else fmt.render(model, answer, ask)
        return Response(body, media_type="application/json")


def _error(fmt: ApiFormat, kind: ErrorKind, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(fmt.error(kind, message), status_code=kind.value, media_type="application/json", headers=headers)


async def _pause(request: Request, seconds: float) -> bool:
    """Wait `seconds`; False when the client hung up meanwhile, so a caller that timed out does
    not leave a task (and the server's shutdown) waiting on it."""
    if seconds <= 0:
        return True
    try:
        async with asyncio.timeout(seconds):
            while (await request.receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return True
    return False


async def _stream(
    fmt: ApiFormat, model: str, ask: Ask, answer: Answer, timing: Timing, fault: Fault
) -> AsyncIterator[bytes]:
    """One token per event, as the real APIs send them; a cut or garbage fault strikes halfway."""
    await asyncio.sleep(timing.first_token_s)
    for event in fmt.stream_head(model, ask):
        yield event
    strike = len(answer.tokens) // 2 if fault in (Fault.CUT, Fault.GARBAGE) else None
    for i, token in enumerate(answer.tokens):
        if i == strike:
            if fault is Fault.GARBAGE:
                yield GARBAGE_EVENT
            return
        if timing.per_token_s:
            await asyncio.sleep(timing.per_token_s)
        yield fmt.stream_delta(model, token)
    for event in fmt.stream_tail(model, answer, ask):
        yield event


def create_app(state: MockState) -> Starlette:
    h = _Handlers(state)
    return Starlette(
        routes=[
            Route("/healthz", h.healthz),
            Route("/v1/models", h.models),
            Route("/v1/chat/completions", h.openai, methods=["POST"]),
            Route("/v1/messages", h.anthropic, methods=["POST"]),
            Route("/_mock/faults", h.faults, methods=["GET", "POST"]),
            Route("/_mock/stats", h.stats),
        ]
    )


def new_state(
    profile: str | Profile, *, faults: Faults | None = None, seed: int = 0, api_key: str | None = None
) -> MockState:
    chosen = PROFILES[profile] if isinstance(profile, str) else profile
    return MockState(profile=chosen, faults=faults or Faults(), rng=random.Random(seed), api_key=api_key)


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so port 0 gives a known port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=2048)


def _config(state: MockState, *, loop: str) -> uvicorn.Config:
    # log_config=None leaves logging to the process that hosts us; no access log: it is the hot path.
    return uvicorn.Config(
        create_app(state),
        log_config=None,
        access_log=False,
        lifespan="off",
        loop=loop,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"


def serve(state: MockState, *, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM (the CLI); `announce` gets the base URL once it is bound."""
    sock = bind(host, port)
    announce(base_url(sock))
    uvicorn.Server(_config(state, loop="auto")).run(sockets=[sock])


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The host process (a test, the demo) owns SIGINT/SIGTERM and stops us through __aexit__.
        yield


class MockProvider:
    """A mock server inside the running event loop, on a loopback port (0: any free one)."""

    def __init__(
        self,
        profile: str | Profile = "fast",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Faults | None = None,
        seed: int = 0,
        api_key: str | None = None,
    ) -> None:
        self.state = new_state(profile, faults=faults, seed=seed, api_key=api_key)
        self._host, self._port = host, port
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self.base_url = ""

    async def __aenter__(self) -> MockProvider:
        sock = bind(self._host, self._port)
        self.base_url = base_url(sock)
        server = self._server = _EmbeddedServer(_config(self.state, loop="asyncio"))
        task = self._task = asyncio.create_task(server.serve(sockets=[sock]))
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                sock.close()
                task.cancel()
                raise RuntimeError(f"mock provider on {self.base_url} did not start") from (
                    None if task.cancelled() else task.exception()
                )
            await asyncio.sleep(0.005)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self.state.faults = faults


@contextlib.contextmanager
def serve_in_thread(mock: MockProvider) -> Iterator[MockProvider]:
    """`mock` served on its own event loop in a daemon thread: for synchronous callers, and for
    tests that share one server across many event loops."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=f"mock-{mock.state.profile.name}", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(mock.__aenter__(), loop).result(STARTUP_TIMEOUT_S)
        try:
            yield mock
        finally:
            asyncio.run_coroutine_threadsafe(mock.__aexit__(None, None, None), loop).result(STARTUP_TIMEOUT_S)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


class MockProcess:
    """`llm-router mock-provider` as a child process; the base URL comes from its first stdout line."""

    def __init__(self, profile: str, *, host: str = "127.0.0.1", port: int = 0, args: Sequence[str] = ()) -> None:
        self._argv = [
            sys.executable,
            "-m",
            "router_py.cli",
            "mock-provider",
            "--profile",
            profile,
            "--host",
            host,
            "--port",
            str(port),
            *args,
        ]
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> MockProcess:
        proc = self._proc = subprocess.Popen(self._argv, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None  # PIPE above
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        if not line.strip():
            self.stop()
            raise RuntimeError(f"mock-provider did not start (exit code {proc.returncode})")
        self.base_url = line.split()[-1]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
