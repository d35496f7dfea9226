"""The completion pipeline in-process against in-process mock providers (one per configured
provider, its tier's profile, no simulated latency), for tests that drive `Pipeline` (or the
whole `RouterService`, front ends included) directly."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from router_py.accounting.ledger import Ledger
from router_py.complete.failover import Failover
from router_py.complete.pipeline import Pipeline
from router_py.config.schema import RouterConfig
from router_py.config.source import ConfigUpdate
from router_py.providers.pool import ProviderPool
from router_py.routing.engine import RoutingEngine
from router_py.service.app import RouterService
from router_tools.mock.server import MockProvider
from support.admission import UNREACHABLE

PROFILES = {1: "fast", 2: "smart", 3: "reasoning"}


async def _mock_urls(stack: AsyncExitStack, default: RouterConfig) -> dict[str, str]:
    """One mock per provider of `default`, its URL by provider name."""
    urls = {}
    for tier in default.tiers:
        for p in tier.providers:
            mock = await stack.enter_async_context(MockProvider(PROFILES[tier.tier]))
            mock.faults = mock.faults.model_copy(update={"latency_scale": 0.0})
            urls[p.name] = mock.base_url
    return urls


def on_mocks(default: RouterConfig, urls: dict[str, str]) -> RouterConfig:
    """`default` with every provider's base URL pointing at its mock."""
    raw = default.model_dump(by_alias=True)
    for tier in raw["tiers"]:
        for p in tier["providers"]:
            p["baseUrl"] = urls[p["name"]]
    return RouterConfig.model_validate(raw)


@asynccontextmanager
async def mock_pipeline(engine: RoutingEngine, default: RouterConfig,
                        configure: Callable[[dict[str, str]], RouterConfig]) -> AsyncIterator[Pipeline]:
    """`configure` gets each provider's mock URL by name and returns the config to apply."""
    async with AsyncExitStack() as stack:
        urls = await _mock_urls(stack, default)
        pool = ProviderPool([])
        stack.push_async_callback(pool.aclose)
        pipeline = Pipeline(engine, pool, Failover(engine.core, pool, lambda _: None), Ledger())
        pipeline.configure(configure(urls))
        yield pipeline


@asynccontextmanager
async def mock_service(engine: RoutingEngine, default: RouterConfig) -> AsyncIterator[RouterService]:
    """The router service (admission, pipeline, ledger) on `default`, its providers mocked, with
    admission that load cannot trip (`support.admission`): a test about overload sets its own."""
    async with AsyncExitStack() as stack:
        urls = await _mock_urls(stack, default)
        service = RouterService(engine, ProviderPool([]), max_in_flight=UNREACHABLE, max_loop_lag_s=math.inf,
                                max_decision_wait_s=math.inf)
        stack.push_async_callback(service.aclose)
        if not service.apply(ConfigUpdate(revision="test", config=on_mocks(default, urls))):
            raise RuntimeError(f"config refused: {service.last_error}")
        yield service
