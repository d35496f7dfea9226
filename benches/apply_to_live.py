"""`make bench`: apply-to-live latency, p50/p99 over 50 applies, for both config sources.

Cluster: a real etcd + kube-apiserver, the operator (`python -m router_operator`) and a router
(`llm-router serve` on the Kubernetes source) with six simulated providers. Each apply flips a
tenant override (tenant `vip`: minimum tier 3, then none); the clock runs from the start of
`kubectl apply` until the router's `Route` answer for `vip` changes (polled every 10 ms over
gRPC). So each figure is kubectl + apiserver + operator (validate with the core, compile,
publish the ConfigMap) + the router's watch + the atomic swap. Folder: the same flip written
into the policy file of a `serve --config` folder (written aside, then renamed over it), until
the answer changes. Target (issue 5): within 2 s. The tests check that changes go live, never
how fast.

    .venv/bin/python benches/apply_to_live.py [--applies 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from router_py.api.llmrouter.v1 import router_pb2 as pb  # noqa: E402
from router_py.api.llmrouter.v1 import router_pb2_grpc as pb_grpc  # noqa: E402
from router_tools.local.fleet import Fleet  # noqa: E402
from support.kube import KubeCluster  # noqa: E402
from support.manifests import write_manifests  # noqa: E402

NAMESPACE = "bench"
CONFIGMAP = "llm-router-config"
QUESTION = pb.RouteRequest(tenant="vip", messages=[pb.Message(role="user", content="What time is it in Oslo?")])


def _policy(manifests: Path, vip_min_tier: int | None) -> str:
    doc = yaml.safe_load((manifests / "20-routing-policy.yaml").read_text())
    doc["spec"]["overrides"]["tenants"] = (
        [{"name": "vip", "tenant": "vip", "minTier": vip_min_tier}] if vip_min_tier else []
    )
    return yaml.safe_dump(doc)


def _wait_tier(stub: pb_grpc.RouterStub, tier: int, timeout_s: float = 30.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if stub.Route(QUESTION, timeout=5).decision.tier == tier:
            return time.monotonic()
        time.sleep(0.01)
    raise TimeoutError(f"the router did not route vip to tier {tier} within {timeout_s} s")


def _operator(cluster: KubeCluster, log: Path) -> subprocess.Popen[bytes]:
    env = {**cluster.env, "LLM_ROUTER_NAMESPACE": NAMESPACE, "LLM_ROUTER_CONFIGMAP": CONFIGMAP,
           "POD_ID": "bench-operator", "LOG_LEVEL": "WARNING"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "router_operator"], env=env, stdout=out, stderr=subprocess.STDOUT)


def run(applies: int, work: Path) -> dict[str, object]:
    with KubeCluster(work / "kube") as cluster:
        cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "charts" / "llm-router" / "crds"))
        cluster.kubectl("wait", "--for=condition=Established", "crd/routingpolicies.llmrouter.io",
                        "crd/providertiers.llmrouter.io", "--timeout=60s")
        cluster.kubectl("create", "namespace", NAMESPACE)
        manifests = write_manifests(work / "manifests")
        operator = _operator(cluster, work / "operator.log")
        try:
            cluster.kubectl("-n", NAMESPACE, "apply", "-f", str(manifests))
            env = {**cluster.env, "LLM_ROUTER_NAMESPACE": NAMESPACE, "LLM_ROUTER_CONFIGMAP": CONFIGMAP,
                   "POD_NAME": "bench-router"}
            deadline = time.monotonic() + 60
            while cluster.kubectl("-n", NAMESPACE, "get", "configmap", CONFIGMAP, check=False).returncode != 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the operator published nothing; see {work / 'operator.log'}")
                time.sleep(0.2)
            with Fleet(manifests, work / "logs", cluster_env=env) as fleet:
                def apply(text: str) -> None:
                    cluster.kubectl("-n", NAMESPACE, "apply", "-f", "-", input=text)

                return _flips(fleet, manifests, applies, apply)
        finally:
            operator.terminate()
            operator.wait(30)


def run_folder(applies: int, work: Path) -> dict[str, object]:
    manifests = write_manifests(work / "folder")
    policy = manifests / "20-routing-policy.yaml"
    with Fleet(manifests, work / "folder-logs") as fleet:
        def apply(text: str) -> None:
            aside = policy.with_suffix(".tmp")  # renamed over the file: the router never reads half of it
            aside.write_text(text)
            aside.replace(policy)

        return _flips(fleet, manifests, applies, apply)


def _flips(fleet: Fleet, manifests: Path, applies: int, apply: Callable[[str], None]) -> dict[str, object]:
    """Flip vip's override `applies` times through `apply`, timing each until Route shows it."""
    stub = pb_grpc.RouterStub(grpc.insecure_channel(fleet.grpc_target))
    latencies = []
    for i in range(applies):
        target = 3 if i % 2 == 0 else 1
        text = _policy(manifests, 3 if target == 3 else None)
        started = time.monotonic()
        apply(text)
        latencies.append((_wait_tier(stub, target) - started) * 1000)
        sys.stderr.write(f"\rapply {i + 1}/{applies}: {latencies[-1]:.0f} ms   ")
    sys.stderr.write("\n")
    p50, p99 = np.percentile(latencies, [50, 99])
    return {"applies": applies, "p50_ms": round(float(p50), 1), "p99_ms": round(float(p99), 1),
            "max_ms": round(max(latencies), 1), "target_ms": 2000, "latencies_ms": [round(x, 1) for x in latencies]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--applies", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="llm-router-apply-bench-") as work:
        results = {"cluster": run(args.applies, Path(work)), "folder": run_folder(args.applies, Path(work))}
    out = ROOT / "benches" / "results" / "apply_to_live.json"
    out.write_text(json.dumps({"machine": os.uname().machine, "cpus": os.cpu_count(), **results}, indent=2) + "\n")
    for source, result in results.items():
        print(f"apply-to-live ({source}) over {result['applies']} applies: p50 {result['p50_ms']} ms, "
              f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms (target: within 2000 ms)")
    print(f"-> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
