"""Start six simulated providers (two per tier) and the router from the embedded default
manifests, replay the workload through gRPC `Complete`, kill a tier-1 provider mid-run, print
the table."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import grpc
import httpx

from router_py.api.llmrouter.v1 import router_pb2 as pb
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc
from router_py.config.manifests import embedded_default_dir
from router_tools.demo import report, workload
from router_tools.local.fleet import Fleet

KILLED = "sim-fast-a"


def _progress(done: int, total: int) -> None:
    width = 40
    filled = width * done // total
    if done != total and filled == width * (done - 1) // total and not sys.stderr.isatty():
        return  # a log file gets one line per step of the bar, a terminal every request
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")


async def replay(fleet: Fleet, requests: list[pb.CompleteRequest], concurrency: int) -> report.Tally:
    tally = report.Tally()
    gate = asyncio.Semaphore(concurrency)
    done = 0
    async with grpc.aio.insecure_channel(fleet.grpc_target) as channel:
        stub = pb_grpc.RouterStub(channel)

        async def one(i: int, request: pb.CompleteRequest) -> None:
            nonlocal done
            async with gate:
                if i == len(requests) * 2 // 5:
                    fleet.providers[KILLED].kill()
                started = time.perf_counter()
                try:
                    response = await stub.Complete(request, timeout=60)
                    tally.add(response, (time.perf_counter() - started) * 1000)
                except grpc.aio.AioRpcError as e:
                    tally.fail(e.code().name)
                done += 1
                _progress(done, len(requests))

        # Launched in order, a few at a time: a repeat comes after its original has been answered.
        await asyncio.gather(*(one(i, r) for i, r in enumerate(requests)))
    return tally


def main(n: int = 600, seed: int = 7, concurrency: int = 24) -> int:
    requests = workload.build(n, seed)
    with tempfile.TemporaryDirectory(prefix="llm-router-demo-") as logs:
        sys.stderr.write(f"starting 6 simulated providers and the router (logs in {logs})...\n")
        with Fleet(embedded_default_dir(), Path(logs)) as fleet:
            started = time.perf_counter()
            tally = asyncio.run(replay(fleet, requests, concurrency))
            seconds = time.perf_counter() - started
            metrics = httpx.get(f"{fleet.http_url}/metrics", timeout=5).text
    print(report.table(tally, report.breaker_transitions(metrics), KILLED, seconds))
    failure = report.failure(tally, len(requests))
    if failure is not None:
        sys.stderr.write(f"llm-router demo: {failure}\n")
        return 1
    return 0
