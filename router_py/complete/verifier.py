"""A verifier call for the gate's score when the answering provider gave no logprobs: a stronger
tier rates the answer from 0 to 1."""

from __future__ import annotations

import re

from router_py.providers.types import ChatMessage, ChatRequest, ChatResult

_PROMPT = (
    "You check answers written by another assistant. Rate how likely the answer below is correct, complete "
    "and responsive to the request, from 0 (certainly not) to 1 (certainly). Reply with the number only.\n\n"
    "Request:\n{request}\n\nAnswer:\n{answer}"
)
_NUMBER = re.compile(r"(?<![\d.])(0(?:\.\d+)?|1(?:\.0+)?)(?![\d.])")


def verifier_request(request_text: str, answer: str) -> ChatRequest:
    # Head of each: the verifier is asked for a quick judgement, not to reread a whole document.
    prompt = _PROMPT.format(request=request_text[:4000], answer=answer[:4000])
    return ChatRequest(messages=[ChatMessage(role="user", content=prompt)], max_tokens=8, temperature=0.0)


def parse_score(result: ChatResult) -> float | None:
    """The first number in [0, 1] the verifier wrote, or None when it wrote none."""
    match = _NUMBER.search(result.text)
    return float(match.group(1)) if match else None
