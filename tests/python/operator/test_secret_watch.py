"""`SecretWatches` with a stand-in client: a watch per Secret name a pass tracks, stopped when
no tier names it any more, and each state of a watched Secret starting a pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from router_operator.secret_watch import SecretWatches

from router_py.config.kube_objects import SECRETS, Kind, ObjectMeta, Secret

pytestmark = pytest.mark.anyio
WAIT_S = 30.0  # only how long a broken test hangs: nothing here is timed


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


class Followed:
    """What `KubeClient.follow` would yield for one name, fed by the test."""

    def __init__(self) -> None:
        self.states: asyncio.Queue[Secret | None] = asyncio.Queue()
        self.stopped = asyncio.Event()


class StandInClient:
    def __init__(self, *names: str) -> None:
        self.followed = {name: Followed() for name in names}

    async def follow(self, kind: Kind, model: type[Secret], namespace: str, name: str) -> AsyncIterator[Secret | None]:
        assert (kind, model, namespace) == (SECRETS, Secret, "ns")
        followed = self.followed[name]
        try:
            while True:
                yield await followed.states.get()
        finally:
            followed.stopped.set()


class Passes:
    """The reconciler's `request`, recording each trigger."""

    def __init__(self) -> None:
        self.triggers: asyncio.Queue[str] = asyncio.Queue()

    async def request(self, trigger: str) -> bool:
        await self.triggers.put(trigger)
        return True

    async def next(self) -> str:
        return await asyncio.wait_for(self.triggers.get(), WAIT_S)


def secret(name: str) -> Secret:
    return Secret(metadata=ObjectMeta(name=name))


async def test_each_state_of_a_tracked_secret_starts_a_pass() -> None:
    client, passes = StandInClient("a", "b"), Passes()
    watches = SecretWatches(client, "ns", passes.request)  # type: ignore[arg-type]
    watches.track(["a", "b"])
    client.followed["a"].states.put_nowait(None)  # does not exist yet
    assert await passes.next() == "secret/a"
    client.followed["b"].states.put_nowait(secret("b"))
    assert await passes.next() == "secret/b"
    client.followed["a"].states.put_nowait(secret("a"))  # created
    assert await passes.next() == "secret/a"
    await watches.aclose()
    assert client.followed["a"].stopped.is_set() and client.followed["b"].stopped.is_set()


async def test_a_name_no_longer_referenced_stops_its_watch_only() -> None:
    client, passes = StandInClient("a", "b"), Passes()
    watches = SecretWatches(client, "ns", passes.request)  # type: ignore[arg-type]
    watches.track(["a", "b"])
    client.followed["a"].states.put_nowait(secret("a"))
    assert await passes.next() == "secret/a"
    watches.track(["b"])
    await asyncio.wait_for(client.followed["a"].stopped.wait(), WAIT_S)
    assert not client.followed["b"].stopped.is_set()
    watches.track(["b"])  # already watched: not a second watch
    client.followed["b"].states.put_nowait(secret("b"))
    assert await passes.next() == "secret/b"
    assert passes.triggers.empty()
    await watches.aclose()


async def test_a_pass_that_stops_its_own_watch_still_finishes() -> None:
    """A Secret deleted while its tier is edited: the pass its watch starts finds the name no
    longer referenced and stops that very watch; the pass runs to its end all the same."""
    client, finished = StandInClient("a"), asyncio.Event()
    watches: SecretWatches

    async def reconcile(trigger: str) -> bool:
        watches.track([])  # the tier no longer names "a"
        await asyncio.sleep(0)  # the pass goes on after the watch was cancelled
        finished.set()
        return True

    watches = SecretWatches(client, "ns", reconcile)  # type: ignore[arg-type]
    watches.track(["a"])
    client.followed["a"].states.put_nowait(None)
    await asyncio.wait_for(finished.wait(), WAIT_S)
    await asyncio.wait_for(client.followed["a"].stopped.wait(), WAIT_S)
    await watches.aclose()
