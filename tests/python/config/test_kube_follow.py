"""`KubeClient.follow` against a stand-in API server whose watch connection never answers (as
one a NAT or load balancer dropped without a reset): the round ends at its deadline and the
object is listed again, instead of the follower waiting for good."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest

from router_py.config import kube_client
from router_py.config.kube_client import KubeClient, connection_config
from router_py.config.kube_objects import CONFIGMAPS, ConfigMap

pytestmark = pytest.mark.anyio
WAIT_S = 30.0  # only how long a broken test hangs: nothing here is timed


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


class StuckWatchServer:
    """Answers every list with no ConfigMaps; accepts every watch and then sends nothing."""

    def __init__(self) -> None:
        self.lists = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went away, or the test ended
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if b"watch=true" in head.split(b"\r\n", 1)[0]:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                await writer.drain()
                await asyncio.Event().wait()  # stuck
            self.lists += 1
            body = json.dumps({"kind": "ConfigMapList", "metadata": {"resourceVersion": "7"}, "items": []}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
            writer.write(body)
            await writer.drain()


@pytest.fixture()
async def server() -> AsyncIterator[tuple[StuckWatchServer, int]]:
    stub = StuckWatchServer()
    listening = await asyncio.start_server(stub.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield stub, port
        listening.close()


async def test_a_stuck_watch_ends_at_the_rounds_deadline(
    server: tuple[StuckWatchServer, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub, port = server
    monkeypatch.setattr(kube_client, "WATCH_GRACE_S", 0.05)
    path = tmp_path / "config"
    path.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    async with KubeClient(connection_config({"KUBECONFIG": str(path)})) as client:
        states = client.follow(CONFIGMAPS, ConfigMap, "ns", "cfg", server_timeout_s=0)
        with anyio.fail_after(WAIT_S):
            assert [await anext(states), await anext(states)] == [None, None]
        await states.aclose()
    assert stub.lists == 2
