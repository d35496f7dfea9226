"""Bounds on what one request may carry, the same for both front ends (`llm-router serve`
flags). Past them a request is refused before it costs anything: the body (HTTP 413, gRPC
RESOURCE_EXHAUSTED from the transport's own message limit) before it is read whole, the
message count and the conversation's size (400 / INVALID_ARGUMENT) before it is routed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from router_py.completion import Conversation
from router_py.service.errors import BadRequestError

# Documented defaults (README, `llm-router serve --help`).
MAX_BODY_BYTES = 1024 * 1024
MAX_MESSAGES = 256
MAX_INPUT_TOKENS = 200_000
# The estimate: about four characters a token in English, plus a few tokens of framing per
# message (OpenAI's accounting). A bound, not a bill: the provider counts the real tokens.
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4


class RequestLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A body, JSON or protobuf, larger than this is refused unread.
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1024)
    max_messages: int = Field(default=MAX_MESSAGES, ge=1)
    # On `estimated_tokens`, summed over the conversation.
    max_input_tokens: int = Field(default=MAX_INPUT_TOKENS, ge=1)

    def check(self, request: Conversation) -> None:
        count = len(request.messages)
        if count > self.max_messages:
            raise BadRequestError("messages", f"{count} messages; at most {self.max_messages} are accepted")
        tokens = estimated_tokens(request)
        if tokens > self.max_input_tokens:
            raise BadRequestError("messages", f"about {tokens} tokens (4 characters a token); at most "
                                              f"{self.max_input_tokens} are accepted")


def estimated_tokens(request: Conversation) -> int:
    return sum(-(-len(m.content) // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE for m in request.messages)
