"""A stream from a server that ignores `stream_options.include_usage` still ends cleanly, with
estimated usage, instead of failing an answer the caller has already received."""

from __future__ import annotations

from router_py.providers.openai import ChatCompletionChunk, _StreamState


def chunk(data: dict[str, object]) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                                "model": "m", **data})


def test_missing_usage_is_estimated_from_the_deltas_and_the_prompt() -> None:
    state = _StreamState("p", prompt_chars=41)
    for word in ("Hello", " there", "!"):
        state.absorb(chunk({"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}))
    state.absorb(chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    end = state.end()
    assert (end.finish_reason, end.usage.input_tokens, end.usage.output_tokens) == ("stop", 11, 3)


def test_reported_usage_wins() -> None:
    state = _StreamState("p", prompt_chars=41)
    state.absorb(chunk({"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}))
    state.absorb(chunk({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}))
    assert state.end().usage.input_tokens == 9
