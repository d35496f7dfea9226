"""The pool: clients by name over one HTTP client, config reloads, and what it refuses."""

from __future__ import annotations

import httpx
import pytest
from provider_support import ask, spec, tier

from router_py.config.schema import ProviderApi, TierSpec
from router_py.providers.anthropic import AnthropicClient
from router_py.providers.keys import KeyResolver
from router_py.providers.openai import OpenAIClient
from router_py.providers.pool import ProviderPool, UnknownProviderError
from router_tools.mock.server import MockProvider

pytestmark = pytest.mark.anyio
KEYS = KeyResolver(environ={"MOCK_KEY": "sk-test-0123456789"})


async def test_clients_and_specs_by_name(mock: MockProvider) -> None:
    fast = tier(
        spec("a", mock.base_url),
        spec("b", mock.base_url, ProviderApi.ANTHROPIC).model_copy(update={"timeout_ms": 1500}),
        timeout_ms=4000,
    )
    async with ProviderPool([fast], keys=KEYS) as pool:
        assert isinstance(pool.client("a"), OpenAIClient) and isinstance(pool.client("b"), AnthropicClient)
        assert pool.spec("b").api is ProviderApi.ANTHROPIC
        assert pool.names() == ["a", "b"]
        with pytest.raises(UnknownProviderError):
            pool.client("c")


async def test_a_name_used_twice_is_refused(mock: MockProvider) -> None:
    with pytest.raises(ValueError, match="'a' appears twice"):
        ProviderPool(
            [tier(spec("a", mock.base_url)), TierSpec(tier=2, name="smart", providers=[spec("a", mock.base_url)])]
        )


async def test_a_reload_swaps_the_clients_and_keeps_the_connection_pool(mock: MockProvider) -> None:
    async with httpx.AsyncClient() as http:
        pool = ProviderPool([tier(spec("old", mock.base_url))], keys=KEYS, http=http)
        before = pool.client("old")
        assert (await before.complete(ask("hi"), timeout=5)).text
        pool.update([tier(spec("new", mock.base_url))])
        with pytest.raises(UnknownProviderError):
            pool.client("old")
        assert (await pool.client("new").complete(ask("hi"), timeout=5)).text
        # A call that started before the reload finishes on the client it had.
        assert (await before.complete(ask("hi"), timeout=5)).text
        assert not http.is_closed
        await pool.aclose()
        assert http.is_closed
