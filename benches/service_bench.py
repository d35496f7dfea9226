"""`make bench`, the service part: the running router (`llm-router serve`) under load, against
LiteLLM's proxy in front of the same simulated provider, in one run on this machine.

Every provider is one `llm-router mock-provider --profile fixed --latency-ms 20` process (answers
in 20 ms, ~0.4 ms of its own CPU): all six providers of the router's tiers point at it, LiteLLM
routes `sim-fixed` to it, and the "direct" baseline calls it with no proxy in between.

  1. Route over gRPC (ghz): p50/p99 at 200 rps constant rate, short queries and the hold-out mix,
     and the most decisions per second unthrottled (-c 16).
  2. Complete over HTTP (vegeta, open loop, constant rate) for direct / router / LiteLLM on a
     ladder of rates until each stops keeping up: throughput, success, p50/p99, overhead (p50 over
     the direct call's p50 at the same rate) and the proxy's CPU per answered request.
  3. Complete over gRPC (ghz) at the router's HTTP capacity.
  4. Goodput (successful answers per second; 429s are refusals) at 2x each system's capacity.

Every step waits for the servers to go idle and for other processes on the machine to calm down,
and is run again (--retries) when they used more than 0.15 cores during it; the "other load"
column says how much they used. Writes benches/results/service.json and prints markdown tables.
Ratios are within this run. Needs `make tools` (ghz, vegeta) and `make models`; LiteLLM is
installed on first use into $CACHE/bench/litellm-venv (pinned, its own virtualenv).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service.load import ghz_run, keeps_up, vegeta_attack, write_targets
from service.procs import (
    BenchError,
    Child,
    ForeignLoad,
    install_cleanup,
    stop_all,
    tree_cpu_seconds,
    wait_http,
    wait_machine_quiet,
    wait_quiet,
)
from service.tools import (
    LITELLM_VERSION,
    ensure_litellm,
    tool_path,
    tool_version,
    version_of,
)
from service.workload import Workload

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results"
PROTO = ROOT / "proto" / "llmrouter" / "v1" / "router.proto"
LITELLM_TEMPLATE = ROOT / "benches" / "litellm" / "config.template.yaml"
DEFAULT_LADDER = (25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 600, 800, 1200)
FOREIGN_WARN = 0.15  # cores used by processes outside the bench before a step is flagged
KEEPS_UP = {"min_success": 0.99, "min_throughput": 0.95, "max_p99_ms": 1000.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- the processes -------------------------------------------------------------------------------


def write_manifests(folder: Path, provider_url: str) -> Path:
    """The embedded default, every provider at the fixed mock, no rate limits (they would
    throttle the load), and the semantic cache's threshold at 1.0: with unique texts no request
    is answered from a cache, yet every one pays the lookups and files its answer."""
    from router_py.config.manifests import embedded_default_dir

    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(embedded_default_dir().glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(source.read_text()) if d]
        for doc in docs:
            spec = doc["spec"]
            if doc["kind"] == "ProviderTier":
                for p in spec["providers"]:
                    p["baseUrl"] = provider_url
            else:
                spec["limits"] = {}
                spec["cache"]["semantic"]["similarityThreshold"] = 1.0
        (folder / source.name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return folder


def _py(*args: str) -> list[str]:
    return [sys.executable, "-m", "router_py.cli", *args]


@dataclass
class Servers:
    work: Path
    max_in_flight: int | None
    router_log_level: str
    mock: Child | None = None
    router: Child | None = None
    litellm: Child | None = None
    mock_port: int = 0
    router_http: int = 0
    router_grpc: int = 0
    litellm_port: int = 0
    litellm_exe: Path | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def mock_url(self) -> str:
        return f"http://127.0.0.1:{self.mock_port}"

    def start_mock(self) -> None:
        self.mock_port = free_port()
        self.mock = Child("mock-provider", _py("mock-provider", "--port", str(self.mock_port), "--profile", "fixed",
                                               "--latency-ms", "20"), self.work / "mock.log")
        wait_http(self.mock, f"{self.mock_url}/healthz", 30)

    def start_router(self, max_in_flight: int | None = None) -> None:
        if self.router is not None:
            self.router.stop()
        if max_in_flight is not None:
            self.max_in_flight = max_in_flight
        manifests = write_manifests(self.work / "manifests", f"{self.mock_url}/v1")
        self.router_http, self.router_grpc = free_port(), free_port()
        limit = ["--max-in-flight", str(self.max_in_flight)] if self.max_in_flight else []
        self.router = Child("router", _py("serve", "--config", str(manifests), "--host", "127.0.0.1", "--grpc-port",
                                          str(self.router_grpc), "--http-port", str(self.router_http), *limit,
                                          "--log-level", self.router_log_level),
                            self.work / f"router-{self.max_in_flight or 'default'}.log")
        wait_http(self.router, f"http://127.0.0.1:{self.router_http}/readyz", 120)

    def start_litellm(self) -> None:
        assert self.litellm_exe is not None
        self.litellm_port = free_port()
        config = self.work / "litellm.yaml"
        config.write_text(LITELLM_TEMPLATE.read_text().replace("${MOCK_URL}", f"{self.mock_url}/v1"))
        env = {**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"}
        env.pop("DATABASE_URL", None)
        self.litellm = Child("litellm", [str(self.litellm_exe), "--config", str(config), "--host", "127.0.0.1",
                                         "--port", str(self.litellm_port), "--num_workers", "1", "--telemetry", "False"],
                             self.work / "litellm.log", env=env, cwd=self.work)
        wait_http(self.litellm, f"http://127.0.0.1:{self.litellm_port}/health/liveliness", 180)

    def url(self, system: str) -> str:
        port = {"direct": self.mock_port, "router": self.router_http, "litellm": self.litellm_port}[system]
        return f"http://127.0.0.1:{port}/v1/chat/completions"

    def all_pids(self) -> list[int]:
        return [c.pid for c in (self.mock, self.router, self.litellm) if c is not None and c.alive()]

    def pid(self, system: str) -> int:
        child = {"direct": self.mock, "router": self.router, "litellm": self.litellm}[system]
        assert child is not None
        child.check_alive()
        return child.pid


MODEL = {"direct": "sim-fixed", "router": "auto", "litellm": "sim-fixed"}


# -- the steps -----------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    servers: Servers
    vegeta: Path
    ghz: Path
    workload: Workload
    steps: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0

    def tag(self, what: str) -> str:
        self.seq += 1
        return f"{what}{self.seq}"

    def retried(self, run: Any, what: str) -> dict[str, Any]:
        """Run a step on a quiet machine: wait for other processes to calm down first, and run it
        again (up to --retries times) when they used more than FOREIGN_WARN cores during it."""
        for attempt in range(self.args.retries + 1):
            waited, cores = wait_machine_quiet(self.servers.all_pids, below_cores=FOREIGN_WARN,
                                               max_s=self.args.quiet_wait, window_s=2.0)
            if waited > 3:
                log(f"waited {waited:.0f} s for other processes to calm down (last: {cores:.2f} cores)")
            result: dict[str, Any] = run()
            if result.get("foreign_cores", 0) <= FOREIGN_WARN or attempt == self.args.retries:
                result["attempts"] = attempt + 1
                return result
            self.steps.pop()
            log(f"{what}: other processes used {result['foreign_cores']} cores; running it again")
        raise AssertionError("unreachable")

    def http_step(self, system: str, rate: float, section: str, duration_s: float | None = None) -> dict[str, Any]:
        return self.retried(lambda: self._http_step(system, rate, section, duration_s), f"{system} at {rate:g} rps")

    def grpc_step(self, call: str, section: str, *, rps: int | None, duration_s: float, concurrency: int,
                  workload: Workload | None = None) -> dict[str, Any]:
        return self.retried(lambda: self._grpc_step(call, section, rps=rps, duration_s=duration_s,
                                                    concurrency=concurrency, workload=workload), f"grpc {call}")

    def _http_step(self, system: str, rate: float, section: str, duration_s: float | None = None) -> dict[str, Any]:
        duration_s = duration_s or self.args.step_seconds
        s = self.servers
        tag = self.tag(system[0])
        targets = s.work / f"targets-{tag}.json"
        n = math.ceil(rate * duration_s * 1.1) + 50  # vegeta cycles: never let a text come round again
        write_targets(targets, s.url(system), self.workload.chat_bodies(MODEL[system], tag, n))
        self.settle()
        cpu0, mock0 = tree_cpu_seconds(s.pid(system)), tree_cpu_seconds(s.pid("direct"))
        foreign = ForeignLoad(s.all_pids)
        result = vegeta_attack(self.vegeta, targets, rate, duration_s, self.args.timeout, s.work / f"{tag}.bin",
                               inspect_body=system == "router")
        result["foreign_cores"] = round(foreign.cores(), 2)
        cpu, mock_cpu = tree_cpu_seconds(s.pid(system)) - cpu0, tree_cpu_seconds(s.pid("direct")) - mock0
        targets.unlink(missing_ok=True)
        result.update(section=section, system=system, api="http", duration_s=duration_s, cpu_s=round(cpu, 2),
                      cpu_ms_per_ok=round(1000 * cpu / result["ok"], 2) if result["ok"] else None,
                      cores=round(cpu / result["wall_s"], 2) if result["wall_s"] else None,
                      mock_cpu_ms_per_ok=round(1000 * mock_cpu / result["ok"], 2) if result["ok"] else None,
                      keeps_up=keeps_up(result, **KEEPS_UP))
        if system == "router":
            result["max_in_flight"] = s.max_in_flight
        self.steps.append(result)
        lat = result["latency"]
        log(f"{section:9s} {system:8s} {rate:6.0f} rps: {result['throughput_rps']:7.1f} ok/s, "
            f"success {100 * result['success_ratio']:6.2f}%, p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
            f"cpu {result['cpu_ms_per_ok']} ms/req{'' if result['keeps_up'] else '  (falls behind)'}{_foreign(result)}")
        return result

    def _grpc_step(self, call: str, section: str, *, rps: int | None, duration_s: float, concurrency: int,
                   workload: Workload | None = None) -> dict[str, Any]:
        s = self.servers
        tag = self.tag("g")
        data = s.work / f"ghz-{tag}.json"
        data.write_text(json.dumps((workload or self.workload).ghz_data(tag)))
        self.settle()
        cpu0 = tree_cpu_seconds(s.pid("router"))
        foreign = ForeignLoad(s.all_pids)
        result = ghz_run(self.ghz, PROTO, f"llmrouter.v1.Router.{call}", f"127.0.0.1:{s.router_grpc}", data,
                         s.work / f"{tag}.out.json", rps=rps, duration_s=duration_s, concurrency=concurrency,
                         timeout_s=self.args.timeout)
        cpu = tree_cpu_seconds(s.pid("router")) - cpu0
        result["foreign_cores"] = round(foreign.cores(), 2)
        result.update(section=section, system="router", api=f"grpc.{call}", workload=(workload or self.workload).kind,
                      duration_s=duration_s, cpu_s=round(cpu, 2),
                      cpu_ms_per_ok=round(1000 * cpu / result["ok"], 2) if result["ok"] else None,
                      cores=round(cpu / result["wall_s"], 2) if result["wall_s"] else None,
                      max_in_flight=s.max_in_flight)
        if rps:
            result["keeps_up"] = keeps_up(result, **KEEPS_UP)
        self.steps.append(result)
        lat = result["latency"]
        log(f"{section:9s} grpc.{call:8s} {'max' if not rps else rps}: {result['throughput_rps']:7.1f} ok/s, "
            f"success {100 * result['success_ratio']:6.2f}%, p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
            f"cpu {result['cpu_ms_per_ok']} ms/req{_foreign(result)}")
        return result

    def settle(self) -> None:
        """Every server idle first: a proxy still working through the backlog a timed-out step
        left behind (LiteLLM keeps going after its callers gave up) would steal CPU from this one."""
        waited = wait_quiet(self.servers.all_pids(), max_s=90)
        if waited > 5:
            log(f"waited {waited:.0f} s for the servers to go idle")

    def warm(self, system: str) -> None:
        """Lazy imports, first connections, thread pools: paid before anything is measured."""
        s = self.servers
        targets = s.work / "warm.json"
        write_targets(targets, s.url(system), self.workload.chat_bodies(MODEL[system], self.tag("w"), 400))
        vegeta_attack(self.vegeta, targets, 40, 4, self.args.timeout, s.work / "warm.bin")
        targets.unlink(missing_ok=True)


# -- the run -------------------------------------------------------------------------------------


def section_route(b: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {}
    b.grpc_step("Route", "warmup", rps=100, duration_s=3, concurrency=16)
    b.steps.pop()
    for kind in ("short", "holdout"):
        w = b.workload if kind == b.workload.kind else Workload(kind)
        # The hold-out mix is past the router's capacity at 200 rps: a shorter run says as much.
        seconds = b.args.route_seconds if kind == "short" else min(b.args.route_seconds, 10)
        out[f"{kind}_200rps"] = b.grpc_step("Route", "route", rps=b.args.route_rps, duration_s=seconds,
                                            concurrency=50, workload=w)
        out[f"{kind}_max"] = b.grpc_step("Route", "route", rps=None, duration_s=min(seconds, b.args.max_seconds),
                                         concurrency=16, workload=w)
    return out


def section_ladder(b: Bench, systems: list[str]) -> dict[str, Any]:
    for system in ["direct", *systems]:
        b.warm(system)
    capacity: dict[str, float | None] = {s: None for s in systems}
    first_fail: dict[str, float | None] = {s: None for s in systems}
    active = list(systems)
    direct: dict[float, dict[str, Any]] = {}
    for rate in b.args.rates:
        if not active:
            break
        direct[rate] = b.http_step("direct", rate, "ladder")
        for system in list(active):
            step = b.http_step(system, rate, "ladder")
            step["overhead_p50_ms"] = _minus(step["latency_ok"]["p50_ms"], direct[rate]["latency_ok"]["p50_ms"])
            step["overhead_p99_ms"] = _minus(step["latency_ok"]["p99_ms"], direct[rate]["latency_ok"]["p99_ms"])
            if step["keeps_up"]:
                capacity[system] = rate
            else:
                first_fail[system] = rate
                active.remove(system)
    return {"capacity_rps": capacity, "first_failing_rps": first_fail,
            "still_keeping_up_at_top": [s for s in active]}


def _foreign(step: dict[str, Any]) -> str:
    return f"  [other processes used {step['foreign_cores']} cores]" if step.get("foreign_cores", 0) > FOREIGN_WARN else ""


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 2)


def section_overload(b: Bench, systems: list[str], capacity: dict[str, float | None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for system in systems:
        cap = capacity.get(system)
        if not cap:
            continue
        step = b.http_step(system, 2 * cap, "overload")
        out[system] = {"capacity_rps": cap, "offered_rps": 2 * cap, "goodput_rps": step["throughput_rps"],
                       "goodput_over_capacity": round(step["throughput_rps"] / cap, 3),
                       "success_ratio": step["success_ratio"], "codes": step["codes"],
                       "p50_ok_ms": step["latency_ok"]["p50_ms"], "p99_ok_ms": step["latency_ok"]["p99_ms"]}
    return out


def section_tune(b: Bench, values: list[int], rate: float) -> list[dict[str, Any]]:
    out = []
    for value in values:
        b.servers.start_router(value)
        b.warm("router")
        step = b.http_step("router", rate, "tune")
        out.append({"max_in_flight": value, "offered_rps": rate, "goodput_rps": step["throughput_rps"],
                    "success_ratio": step["success_ratio"], "codes": step["codes"],
                    "p50_ok_ms": step["latency_ok"]["p50_ms"], "p99_ok_ms": step["latency_ok"]["p99_ms"],
                    "cpu_ms_per_ok": step["cpu_ms_per_ok"]})
    return out  # the last router keeps running: nothing is measured after this section


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 2**20, 1), "kernel": platform.release(),
            "python": platform.python_version()}


def versions(servers: Servers, vegeta: Path, ghz: Path) -> dict[str, Any]:
    from importlib.metadata import version

    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True,
                           check=False).stdout.strip()
    out = {"llm_router_git": rev + ("+dirty" if dirty else ""), "vegeta": tool_version("vegeta"),
           "ghz": tool_version("ghz")}
    for pkg in ("uvicorn", "starlette", "httpx", "grpcio", "pydantic"):
        with contextlib.suppress(Exception):  # informational only
            out[pkg] = version(pkg)
    if servers.litellm_exe is not None:
        out["litellm"] = LITELLM_VERSION
        out["litellm_reported"] = version_of([str(servers.litellm_exe.parent / "python"), "-c",
                                              "import importlib.metadata as m; print(m.version('litellm'))"])
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_cleanup()
    try:
        return run(args)
    except BenchError as e:
        print(f"service_bench: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("service_bench: interrupted; stopping every process it started", file=sys.stderr)
        return 130
    finally:
        stop_all()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=list(DEFAULT_LADDER),
                   help="the Complete ladder, requests per second (comma-separated)")
    p.add_argument("--step-seconds", type=float, default=12.0, help="length of each vegeta step")
    p.add_argument("--route-rps", type=int, default=200)
    p.add_argument("--route-seconds", type=float, default=20.0)
    p.add_argument("--max-seconds", type=float, default=12.0, help="length of the unthrottled Route runs")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout of the load generators")
    p.add_argument("--workload", choices=("short", "holdout"), default="short", help="texts of the Complete requests")
    p.add_argument("--max-in-flight", type=int, help="the router's --max-in-flight (default: the router's own)")
    p.add_argument("--tune-max-in-flight", type=lambda s: [int(x) for x in s.split(",")], default=[],
                   help="also run the router at 2x its capacity with each of these --max-in-flight values")
    p.add_argument("--router-log-level", default="INFO", help="the router's --log-level (INFO logs every decision)")
    p.add_argument("--retries", type=int, default=3,
                   help="run a step again when processes outside the bench used > 0.15 cores during it")
    p.add_argument("--quiet-wait", type=float, default=60.0,
                   help="at most this long, wait before each step for other processes to calm down")
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--skip-route", action="store_true")
    p.add_argument("--out", type=Path, default=RESULTS / "service.json")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs, manifests)")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    vegeta, ghz = tool_path("vegeta"), tool_path("ghz")
    from router_py.runtime import RuntimeSetupError, model_dir

    try:
        model_dir()
    except RuntimeSetupError as e:
        raise BenchError(str(e)) from None
    workload = Workload(args.workload)
    work = Path(tempfile.mkdtemp(prefix="llm-router-service-bench-"))
    log(f"work folder {work}")
    servers = Servers(work=work, max_in_flight=args.max_in_flight, router_log_level=args.router_log_level)
    systems = ["router"] if args.skip_litellm else ["router", "litellm"]
    if not args.skip_litellm:
        servers.litellm_exe = ensure_litellm(work / "litellm-install.log")
    servers.start_mock()
    servers.start_router()
    if not args.skip_litellm:
        servers.start_litellm()
    for system in ["direct", *systems]:
        _check_answer(servers, system)
    bench = Bench(args=args, servers=servers, vegeta=vegeta, ghz=ghz, workload=workload)
    results: dict[str, Any] = {"machine": machine(), "versions": versions(servers, vegeta, ghz),
                               "command": reproduce_command(args), "settings": settings(args, bench)}
    log(f"servers up after {time.monotonic() - started:.0f} s")
    if not args.skip_route:
        results["route"] = section_route(bench)
    ladder = section_ladder(bench, systems)
    results["ladder"] = ladder
    cap = ladder["capacity_rps"].get("router")
    if cap:  # before the overload steps, which leave breakers open and connection pools large
        bench.grpc_step("Complete", "grpc", rps=int(cap), duration_s=args.step_seconds, concurrency=64)
    results["overload"] = section_overload(bench, systems, ladder["capacity_rps"])
    if args.tune_max_in_flight and cap:
        results["tune_max_in_flight"] = section_tune(bench, args.tune_max_in_flight, 2 * cap)
    results["steps"] = bench.steps
    results["summary"] = summary(results, systems)
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results, systems))
    print(f"\nresults: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}; "
          f"{results['elapsed_s']:.0f} s in all\nreproduce: {results['command']}")
    stop_all()
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    refused = unexpected_refusals(results)
    if refused:
        print(f"service_bench: the router refused requests at loads it sustains: {', '.join(refused)}", file=sys.stderr)
        return 1
    return 0


def unexpected_refusals(results: dict[str, Any]) -> list[str]:
    """Refusals where none belong: Route at 200 rps of short queries, and the router's ladder
    steps up to its capacity. The overload sections and the ladder's failing step refuse by design."""
    cap = results["ladder"]["capacity_rps"].get("router") or 0
    found = []
    for s in results["steps"]:
        expected_calm = (s["section"] == "route" and s.get("workload") == "short" and s["offered_rps"]) or (
            s["section"] == "ladder" and s["system"] == "router" and s["offered_rps"] <= cap)
        # vegeta reports HTTP statuses, ghz gRPC code names ("ResourceExhausted").
        count = sum(n for code, n in s["codes"].items() if str(code) == "429" or "exhausted" in str(code).lower())
        if expected_calm and count:
            found.append(f"{s['section']}/{s['api']}@{s['offered_rps']:g} rps: {count}")
    return found


