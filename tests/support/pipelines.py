"""The completion pipeline in-process against in-process mock providers (one per configured
provider, its tier's profile, no simulated latency), for tests that drive `Pipeline` directly."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from router_py.accounting.ledger import Ledger
from router_py.complete.failover import Failover
from router_py.complete.pipeline import Pipeline
from router_py.config.schema import RouterConfig
from router_py.mock.server import MockProvider
from router_py.providers.pool import ProviderPool
from router_py.routing.engine import RoutingEngine

PROFILES = {1: "fast", 2: "smart", 3: "reasoning"}


@asynccontextmanager
async def mock_pipeline(engine: RoutingEngine, default: RouterConfig,
                        configure: Callable[[dict[str, str]], RouterConfig]) -> AsyncIterator[Pipeline]:
    """`configure` gets each provider's mock URL by name and returns the config to apply."""
    async with AsyncExitStack() as stack:
        urls = {}
        for tier in default.tiers:
            for p in tier.providers:
                mock = await stack.enter_async_context(MockProvider(PROFILES[tier.tier]))
                mock.faults = mock.faults.model_copy(update={"latency_scale": 0.0})
                urls[p.name] = mock.base_url
        pool = ProviderPool([])
        stack.push_async_callback(pool.aclose)
        pipeline = Pipeline(engine, pool, Failover(engine.core, pool, lambda _: None), Ledger())
        pipeline.configure(configure(urls))
        yield pipeline
