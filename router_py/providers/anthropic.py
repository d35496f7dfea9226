"""Anthropic Messages API (`POST {baseUrl}/messages`), whole or streamed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from router_py.providers.sse import SseEvent
from router_py.providers.transport import HttpProvider, WireModel, parse_body
from router_py.providers.types import (
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

PATH = "messages"
API_VERSION = "2023-06-01"
# The API refuses a call without max_tokens; this is the answer length the router asks for then.
DEFAULT_MAX_TOKENS = 1024
STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Mid-stream `error` events, classified like the HTTP status the same error would have had.
STREAM_ERRORS = {
    "overloaded_error": FailureKind.SERVER_ERROR,
    "api_error": FailureKind.SERVER_ERROR,
    "rate_limit_error": FailureKind.RATE_LIMITED,
}


# What we send.


class AnthropicMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class MessagesBody(BaseModel):
    model: str
    max_tokens: int
    messages: list[AnthropicMessage]
    system: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None


# What comes back.


class WireUsage(WireModel):
    input_tokens: TokenCount
    output_tokens: TokenCount

    def usage(self) -> Usage:
        return Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens)


class ContentBlock(WireModel):
    type: str
    text: str | None = None


class MessageResponse(WireModel):
    model: str
    content: list[ContentBlock]
    stop_reason: str
    usage: WireUsage


class StartedMessage(WireModel):
    model: str
    usage: WireUsage


class MessageStart(WireModel):
    type: Literal["message_start"]
    message: StartedMessage


class BlockDelta(WireModel):
    type: str
    text: str | None = None


class ContentBlockDelta(WireModel):
    type: Literal["content_block_delta"]
    delta: BlockDelta


class StopDelta(WireModel):
    stop_reason: str | None = None


class DeltaUsage(WireModel):
    output_tokens: int = Field(ge=0)


class MessageDelta(WireModel):
    type: Literal["message_delta"]
    delta: StopDelta
    usage: DeltaUsage


class MessageStop(WireModel):
    type: Literal["message_stop"]


class StreamErrorInfo(WireModel):
    type: str


class StreamError(WireModel):
    type: Literal["error"]
    error: StreamErrorInfo


class EventType(WireModel):
    type: str


KnownEvent = Annotated[
    MessageStart | ContentBlockDelta | MessageDelta | MessageStop | StreamError, Field(discriminator="type")
]
KNOWN_TYPES = frozenset({"message_start", "content_block_delta", "message_delta", "message_stop", "error"})


class AnyKnownEvent(RootModel[KnownEvent]):
    model_config = ConfigDict(strict=True, frozen=True)


class AnthropicClient(HttpProvider):
    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        raw = await self._post_json(PATH, self._body(request, stream=False), timeout=timeout)
        message = parse_body(self.name, MessageResponse, raw, "message")
        return ChatResult(
            text=self._text(message.content),
            finish_reason=finish_reason(message.stop_reason),
            usage=message.usage.usage(),
            model=message.model,
        )

    async def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[StreamEvent]:
        state = _StreamState(self.name)
        async with aclosing(self._post_sse(PATH, self._body(request, stream=True), timeout=timeout)) as events:
            async for sse in events:
                event = self._event(sse)
                if isinstance(event, MessageStop):
                    yield state.end()
                    return
                text = state.absorb(event) if event is not None else None
                if text:
                    yield StreamDelta(text=text)
        raise ProviderError(self.name, FailureKind.BAD_RESPONSE, "stream ended without message_stop")

    def _event(self, sse: SseEvent) -> KnownEvent | None:
        """The event if it is one we act on; `ping`, block starts/stops and types added to the API
        later are skipped, as its versioning policy asks."""
        kind = parse_body(self.name, EventType, sse.data, "stream event").type
        if kind not in KNOWN_TYPES:
            return None
        return parse_body(self.name, AnyKnownEvent, sse.data, f"{kind} event").root

    def _text(self, blocks: list[ContentBlock]) -> str:
        texts: list[str] = []
        for block in blocks:
            if block.type != "text":
                continue  # tool_use / thinking blocks carry no answer text
            if block.text is None:
                raise ProviderError(self.name, FailureKind.BAD_RESPONSE, "text block without text")
            texts.append(block.text)
        return "".join(texts)

    def _body(self, request: ChatRequest, *, stream: bool) -> MessagesBody:
        system = [m.content for m in request.messages if m.role == "system"]
        if request.response_schema is not None:
            # No native schema mode: ask for it in words; the acceptance gate checks the answer.
            system.append(schema_instruction(request.response_schema))
        turns: list[AnthropicMessage] = []
        for m in request.messages:
            if m.role == "tool":
                raise ProviderError(
                    self.name, FailureKind.BAD_REQUEST, "tool messages need tool_use ids the Messages API mapping lacks"
                )
            if m.role != "system":
                turns.append(AnthropicMessage(role=m.role, content=m.content))
        if not turns:
            raise ProviderError(self.name, FailureKind.BAD_REQUEST, "no user or assistant message")
        return MessagesBody(
            model=self.spec.model,
            max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
            messages=turns,
            system="\n\n".join(system) or None,
            # The API's range is 0..1 where OpenAI's is 0..2; past 1 is "as random as it gets" on both.
            temperature=None if request.temperature is None else min(request.temperature, 1.0),
            top_p=request.top_p,
            stop_sequences=request.stop,
            # No `seed`: the Messages API has none. OpenAI documents seed as best effort
            # (determinism is not guaranteed), so a provider without it still keeps that promise;
            # refusing it would fail a request only when it happened to be routed here.
            stream=True if stream else None,
        )

    def _headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if key:
            headers["x-api-key"] = key
        return headers


class _StreamState:
    """message_start gives the model and input tokens; message_delta the stop reason and the
    running output token count."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._model: str | None = None
        self._input_tokens = 0
        self._output_tokens = 0
        self._stop_reason: str | None = None

    def absorb(self, event: KnownEvent) -> str | None:
        if isinstance(event, MessageStart):
            self._model = event.message.model
            self._input_tokens = event.message.usage.input_tokens
            self._output_tokens = event.message.usage.output_tokens
        elif isinstance(event, MessageDelta):
            self._stop_reason = event.delta.stop_reason or self._stop_reason
            self._output_tokens = event.usage.output_tokens
        elif isinstance(event, StreamError):
            kind = STREAM_ERRORS.get(event.error.type, FailureKind.BAD_RESPONSE)
            raise ProviderError(self._provider, kind, f"error event ({event.error.type})")
        elif isinstance(event, ContentBlockDelta) and event.delta.type == "text_delta":
            if self._model is None or event.delta.text is None:
                raise ProviderError(
                    self._provider, FailureKind.BAD_RESPONSE, "text_delta before message_start or without text"
                )
            return event.delta.text
        return None

    def end(self) -> StreamEnd:
        if self._model is None or self._stop_reason is None:
            raise ProviderError(
                self._provider, FailureKind.BAD_RESPONSE, "message_stop without message_start or stop_reason"
            )
        usage = Usage(input_tokens=self._input_tokens, output_tokens=self._output_tokens)
        return StreamEnd(finish_reason=finish_reason(self._stop_reason), usage=usage, model=self._model)


def finish_reason(stop_reason: str) -> str:
    return STOP_REASONS.get(stop_reason, stop_reason)


def schema_instruction(schema: dict[str, Any]) -> str:
    return (
        "Answer with a single JSON value, no prose and no code fence, that validates against this JSON Schema:\n"
        + json.dumps(schema, separators=(",", ":"))
    )
