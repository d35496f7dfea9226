"""Lookups on the live config the pipeline needs per call: provider specs, timeouts, prices."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from router_py import _core
from router_py.completion import CostBasis
from router_py.config.schema import ProviderSpec, RouterConfig, TierSpec
from router_py.providers.types import Usage


class Price(BaseModel):
    model_config = ConfigDict(frozen=True)

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, usage: Usage) -> float:
        """The core's computation, so the service's accounting and its estimates never differ."""
        return _core.cost_usd(usage.input_tokens, usage.output_tokens, self.input_per_mtok, self.output_per_mtok)


class Cost(BaseModel):
    """What a request cost and saved against always-tier-3 on the same tokens, and on which
    tokens: the one computation every answer reports, bought or served from cache."""

    model_config = ConfigDict(frozen=True)

    cost_usd: float
    tier3_cost_usd: float
    saved_usd: float
    basis: CostBasis


class UnknownModelError(LookupError):
    """A pinned model that no provider of the live config serves."""


class Catalog:
    """Immutable view of one RouterConfig; a reload builds a new one."""

    def __init__(self, config: RouterConfig) -> None:
        self.config = config
        self._providers: dict[str, tuple[ProviderSpec, TierSpec]] = {
            p.name: (p, t) for t in config.tiers for p in t.providers
        }
        self._tiers = {t.tier: t for t in config.tiers}

    def provider(self, name: str) -> ProviderSpec:
        return self._providers[name][0]

    def tier_of(self, name: str) -> int:
        return self._providers[name][1].tier

    def timeout_s(self, name: str) -> float:
        """Seconds a call to `name` may take, by the core's rule (its own `timeoutMs`, else its tier's)."""
        spec, tier = self._providers[name]
        return _core.provider_timeout_ms(spec.timeout_ms, tier.timeout_ms) / 1000

    def price(self, name: str) -> Price:
        spec = self.provider(name)
        return Price(input_per_mtok=spec.price_input_per_mtok, output_per_mtok=spec.price_output_per_mtok)

    def tier3_price(self) -> Price:
        """The saving is counted against the first tier-3 provider, as the core estimates it."""
        return self.price(self._tiers[3].providers[0].name)

    def cost(self, paid_usd: float, tokens: Usage, basis: CostBasis) -> Cost:
        """`paid_usd` (every call the request bought) against the first tier-3 provider's
        prices on `tokens`."""
        tier3 = self.tier3_price().cost(tokens)
        return Cost(cost_usd=paid_usd, tier3_cost_usd=tier3, saved_usd=tier3 - paid_usd, basis=basis)

    def expected_usage(self, input_tokens: int) -> Usage:
        """The tokens of an answer not counted by any provider, as the core estimates them: the
        request's input and the policy's `expectedOutputTokens`."""
        return Usage(input_tokens=input_tokens, output_tokens=self.config.policy.expected_output_tokens)

    def models(self) -> list[ProviderSpec]:
        return [p for p, _ in self._providers.values()]

    def pinned(self, model: str) -> tuple[int, list[str]]:
        """The tier and providers (failover order) serving `model`, matched on model or provider name."""
        for tier in self.config.tiers:
            names = [p.name for p in tier.providers if model in (p.model, p.name)]
            if names:
                return tier.tier, names
        known = sorted({p.model for p in self.models()})
        raise UnknownModelError(f"model {model!r} is not served here; use 'auto' or one of {known}")
