"""Polling helpers shared by the service and control-plane tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import grpc

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_tools.local.fleet import Fleet

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 30.0, every: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def route_tier(fleet: Fleet, tenant: str) -> int:
    """The tier the fleet's router picks for one fixed question from `tenant`."""
    stub = pb_grpc.RouterStub(grpc.insecure_channel(fleet.grpc_target))
    request = pb.RouteRequest(tenant=tenant, messages=[pb.Message(role="user", content="What time is it in Oslo?")])
    return stub.Route(request, timeout=10).decision.tier
