"""Every configured provider's client by name, over one shared HTTP connection pool.

A config reload swaps the clients (cheap: a spec and two references) but keeps the HTTP client,
so warm keep-alive connections to providers that stay survive the reload; calls in flight finish
on the client they started with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType

import httpx

from router_py.config.schema import ProviderApi, ProviderSpec, TierSpec
from router_py.providers.anthropic import AnthropicClient
from router_py.providers.keys import KeyResolver
from router_py.providers.openai import OpenAIClient
from router_py.providers.transport import new_http_client
from router_py.providers.types import ProviderClient

log = logging.getLogger("llm_router.providers.pool")

CLIENTS: dict[ProviderApi, Callable[[ProviderSpec, httpx.AsyncClient, KeyResolver], ProviderClient]] = {
    ProviderApi.OPENAI: OpenAIClient,
    ProviderApi.ANTHROPIC: AnthropicClient,
}


class UnknownProviderError(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no provider named {name!r} in the current config")
        self.name = name


@dataclass(frozen=True, slots=True)
class _Entry:
    client: ProviderClient
    spec: ProviderSpec


class ProviderPool:
    def __init__(
        self,
        tiers: Sequence[TierSpec],
        *,
        keys: KeyResolver | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or new_http_client()
        self._keys = keys or KeyResolver()
        self._entries: dict[str, _Entry] = {}
        self.update(tiers)

    def client(self, name: str) -> ProviderClient:
        return self._entry(name).client

    def spec(self, name: str) -> ProviderSpec:
        return self._entry(name).spec

    def names(self) -> list[str]:
        return list(self._entries)

    def update(self, tiers: Sequence[TierSpec]) -> None:
        """Swap in a new config; refuses (ValueError) one that names a provider twice."""
        entries: dict[str, _Entry] = {}
        for tier in tiers:
            for spec in tier.providers:
                if spec.name in entries:
                    raise ValueError(f"provider {spec.name!r} appears twice (tier {tier.name!r})")
                client = CLIENTS[spec.api](spec, self._http, self._keys)
                entries[spec.name] = _Entry(client, spec)
        self._entries = entries
        log.info("providers updated", extra={"providers": sorted(entries)})

    async def aclose(self) -> None:
        """Closes the HTTP client, a passed-in one too: the pool owns it from construction on."""
        await self._http.aclose()

    async def __aenter__(self) -> ProviderPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownProviderError(name)
        return entry
