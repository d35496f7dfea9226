"""OpenAI-compatible chat completions (`POST {baseUrl}/chat/completions`), whole or streamed."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from router_py.providers.transport import HttpProvider, WireModel, parse_body
from router_py.providers.types import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    FailureKind,
    ProviderError,
    StreamDelta,
    StreamEnd,
    StreamEvent,
    TokenCount,
    Usage,
)

log = logging.getLogger("llm_router.providers.openai")

PATH = "chat/completions"
DONE = "[DONE]"


# What we send.


class _Body(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class JsonSchemaFormat(_Body):
    name: str = "response"
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool = True


class ResponseFormat(_Body):
    type: Literal["json_schema"] = "json_schema"
    json_schema: JsonSchemaFormat


class StreamOptions(_Body):
    include_usage: bool = True


class ChatCompletionBody(_Body):
    model: str
    messages: list[ChatMessage]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None


# What comes back.


class WireUsage(WireModel):
    prompt_tokens: TokenCount
    completion_tokens: TokenCount

    def usage(self) -> Usage:
        return Usage(input_tokens=self.prompt_tokens, output_tokens=self.completion_tokens)


class TokenLogprob(WireModel):
    token: str
    logprob: float


class Logprobs(WireModel):
    content: list[TokenLogprob] | None = None


class Message(WireModel):
    content: str | None = None


class Choice(WireModel):
    message: Message
    finish_reason: str
    logprobs: Logprobs | None = None


class ChatCompletion(WireModel):
    model: str
    choices: list[Choice] = Field(min_length=1)
    usage: WireUsage


class Delta(WireModel):
    content: str | None = None


class ChunkChoice(WireModel):
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(WireModel):
    model: str
    choices: list[ChunkChoice] = []
    usage: WireUsage | None = None


class OpenAIClient(HttpProvider):
    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        raw = await self._post_json(PATH, self._body(request, stream=False), timeout=timeout)
        completion = parse_body(self.name, ChatCompletion, raw, "chat completion")
        choice = completion.choices[0]
        return ChatResult(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason,
            usage=completion.usage.usage(),
            model=completion.model,
            verifier_score=verifier_score(choice.logprobs),
        )

    async def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[StreamEvent]:
        state = _StreamState(self.name, prompt_chars=sum(len(m.content) for m in request.messages))
        async with aclosing(self._post_sse(PATH, self._body(request, stream=True), timeout=timeout)) as events:
            async for event in events:
                if event.data.strip() == DONE:
                    yield state.end()
                    return
                text = state.absorb(parse_body(self.name, ChatCompletionChunk, event.data, "stream chunk"))
                if text:
                    yield StreamDelta(text=text)
        raise ProviderError(self.name, FailureKind.BAD_RESPONSE, f"stream ended without {DONE}")

    def _body(self, request: ChatRequest, *, stream: bool) -> ChatCompletionBody:
        schema = request.response_schema
        return ChatCompletionBody(
            model=self.spec.model,
            messages=request.messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            stop=request.stop,
            seed=request.seed,
            response_format=None if schema is None else ResponseFormat(json_schema=JsonSchemaFormat(schema=schema)),
            # A stream has nowhere to carry a verifier score: only whole answers are gated.
            logprobs=True if request.logprobs and not stream else None,
            stream=True if stream else None,
            stream_options=StreamOptions() if stream else None,
        )

    def _headers(self, key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"} if key else {}


class _StreamState:
    """What the chunks said so far; the usage arrives in a last chunk with no choices."""

    def __init__(self, provider: str, *, prompt_chars: int) -> None:
        self._provider = provider
        self._prompt_chars = prompt_chars
        self._deltas = 0
        self._model: str | None = None
        self._finish_reason: str | None = None
        self._usage: Usage | None = None

    def absorb(self, chunk: ChatCompletionChunk) -> str:
        """The text the chunk adds (we ask for one choice, so only the first counts)."""
        self._model = chunk.model
        if chunk.usage is not None:
            self._usage = chunk.usage.usage()
        if not chunk.choices:
            return ""
        choice = chunk.choices[0]
        if choice.finish_reason is not None:
            self._finish_reason = choice.finish_reason
        text = choice.delta.content or ""
        self._deltas += bool(text)
        return text

    def end(self) -> StreamEnd:
        if self._model is None or self._finish_reason is None:
            missing = [n for n, v in (("model", self._model), ("finish_reason", self._finish_reason)) if v is None]
            raise ProviderError(self._provider, FailureKind.BAD_RESPONSE, f"stream finished without {', '.join(missing)}")
        return StreamEnd(finish_reason=self._finish_reason, usage=self._usage or self._estimated(), model=self._model)

    def _estimated(self) -> Usage:
        """For servers that ignore `stream_options.include_usage`: the answer has already reached
        the caller, so failing it now would help nobody. One delta is about one token; the prompt
        is about four characters a token. Logged, since the cost is then an estimate."""
        log.warning("stream without usage; estimating tokens", extra={"provider": self._provider})
        return Usage(input_tokens=-(-self._prompt_chars // 4), output_tokens=self._deltas)


def verifier_score(logprobs: Logprobs | None) -> float | None:
    """exp(mean token logprob): the geometric-mean probability the model gave its own tokens."""
    if logprobs is None or not logprobs.content:
        return None
    mean = sum(t.logprob for t in logprobs.content) / len(logprobs.content)
    return math.exp(min(mean, 0.0))
