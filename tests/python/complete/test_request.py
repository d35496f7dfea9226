"""What the caches and the classifier see of a completion request."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from router_py.complete.request import CompletionRequest
from router_py.providers.types import ChatMessage


def req(*messages: tuple[str, str], **fields: object) -> CompletionRequest:
    chat = [ChatMessage.model_validate({"role": r, "content": c}) for r, c in messages]
    return CompletionRequest.model_validate({"request_id": "r", "messages": chat, **fields})


def test_a_single_question_is_routed_on_its_text_alone() -> None:
    assert req(("user", "Reset my password")).routing_text() == "Reset my password"


def test_a_conversation_keeps_its_roles() -> None:
    text = req(("system", "Be brief."), ("user", "Hi")).routing_text()
    assert text == "system: Be brief.\nuser: Hi"


def test_schema_and_pinned_model_separate_cache_entries() -> None:
    plain = req(("user", "Summarise")).routing_text()
    shaped = req(("user", "Summarise"), response_schema={"type": "object"}).routing_text()
    pinned = req(("user", "Summarise"), pinned_model="sim-smart").routing_text()
    assert len({plain, shaped, pinned}) == 3
    assert shaped == req(("user", "Summarise"), response_schema={"type": "object"}).routing_text()


def test_a_request_with_nothing_to_answer_is_refused() -> None:
    with pytest.raises(ValidationError, match="non-empty content"):
        req(("user", "   "))
    with pytest.raises(ValidationError):
        req()
