"""Specs and requests the provider tests build; fixtures live in conftest.py."""

from __future__ import annotations

from router_py.config.schema import ProviderApi, ProviderSpec, TierSpec
from router_py.providers.types import ChatMessage, ChatRequest

KEY = "sk-test-0123456789"


def spec(
    name: str, base_url: str, api: ProviderApi = ProviderApi.OPENAI, key_ref: str | None = "env:MOCK_KEY"
) -> ProviderSpec:
    return ProviderSpec(
        name=name,
        api=api,
        model="sim-fast",
        base_url=base_url,
        region="local",
        price_input_per_mtok=1.0,
        price_output_per_mtok=2.0,
        api_key_ref=key_ref,
    )


def tier(*specs: ProviderSpec, timeout_ms: int = 5000) -> TierSpec:
    return TierSpec(tier=1, name="fast", timeout_ms=timeout_ms, providers=list(specs))


def ask(text: str, **options: object) -> ChatRequest:
    return ChatRequest.model_validate({"messages": [ChatMessage(role="user", content=text)], **options})
