"""What crosses the boundary between the completion pipeline and a provider client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import Enum
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChatMessage(_Frozen):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class ChatRequest(_Frozen):
    """One call to one provider; the client maps it to its API's wire format."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: list[str] | None = None
    seed: int | None = None
    # A JSON schema the answer must satisfy (OpenAI `response_format: json_schema`).
    response_schema: dict[str, Any] | None = None
    # Ask for token logprobs where the API offers them (the gate's verifier score).
    logprobs: bool = False


# A token count a provider may report: the core prices counts as 64-bit integers, and no
# request reaches four billion tokens, so a larger count is garbage, refused where it is parsed.
TokenCount = Annotated[int, Field(ge=0, le=2**32 - 1)]


class Usage(_Frozen):
    input_tokens: TokenCount
    output_tokens: TokenCount


class ChatResult(_Frozen):
    text: str
    # Normalised: "stop", "length", "content_filter", "tool_calls" or the provider's own word.
    finish_reason: str
    usage: Usage
    model: str
    # exp(mean token logprob) when the provider returned logprobs: a cheap confidence signal.
    verifier_score: float | None = None


class StreamDelta(_Frozen):
    text: str


class StreamEnd(_Frozen):
    finish_reason: str
    usage: Usage
    model: str


StreamEvent = StreamDelta | StreamEnd


class FailureKind(str, Enum):
    """Why a call failed; every kind but BAD_REQUEST moves the call to the next provider."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    SERVER_ERROR = "server_error"  # 5xx
    RATE_LIMITED = "rate_limited"  # 429, with retry_after when the provider sent one
    BAD_RESPONSE = "bad_response"  # unparsable body, wrong shape, stream cut before its end
    AUTH = "auth"  # 401/403: the provider's key or account, not the request
    BAD_REQUEST = "bad_request"  # other 4xx: the request itself; failing over would not help


class ProviderError(Exception):
    def __init__(self, provider: str, kind: FailureKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{provider}: {kind.value}: {message}")
        self.provider = provider
        self.kind = kind
        self.message = message
        self.retry_after = retry_after

    @property
    def fails_over(self) -> bool:
        return self.kind is not FailureKind.BAD_REQUEST


class ProviderClient(Protocol):
    """One provider endpoint; every failure surfaces as a ProviderError, never as an httpx error."""

    @property
    def name(self) -> str: ...

    async def complete(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        """`timeout` bounds the whole call, connect to last byte."""
        ...

    def stream(self, request: ChatRequest, *, timeout: float) -> AsyncIterator[StreamEvent]:
        """StreamDelta..., then exactly one StreamEnd. `timeout` bounds the wait for the response
        headers and for each chunk after them, not the whole stream: a long answer that keeps
        coming is healthy, a provider that stalls is not."""
        ...
