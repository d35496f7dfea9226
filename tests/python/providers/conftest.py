"""A mock provider on a real loopback port, shared by the client tests, and clients pointed at it.

One server for the whole session (on its own thread and loop): starting one per test would cost
more than the tests. Each test starts from instant, fault-free answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from provider_support import KEY, spec, tier

from router_py.config.schema import ProviderApi
from router_py.providers.keys import KeyResolver
from router_py.providers.pool import ProviderPool
from router_py.providers.types import ProviderClient
from router_tools.mock.profiles import Faults
from router_tools.mock.server import MockProvider, serve_in_thread

INSTANT = Faults(latency_scale=0.0)


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProvider]:
    with serve_in_thread(MockProvider("fast", faults=INSTANT, api_key=KEY)) as m:
        yield m


@pytest.fixture(autouse=True)
def _instant(mock: MockProvider) -> Iterator[None]:
    mock.faults = INSTANT
    yield
    mock.faults = INSTANT


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def pool(mock: MockProvider) -> AsyncIterator[ProviderPool]:
    keys = KeyResolver(environ={"MOCK_KEY": KEY})
    specs = [spec("openai", mock.base_url), spec("anthropic", mock.base_url, ProviderApi.ANTHROPIC)]
    async with ProviderPool([tier(*specs)], keys=keys) as p:
        yield p


@pytest.fixture
def openai(pool: ProviderPool) -> ProviderClient:
    return pool.client("openai")


@pytest.fixture
def anthropic(pool: ProviderPool) -> ProviderClient:
    return pool.client("anthropic")


@pytest.fixture(params=["openai", "anthropic"])
def client(request: pytest.FixtureRequest, pool: ProviderPool) -> ProviderClient:
    """Each API's client in turn."""
    name: str = request.param
    return pool.client(name)
