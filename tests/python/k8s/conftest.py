"""Fixtures for tests against a real Kubernetes control plane (etcd + kube-apiserver).

The binaries are built by `scripts/tools/build_go_tools.sh` (`make tools`); when they are
missing the fixtures FAIL with that instruction, they never skip. See tests/support/kube.py
for what runs and what does not (no kubelet, scheduler or, by default, controller-manager).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parents[2])  # tests/, for `support`
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from support.kube import ClusterStartError, KubeCluster, MissingToolError  # noqa: E402


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """One etcd + kube-apiserver for the whole session; admin kubeconfig at `.kubeconfig`.

    Tests share it: put what a test creates in its own namespace (`kube_namespace`), and
    give cluster-scoped objects (CRDs, ClusterRoles) names that do not clash.
    """
    try:
        cluster = KubeCluster(tmp_path_factory.mktemp("kube")).start()
    except (MissingToolError, ClusterStartError) as e:
        error = str(e)
    else:
        error = ""
    if error:
        pytest.fail(error, pytrace=False)  # outside `except`: no chained traceback
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def kube_controllers(kube_cluster: KubeCluster) -> KubeCluster:
    """The session cluster with a real kube-controller-manager running (started on first use,
    then kept): garbage collection, namespace deletion, service accounts. Needs
    `scripts/tools/build_go_tools.sh kube-controller-manager`."""
    try:
        kube_cluster.start_controller_manager()
    except (MissingToolError, ClusterStartError) as e:
        error = str(e)
    else:
        error = ""
    if error:
        pytest.fail(error, pytrace=False)
    return kube_cluster


@pytest.fixture()
def kube_namespace(kube_cluster: KubeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test. Deletion is requested afterwards but not waited
    for: without the controller-manager it stays Terminating, so never reuse a name."""
    name = kube_cluster.create_namespace(re.sub(r"^test_?", "", request.node.name)[:40] or "t")
    yield name
    kube_cluster.delete_namespace(name)
