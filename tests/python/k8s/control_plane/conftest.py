"""Fixtures: the chart's CRDs in the session cluster, and a namespace per test (see `control_plane_env`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from control_plane_env import CRD_DIR, OPERATOR_RULES, PEERING, ROUTER_RULES, Env, bind

from support.kube import KubeCluster


@pytest.fixture(scope="session")
def llmrouter_crds(kube_cluster: KubeCluster) -> KubeCluster:
    """The chart's CRDs, as checked in (generated from the pydantic models)."""
    kube_cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_DIR))
    crds = ["routingpolicies.llmrouter.io", "providertiers.llmrouter.io", "kopfpeerings.kopf.dev"]
    kube_cluster.kubectl("wait", "--for=condition=Established", *(f"crd/{c}" for c in crds), "--timeout=60s")
    return kube_cluster


@pytest.fixture()
def env(llmrouter_crds: KubeCluster, kube_namespace: str, tmp_path: Path) -> Iterator[Env]:
    cluster = llmrouter_crds
    cluster.apply(
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}}, namespace=kube_namespace
    )
    environment = Env(
        cluster=cluster,
        namespace=kube_namespace,
        operator_kubeconfig=bind(cluster, kube_namespace, "llm-router-operator", OPERATOR_RULES),
        router_kubeconfig=bind(cluster, kube_namespace, "llm-router", ROUTER_RULES),
        workdir=tmp_path,
    )
    yield environment
    for process in environment.processes:
        process.stop()
    # Ours only: kopf logs the API errors it retries (e.g. 429 while the apiserver warms a cache).
    errors = [
        entry
        for process in environment.processes
        for entry in process.logs()
        if entry["level"] == "error" and entry["logger"].startswith("llm_router")
    ]
    assert not errors, f"the operator logged errors: {errors}"
