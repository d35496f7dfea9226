"""A router and its providers as child processes on loopback, for the demo, tests and benches:
the same `llm-router serve` and `llm-router mock-provider` a user would run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from router_py.config.manifests import load_config
from router_py.config.schema import RouterConfig
from router_tools.mock.profiles import Faults

PROFILE_OF_TIER = {1: "fast", 2: "smart", 3: "reasoning"}


class FleetError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "router_py.cli", *args]


class Process:
    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)

    def kill(self) -> None:
        """SIGKILL: a provider that dies, not one that shuts down politely."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, timeout_s: float = 20.0) -> int:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.popen.returncode)

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise FleetError(f"{self.name} exited with {self.popen.returncode}; its log ends:\n{tail}")


def _wait_http(process: Process, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise FleetError(f"{process.name} was not ready at {url} within {timeout_s:.0f} s (log: {process.log})")


class Fleet:
    """`with Fleet(manifests, logs) as f:` starts one mock provider per provider in the manifests
    (profile by tier, port from its baseUrl) and a router on free ports, and stops them all."""

    def __init__(self, manifests: Path, logs: Path, *, provider_args: tuple[str, ...] = (),
                 router_args: tuple[str, ...] = (), profile: str | None = None,
                 cluster_env: Mapping[str, str] | None = None) -> None:
        """With `cluster_env` (KUBECONFIG, LLM_ROUTER_NAMESPACE...) the router reads its config
        from the cluster instead of `manifests`, which then only say which providers to start."""
        self.manifests = manifests
        self.logs = logs
        self.config: RouterConfig = load_config(manifests)
        self.provider_args = provider_args
        self.router_args = router_args
        self.profile = profile
        self.cluster_env = cluster_env
        self.providers: dict[str, Process] = {}
        self.router: Process | None = None
        self.grpc_port = free_port()
        self.http_port = free_port()

    def __enter__(self) -> Fleet:
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self._start_providers()
            self._start_router()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def _start_providers(self) -> None:
        for tier in self.config.tiers:
            for spec in tier.providers:
                url = urlsplit(spec.base_url)
                if url.hostname not in ("127.0.0.1", "localhost") or url.port is None:
                    raise FleetError(f"{spec.name}: {spec.base_url} is not a loopback address with a port")
                profile = self.profile or PROFILE_OF_TIER[tier.tier]
                argv = _cli("mock-provider", "--port", str(url.port), "--profile", profile, *self.provider_args)
                self.providers[spec.name] = Process(spec.name, argv, self.logs / f"{spec.name}.log")
        for spec in (p for t in self.config.tiers for p in t.providers):
            port = urlsplit(spec.base_url).port
            _wait_http(self.providers[spec.name], f"http://127.0.0.1:{port}/healthz", 30)

    def _start_router(self) -> None:
        source = () if self.cluster_env is not None else ("--config", str(self.manifests))
        argv = _cli("serve", *source, "--host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
                    "--http-port", str(self.http_port), *self.router_args)
        env = {**os.environ, **(self.cluster_env or {})}
        self.router = Process("router", argv, self.logs / "router.log", env)
        _wait_http(self.router, f"{self.http_url}/readyz", 120)

    def set_faults(self, provider: str, **faults: object) -> None:
        """Replace a simulated provider's faults at run time (the mock's `/_mock/faults`); every
        fault not named goes back to its default."""
        spec = next(p for t in self.config.tiers for p in t.providers if p.name == provider)
        body = Faults.model_validate(faults).model_dump(mode="json")
        response = httpx.post(f"{spec.base_url.removesuffix('/v1')}/_mock/faults", json=body, timeout=5)
        if response.status_code != 200:
            raise FleetError(f"{provider}: faults {faults} refused: {response.status_code} {response.text[:200]}")

    def stop(self) -> None:
        if self.router is not None:
            self.router.stop()
        for process in self.providers.values():
            process.stop(5)
