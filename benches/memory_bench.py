"""`make bench`, the memory part: the router's resident memory after 20,000 distinct tenants.

Each tenant gets one answer filed through the core the way the service files it (`warm`: exact and
semantic cache, one precomputed embedding) and then one decision (`decide`: the rate limiter and
an exact hit), under the service's default bounds, in a fresh process per build measured:

  - this checkout (the build in the virtualenv), against its stated bound: the process's RSS may
    grow by at most 1.25 x (semantic_max_bytes + exact_max_bytes), the cache budgets plus a
    quarter for the allocator's fragmentation as tenants are evicted and replaced, and must stay
    under 1 GiB in all (the chart's limit is 1536 MiB, the rest is the service's);
  - optionally another build (`--baseline DIR`: a source tree whose `router_py/` holds its own
    built `_core`, such as `git archive` of an older commit plus `maturin build`), in the same run.

and the RSS of a running `llm-router serve` after 100 request bodies of 20 MiB (the limit is
1 MiB), for each build.
Writes benches/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benches" / "results"
TENANTS = 20_000
# The service's defaults (router_py/service/serve.py, _core.Router).
SEMANTIC_MAX_BYTES = 512 << 20
EXACT_MAX_BYTES = 256 << 20
FRAGMENTATION = 1.25
RSS_CEILING = 1 << 30
FAQ = "How do I update my billing address?"
BODIES = 100
BODY_BYTES = 20 << 20
# RSS after the bodies may exceed RSS before by at most this: a refused body is not kept.
BODY_GROWTH_CEILING = 64 << 20


def rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def child(tenants: int) -> dict[str, Any]:
    """Runs in the measured process: `router_py` is whichever tree is first on sys.path."""
    import gc

    from router_py import _core
    from router_py.config.manifests import embedded_default_dir, load_config
    from router_py.runtime import model_dir, ort_library

    models = model_dir()
    router = _core.Router(models, ort_library=ort_library(), sessions=1)
    router.apply_config(load_config(embedded_default_dir()).to_core_json())
    vector = _core.Embedder(models / "embedder", ort_library=ort_library()).embed_batch([FAQ])
    answer = _core.CachedAnswer(1, "sim-fast-a", "sim-fast", "Settings > Billing. " * 10)
    router.warm("warm-up", [FAQ], vector, [answer])
    router.decide("warm-up", FAQ)
    gc.collect()
    idle = rss_bytes()
    started = time.monotonic()
    samples = []
    for i in range(tenants):
        tenant = f"tenant-{i}"
        router.warm(tenant, [FAQ], vector, [answer])
        router.decide(tenant, FAQ)
        if (i + 1) % (tenants // 4) == 0:
            samples.append({"tenants": i + 1, "rss_mib": round(rss_bytes() / 2**20, 1)})
    elapsed = time.monotonic() - started
    gc.collect()
    after = rss_bytes()
    out: dict[str, Any] = {
        "core": str(Path(_core.__file__).resolve()),
        "idle_rss_mib": round(idle / 2**20, 1),
        "rss_mib": round(after / 2**20, 1),
        "growth_mib": round((after - idle) / 2**20, 1),
        "growth_per_tenant_kib": round((after - idle) / tenants / 1024, 1),
        "samples": samples,
        "seconds": round(elapsed, 1),
    }
    if hasattr(router, "cache_stats"):
        stats = router.cache_stats()
        out["cache_stats"] = {k: getattr(stats, k) for k in dir(stats) if not k.startswith("_")}
    return out


def measure(tree: Path | None, tenants: int) -> dict[str, Any]:
    """A fresh interpreter per build: RSS is per process, and two `_core`s cannot share one."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")])
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", "--tenants", str(tenants)]
    done = subprocess.run(argv, env=env, cwd=tree or ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory bench child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def oversized_bodies(tree: Path | None, count: int = BODIES, size: int = BODY_BYTES) -> dict[str, Any]:
    """RSS of a running `llm-router serve` (the given tree's) before and after `count` request
    bodies of `size` bytes, each far over the default 1 MiB limit: a build with the limit answers
    413 having read at most the limit; one without reads and parses every body whole."""
    import httpx

    from router_py.config.manifests import embedded_default_dir
    from router_tools.local.fleet import free_port

    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")])
    port = free_port()
    argv = [sys.executable, "-m", "router_py.cli", "serve", "--config", str(embedded_default_dir()),
            "--host", "127.0.0.1", "--http-port", str(port), "--grpc-port", str(free_port()), "--log-level", "WARNING"]
    server = subprocess.Popen(argv, env=env, cwd=tree or ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, server)
        before = rss_bytes(server.pid)
        body = b'{"model": "auto", "messages": [{"role": "user", "content": "' + b"x" * size + b'"}]}'
        codes: dict[str, int] = {}
        started = time.monotonic()
        with httpx.Client(timeout=120) as client:
            for _ in range(count):
                try:
                    code = str(client.post(f"{url}/v1/chat/completions", content=body,
                                           headers={"content-type": "application/json"}).status_code)
                except httpx.HTTPError as e:  # a server that closes on a refused body mid-upload
                    code = type(e).__name__
                codes[code] = codes.get(code, 0) + 1
        elapsed = time.monotonic() - started
        after = rss_bytes(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    return {"bodies": count, "body_mib": round(size / 2**20, 1), "codes": codes,
            "rss_before_mib": round(before / 2**20, 1), "rss_after_mib": round(after / 2**20, 1),
            "growth_mib": round((after - before) / 2**20, 1), "seconds": round(elapsed, 1)}


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the router exited with {server.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the router was not ready in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=TENANTS)
    parser.add_argument("--baseline", type=Path, help="another source tree with its own built router_py/_core")
    parser.add_argument("--baseline-label", default="", help="what the baseline is (a commit), for the results")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tenants)))
        return 0

    current = measure(None, args.tenants)
    allowed_growth = FRAGMENTATION * (SEMANTIC_MAX_BYTES + EXACT_MAX_BYTES) / 2**20
    bound = {"growth_mib_at_most": round(allowed_growth, 1), "rss_mib_at_most": RSS_CEILING / 2**20}
    passed = current["growth_mib"] <= allowed_growth and current["rss_mib"] * 2**20 <= RSS_CEILING
    report: dict[str, Any] = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "tenants": args.tenants,
        "bound": bound,
        "current": current,
        "within_bound": passed,
        "oversized_bodies": {"bound_growth_mib_at_most": BODY_GROWTH_CEILING / 2**20, "current": oversized_bodies(None)},
    }
    passed = passed and report["oversized_bodies"]["current"]["growth_mib"] * 2**20 <= BODY_GROWTH_CEILING
    report["within_bound"] = passed
    if args.baseline is not None:
        report["baseline"] = {"tree": str(args.baseline), "label": args.baseline_label,
                              **measure(args.baseline, args.tenants)}
        report["oversized_bodies"]["baseline"] = oversized_bodies(args.baseline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")

    print(f"| build | idle RSS MiB | RSS after {args.tenants} tenants MiB | growth KiB/tenant | s |")
    print("|---|---|---|---|---|")
    rows = [("this checkout", current)] + ([("baseline", report["baseline"])] if args.baseline else [])
    for name, r in rows:
        print(f"| {name} | {r['idle_rss_mib']} | {r['rss_mib']} | {r['growth_per_tenant_kib']} | {r['seconds']} |")
    print(f"bound: growth <= {bound['growth_mib_at_most']} MiB and RSS <= {bound['rss_mib_at_most']:.0f} MiB: "
          f"{'within' if passed else 'EXCEEDED'}")
    print(f"\n| build | {BODIES} bodies of {BODY_BYTES >> 20} MiB: codes | RSS before MiB | RSS after MiB | s |")
    print("|---|---|---|---|---|")
    for name, key in (("this checkout", "current"), ("baseline", "baseline")):
        b = report["oversized_bodies"].get(key)
        if b is not None:
            print(f"| {name} | {b['codes']} | {b['rss_before_mib']} | {b['rss_after_mib']} | {b['seconds']} |")
    print(f"bound: RSS growth after the bodies <= {BODY_GROWTH_CEILING >> 20} MiB")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