def _check_answer(servers: Servers, system: str) -> None:
    body = {"model": MODEL[system], "messages": [{"role": "user", "content": "Say OK. (bench check)"}]}
    try:
        response = httpx.post(servers.url(system), json=body, timeout=30)
    except httpx.HTTPError as e:
        raise BenchError(f"{system}: a first completion failed: {e}") from None
    if response.status_code != 200:
        raise BenchError(f"{system}: a first completion got {response.status_code}: {response.text[:300]}")


def settings(args: argparse.Namespace, bench: Bench) -> dict[str, Any]:
    return {
        "provider": "one `llm-router mock-provider --profile fixed --latency-ms 20` behind every system",
        "complete_workload": bench.workload.kind, "complete_queries": len(bench.workload.queries),
        "router_policy": "embedded default; no rate limits; semantic threshold 1.0; unique texts (no cache hits)",
        "router_max_in_flight": args.max_in_flight or "the router's default", "router_log_level": args.router_log_level,
        "litellm": "proxy, 1 worker, no auth, no database, LITELLM_LOG=ERROR (no access log)",
        "step_seconds": args.step_seconds, "timeout_s": args.timeout, "rates": args.rates,
        "keeps_up": "success >= 99% and throughput >= 95% of offered and p99 < 1000 ms (all requests)",
        "keeps_up_thresholds": KEEPS_UP,
        "throughput": "successful answers / (last answer - first request)",
        "overhead": "p50 of successful answers minus the direct call's p50 at the same rate",
        "cpu": "utime+stime of the proxy's process tree over the step, per successful answer",
    }


