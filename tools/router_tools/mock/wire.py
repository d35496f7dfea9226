"""The two APIs the mock speaks, OpenAI chat completions and Anthropic messages: requests parsed
into one `Ask`, an `Answer` rendered back as a whole body or as stream events, errors in each
API's own shape (clients key off them)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.datastructures import Headers

from router_py.ids import new_id
from router_py.providers.sse import encode_event
from router_tools.mock.answers import Answer, count_tokens

GARBAGE_BODY = b'{"id": "sim-garbage", "choices": [{"message": {"content": "[simulated] garb'
GARBAGE_EVENT = encode_event('{"type": "content_block_delta", "choices": [{"delta": {"content": "[simulated] garb')


class ErrorKind(Enum):
    BAD_REQUEST = 400
    AUTH = 401
    RATE_LIMIT = 429
    SERVER = 500


@dataclass(frozen=True, slots=True)
class Ask:
    """One request, whichever API it came in on."""

    query: str
    input_tokens: int
    max_tokens: int | None
    schema: dict[str, JsonValue] | None
    stream: bool
    logprobs: bool
    include_usage: bool


class ApiFormat(Protocol):
    def authorised(self, headers: Headers, key: str) -> bool: ...

    def parse(self, body: bytes) -> Ask:
        """Raises pydantic.ValidationError or ValueError on a request the API would refuse."""
        ...

    def render(self, model: str, answer: Answer, ask: Ask) -> bytes: ...

    def stream_head(self, model: str, ask: Ask) -> list[bytes]: ...

    def stream_delta(self, model: str, text: str) -> bytes: ...

    def stream_tail(self, model: str, answer: Answer, ask: Ask) -> list[bytes]: ...

    def error(self, kind: ErrorKind, message: str) -> bytes: ...


# Requests, as lenient as the real APIs: unknown fields ignored, content as text or text parts.


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TextPart(_In):
    type: Literal["text"]
    text: str


class InMessage(_In):
    role: str
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        return _text(self.content)


def _text(content: str | list[TextPart] | None) -> str:
    if content is None:
        return ""
    return content if isinstance(content, str) else "\n".join(part.text for part in content)


def _query(messages: list[InMessage]) -> str:
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise ValueError("no user message")
    return users[-1].text()


def _input_tokens(texts: list[str]) -> int:
    # OpenAI's accounting: a few tokens of framing per message on top of the text.
    return sum(count_tokens(t) + 4 for t in texts) + 3


class InJsonSchema(_In):
    schema_: dict[str, JsonValue] = Field(alias="schema")


class InResponseFormat(_In):
    type: str
    json_schema: InJsonSchema | None = None


class InStreamOptions(_In):
    include_usage: bool = False


class CompletionRequest(_In):
    messages: list[InMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: InStreamOptions | None = None
    logprobs: bool = False
    response_format: InResponseFormat | None = None


class MessagesRequest(_In):
    max_tokens: int = Field(ge=1)
    messages: list[InMessage] = Field(min_length=1)
    system: str | list[TextPart] | None = None
    stream: bool = False


def _ident(prefix: str) -> str:
    return f"{prefix}{new_id()[:24]}"


# OpenAI.


class OpenAIUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class OpenAITokenLogprob(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[OpenAITokenLogprob] = []


class OpenAILogprobs(BaseModel):
    content: list[OpenAITokenLogprob]


class OpenAIMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class OpenAIChoice(BaseModel):
    index: int = 0
    message: OpenAIMessage
    logprobs: OpenAILogprobs | None
    finish_reason: str


class OpenAICompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[OpenAIChoice]
    usage: OpenAIUsage


class OpenAIDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class OpenAIChunkChoice(BaseModel):
    index: int = 0
    delta: OpenAIDelta
    finish_reason: str | None = None


class OpenAIChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[OpenAIChunkChoice]
    usage: OpenAIUsage | None = None


class OpenAIErrorInfo(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None


class OpenAIError(BaseModel):
    error: OpenAIErrorInfo


OPENAI_ERRORS = {
    ErrorKind.BAD_REQUEST: ("invalid_request_error", None),
    ErrorKind.AUTH: ("invalid_request_error", "invalid_api_key"),
    ErrorKind.RATE_LIMIT: ("requests", "rate_limit_exceeded"),
    ErrorKind.SERVER: ("server_error", None),
}


class OpenAIFormat:
    def __init__(self) -> None:
        self._id = _ident("chatcmpl-sim-")
        self._created = int(time.time())

    def authorised(self, headers: Headers, key: str) -> bool:
        return headers.get("authorization") == f"Bearer {key}"

    def parse(self, body: bytes) -> Ask:
        request = CompletionRequest.model_validate_json(body)
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_schema" and fmt.json_schema is None:
            raise ValueError("response_format json_schema without its schema")
        return Ask(
            query=_query(request.messages),
            input_tokens=_input_tokens([m.text() for m in request.messages]),
            max_tokens=request.max_completion_tokens or request.max_tokens,
            schema=fmt.json_schema.schema_ if fmt is not None and fmt.json_schema is not None else None,
            stream=request.stream,
            logprobs=request.logprobs,
            include_usage=request.stream_options is not None and request.stream_options.include_usage,
        )

    def render(self, model: str, answer: Answer, ask: Ask) -> bytes:
        logprobs = None
        if ask.logprobs:
            logprobs = OpenAILogprobs(
                content=[
                    OpenAITokenLogprob(token=t, logprob=lp, bytes=list(t.encode()))
                    for t, lp in zip(answer.tokens, answer.logprobs, strict=True)
                ]
            )
        choice = OpenAIChoice(
            message=OpenAIMessage(content=answer.text), logprobs=logprobs, finish_reason=answer.finish_reason
        )
        completion = OpenAICompletion(
            id=self._id, created=self._created, model=model, choices=[choice], usage=self._usage(answer, ask)
        )
        return completion.model_dump_json().encode()

    def stream_head(self, model: str, ask: Ask) -> list[bytes]:
        return [self._chunk(model, OpenAIChunkChoice(delta=OpenAIDelta(role="assistant", content="")))]

    def stream_delta(self, model: str, text: str) -> bytes:
        return self._chunk(model, OpenAIChunkChoice(delta=OpenAIDelta(content=text)))

    def stream_tail(self, model: str, answer: Answer, ask: Ask) -> list[bytes]:
        events = [self._chunk(model, OpenAIChunkChoice(delta=OpenAIDelta(), finish_reason=answer.finish_reason))]
        if ask.include_usage:
            chunk = OpenAIChunk(
                id=self._id, created=self._created, model=model, choices=[], usage=self._usage(answer, ask)
            )
            events.append(encode_event(chunk.model_dump_json(exclude_none=True)))
        events.append(encode_event("[DONE]"))
        return events

    def error(self, kind: ErrorKind, message: str) -> bytes:
        kind_type, code = OPENAI_ERRORS[kind]
        return OpenAIError(error=OpenAIErrorInfo(message=message, type=kind_type, code=code)).model_dump_json().encode()

    def _chunk(self, model: str, choice: OpenAIChunkChoice) -> bytes:
        chunk = OpenAIChunk(id=self._id, created=self._created, model=model, choices=[choice])
        return encode_event(chunk.model_dump_json(exclude_none=True))

    @staticmethod
    def _usage(answer: Answer, ask: Ask) -> OpenAIUsage:
        output = len(answer.tokens)
        return OpenAIUsage(
            prompt_tokens=ask.input_tokens, completion_tokens=output, total_tokens=ask.input_tokens + output
        )


# Anthropic.


class _Event(BaseModel):
    type: str


class AnthropicUsage(BaseModel):
    input_tokens: int
    output_tokens: int


class AnthropicText(BaseModel):
    type: Literal["text"] = "text"
    text: str


class AnthropicMessage(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[AnthropicText]
    stop_reason: str | None
    stop_sequence: str | None = None
    usage: AnthropicUsage


class MessageStartEvent(_Event):
    type: Literal["message_start"] = "message_start"
    message: AnthropicMessage


class ContentBlockStartEvent(_Event):
    type: Literal["content_block_start"] = "content_block_start"
    index: int = 0
    content_block: AnthropicText


class PingEvent(_Event):
    type: Literal["ping"] = "ping"


class TextDelta(BaseModel):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ContentBlockDeltaEvent(_Event):
    type: Literal["content_block_delta"] = "content_block_delta"
    index: int = 0
    delta: TextDelta


class ContentBlockStopEvent(_Event):
    type: Literal["content_block_stop"] = "content_block_stop"
    index: int = 0


class StopDelta(BaseModel):
    stop_reason: str
    stop_sequence: str | None = None


class OutputUsage(BaseModel):
    output_tokens: int


class MessageDeltaEvent(_Event):
    type: Literal["message_delta"] = "message_delta"
    delta: StopDelta
    usage: OutputUsage


class MessageStopEvent(_Event):
    type: Literal["message_stop"] = "message_stop"


class AnthropicErrorInfo(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    type: Literal["error"] = "error"
    error: AnthropicErrorInfo


ANTHROPIC_ERRORS = {
    ErrorKind.BAD_REQUEST: "invalid_request_error",
    ErrorKind.AUTH: "authentication_error",
    ErrorKind.RATE_LIMIT: "rate_limit_error",
    ErrorKind.SERVER: "api_error",
}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


class AnthropicFormat:
    def __init__(self) -> None:
        self._id = _ident("msg_sim_")

    def authorised(self, headers: Headers, key: str) -> bool:
        return headers.get("x-api-key") == key

    def parse(self, body: bytes) -> Ask:
        request = MessagesRequest.model_validate_json(body)
        system = _text(request.system)
        return Ask(
            query=_query(request.messages),
            input_tokens=_input_tokens([system, *(m.text() for m in request.messages)]),
            max_tokens=request.max_tokens,
            schema=_schema_in_system(system),
            stream=request.stream,
            logprobs=False,
            include_usage=True,
        )

    def render(self, model: str, answer: Answer, ask: Ask) -> bytes:
        return (
            self._message(model, answer.text, STOP_REASONS[answer.finish_reason], ask.input_tokens, len(answer.tokens))
            .model_dump_json()
            .encode()
        )

    def stream_head(self, model: str, ask: Ask) -> list[bytes]:
        return [
            self._event(MessageStartEvent(message=self._message(model, None, None, ask.input_tokens, 1))),
            self._event(ContentBlockStartEvent(content_block=AnthropicText(text=""))),
            self._event(PingEvent()),
        ]

    def stream_delta(self, model: str, text: str) -> bytes:
        return self._event(ContentBlockDeltaEvent(delta=TextDelta(text=text)))

    def stream_tail(self, model: str, answer: Answer, ask: Ask) -> list[bytes]:
        stop = StopDelta(stop_reason=STOP_REASONS[answer.finish_reason])
        return [
            self._event(ContentBlockStopEvent()),
            self._event(MessageDeltaEvent(delta=stop, usage=OutputUsage(output_tokens=len(answer.tokens)))),
            self._event(MessageStopEvent()),
        ]

    def error(self, kind: ErrorKind, message: str) -> bytes:
        return (
            AnthropicError(error=AnthropicErrorInfo(type=ANTHROPIC_ERRORS[kind], message=message))
            .model_dump_json()
            .encode()
        )

    def _message(
        self, model: str, text: str | None, stop_reason: str | None, input_tokens: int, output_tokens: int
    ) -> AnthropicMessage:
        content = [] if text is None else [AnthropicText(text=text)]
        usage = AnthropicUsage(input_tokens=input_tokens, output_tokens=output_tokens)
        return AnthropicMessage(id=self._id, model=model, content=content, stop_reason=stop_reason, usage=usage)

    @staticmethod
    def _event(event: _Event) -> bytes:
        return encode_event(event.model_dump_json(), event=event.type)


def _schema_in_system(system: str) -> dict[str, JsonValue] | None:
    """The Messages API has no schema mode: a caller that wants JSON puts the schema in the system
    prompt, and a model that follows instructions answers in it. The last line that is a JSON
    object after a mention of "JSON Schema" is taken as that schema."""
    if "json schema" not in system.lower():
        return None
    for line in reversed(system.splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None