def reproduce_command(args: argparse.Namespace) -> str:
    flags = [a for a in sys.argv[1:]] if sys.argv[0].endswith("service_bench.py") else []
    return f".venv/bin/python benches/service_bench.py {shlex.join(flags)}".rstrip()


# -- reporting -----------------------------------------------------------------------------------


def summary(results: dict[str, Any], systems: list[str]) -> dict[str, Any]:
    ladder = results["ladder"]
    cap = ladder["capacity_rps"]
    out: dict[str, Any] = {"capacity_rps": cap, "first_failing_rps": ladder["first_failing_rps"],
                           "still_keeping_up_at_top_of_ladder": ladder["still_keeping_up_at_top"]}
    disturbed = [f"{s['section']}/{s['system']}/{s['api']}@{s['offered_rps']}" for s in results["steps"]
                 if s.get("foreign_cores", 0) > FOREIGN_WARN]
    out["max_foreign_cores"] = max((s.get("foreign_cores", 0) for s in results["steps"]), default=0)
    if disturbed:
        out["disturbed_steps"] = disturbed
    route = results.get("route", {})
    if "short_200rps" in route:
        r = route["short_200rps"]
        out["route_p99_ms_at_200rps_short"] = r["latency"]["p99_ms"]
        out["route_p99_ms_at_200rps_holdout"] = route["holdout_200rps"]["latency"]["p99_ms"]
        out["target_route_p99_le_10ms"] = bool(r["latency"]["p99_ms"] is not None and r["latency"]["p99_ms"] <= 10
                                               and r["keeps_up"])
    if "litellm" in systems:
        fail_l = ladder["first_failing_rps"]["litellm"]
        if cap["router"] and fail_l:
            out["router_capacity_over_litellm_failing_rate"] = round(cap["router"] / fail_l, 2)
            out["target_5x_litellm"] = cap["router"] >= 5 * fail_l
        if cap["router"] and cap["litellm"]:
            out["router_capacity_over_litellm_capacity"] = round(cap["router"] / cap["litellm"], 2)
        both = [(s["offered_rps"], s) for s in results["steps"] if s["section"] == "ladder" and s["system"] == "router"]
        lite = {s["offered_rps"]: s for s in results["steps"] if s["section"] == "ladder" and s["system"] == "litellm"}
        rows = [(rate, r, lite[rate]) for rate, r in both if rate in lite and r["keeps_up"] and lite[rate]["keeps_up"]]
        out["overhead_at_rates_both_sustain"] = [
            {"rps": rate, "router_ms": r["overhead_p50_ms"], "litellm_ms": lt["overhead_p50_ms"],
             "router_cpu_ms": r["cpu_ms_per_ok"], "litellm_cpu_ms": lt["cpu_ms_per_ok"]} for rate, r, lt in rows]
        ratios = sorted(r["cpu_ms_per_ok"] / lt["cpu_ms_per_ok"] for _, r, lt in rows
                        if r["cpu_ms_per_ok"] and lt["cpu_ms_per_ok"])
        if ratios:
            out["router_cpu_over_litellm_cpu_median"] = round(ratios[len(ratios) // 2], 2)
        out["target_lower_overhead_everywhere"] = bool(rows) and all(
            r["overhead_p50_ms"] is not None and lt["overhead_p50_ms"] is not None
            and r["overhead_p50_ms"] < lt["overhead_p50_ms"] for _, r, lt in rows)
    over = results.get("overload", {}).get("router")
    if over:
        out["router_goodput_at_2x_over_capacity"] = over["goodput_over_capacity"]
        out["target_goodput_within_10pct"] = over["goodput_over_capacity"] >= 0.9
    return out


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def markdown(results: dict[str, Any], systems: list[str]) -> str:
    m = results["machine"]
    lines = [f"## Service bench ({m['cores']} cores, {m['cpu']}; provider: fixed 20 ms mock)", ""]
    steps = results["steps"]
    route = [s for s in steps if s["section"] == "route"]
    if route:
        lines += ["### Route (gRPC, ghz)", "",
                  "| workload | offered | achieved ok/s | success | p50 ms | p90 ms | p99 ms | router CPU ms/req | other load (cores) |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for s in route:
            offered = f"{s['offered_rps']:g} rps" if s["offered_rps"] else f"max (-c {s['concurrency']})"
            lat = s["latency"]
            lines.append(f"| {s['workload']} | {offered} | {s['throughput_rps']:.0f} | {100 * s['success_ratio']:.2f}% | "
                         f"{_ms(lat['p50_ms'])} | {_ms(lat['p90_ms'])} | {_ms(lat['p99_ms'])} | {_ms(s['cpu_ms_per_ok'])} | "
                         f"{s.get('foreign_cores', '-')} |")
        lines.append("")
    lines += ["### Complete (HTTP /v1/chat/completions, vegeta open loop)", "",
              ("| offered rps | system | ok/s | success | p50 ms | p99 ms | overhead p50 ms | proxy CPU ms/req | proxy cores "
               "| keeps up | other load (cores) |"),
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in steps:
        if s["section"] not in ("ladder", "overload", "tune") or s["api"] != "http":
            continue
        label = {"ladder": "", "overload": " (2x capacity)", "tune": f" (tune, max-in-flight {s.get('max_in_flight')})"}[s["section"]]
        lines.append(
            f"| {s['offered_rps']:g} | {s['system']}{label} | {s['throughput_rps']:.1f} | {100 * s['success_ratio']:.2f}% | "
            f"{_ms(s['latency']['p50_ms'])} | {_ms(s['latency']['p99_ms'])} | {_ms(s.get('overhead_p50_ms'))} | "
            f"{_ms(s['cpu_ms_per_ok']) if s['system'] != 'direct' else '(mock) ' + _ms(s['cpu_ms_per_ok'])} | "
            f"{s['cores']} | {'yes' if s['keeps_up'] else 'no'} | {s.get('foreign_cores', '-')} |")
    grpc = [s for s in steps if s["section"] == "grpc"]
    for s in grpc:
        lines += ["", (f"gRPC Complete (ghz) at {s['offered_rps']:g} rps: {s['throughput_rps']:.1f} ok/s, success "
                       f"{100 * s['success_ratio']:.2f}%, p50 {_ms(s['latency']['p50_ms'])} ms, p99 "
                       f"{_ms(s['latency']['p99_ms'])} ms, router CPU {_ms(s['cpu_ms_per_ok'])} ms/req")]
    sm = results["summary"]
    if sm.get("disturbed_steps"):
        lines += ["", (f"**WARNING**: other processes used up to {sm['max_foreign_cores']} cores during "
                       f"{len(sm['disturbed_steps'])} steps ({', '.join(sm['disturbed_steps'][:6])}...): "
                       "those numbers are not comparable; rerun on a quiet machine.")]
    lines += ["", "### Summary", "", f"- keeps up: {results['settings']['keeps_up']}",
              (f"- capacity (highest ladder rate kept up): {sm['capacity_rps']}; first rate not kept up: "
               f"{sm['first_failing_rps']}")]
    for key in ("route_p99_ms_at_200rps_short", "route_p99_ms_at_200rps_holdout", "target_route_p99_le_10ms",
                "router_capacity_over_litellm_failing_rate", "target_5x_litellm", "router_capacity_over_litellm_capacity",
                "router_cpu_over_litellm_cpu_median",
                "target_lower_overhead_everywhere", "router_goodput_at_2x_over_capacity", "target_goodput_within_10pct"):
        if key in sm:
            lines.append(f"- {key}: {sm[key]}")
    for system, o in results.get("overload", {}).items():
        lines.append(f"- {system} at 2x capacity ({o['offered_rps']:g} rps): goodput {o['goodput_rps']} ok/s = "
                     f"{o['goodput_over_capacity']:.2f} x capacity, codes {o['codes']}, p99 of successes {o['p99_ok_ms']} ms")
    for t in results.get("tune_max_in_flight", []):
        lines.append(f"- max-in-flight {t['max_in_flight']} at {t['offered_rps']:g} rps: goodput {t['goodput_rps']} ok/s, "
                     f"codes {t['codes']}, p99 of successes {t['p99_ok_ms']} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
