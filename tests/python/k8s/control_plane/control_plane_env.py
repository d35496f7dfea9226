"""Helpers for the control-plane tests: the operator as a process, a namespace with service
accounts holding the least RBAC each side needs (`OPERATOR_RULES`, `ROUTER_RULES`), polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.kube import KubeCluster
from support.probes import wait_for

REPO = Path(__file__).resolve().parents[4]
CRD_DIR = REPO / "charts" / "llm-router" / "crds"
EXAMPLES = REPO / "examples"
CONFIGMAP = "llm-router-config"
PEERING = "llm-router-operator"

# What the operator needs in its namespace, and nothing more (the chart's Role may grant more).
OPERATOR_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["llmrouter.io"],
        "resources": ["routingpolicies", "providertiers"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["llmrouter.io"],
        "resources": ["routingpolicies/status", "providertiers/status"],
        "verbs": ["patch"],
    },
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch", "create", "update"]},
    # The Secrets the tests' tiers name, and no other: what the chart's Role grants for
    # `providerSecrets` (list and watch by name work: the operator selects one name per watch).
    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["reasoning-keys"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"], "verbs": ["get", "list", "watch", "patch"]},
]
# What a router replica needs: follow its ConfigMap, write its own status ConfigMap.
ROUTER_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [CONFIGMAP], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "patch"]},
]

@dataclass
class OperatorProcess:
    """`python -m router_operator` as a deployment runs it; logs in `log`."""

    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    _file: Any = field(default=None, repr=False)

    def start(self) -> OperatorProcess:
        self._file = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "router_operator"], env=self.env, stdout=self._file, stderr=subprocess.STDOUT
        )
        return self

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)
            self.popen.wait(30)
        if self._file is not None:
            self._file.close()
            self._file = None

    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


@dataclass
class Env:
    """One namespace with the CRDs, a KopfPeering, and service accounts for the operator and a router."""

    cluster: KubeCluster
    namespace: str
    operator_kubeconfig: Path
    router_kubeconfig: Path
    workdir: Path
    processes: list[OperatorProcess] = field(default_factory=list)

    def operator(self, **env: str) -> OperatorProcess:
        variables = {
            **os.environ,
            "KUBECONFIG": str(self.operator_kubeconfig),
            "LLM_ROUTER_NAMESPACE": self.namespace,
            "LLM_ROUTER_PEERING": PEERING,
            "POD_ID": f"operator-{self.namespace}",
            "LOG_LEVEL": "INFO",
            **env,
        }
        process = OperatorProcess(variables, self.workdir / f"operator-{len(self.processes)}.log")
        self.processes.append(process)
        return process.start()

    def kubectl(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl("-n", self.namespace, *args, **kwargs)

    def get(self, *args: str) -> Any:
        return self.cluster.get_json("-n", self.namespace, *args)

    def condition(self, resource: str, kind: str) -> dict[str, Any] | None:
        conditions = self.get(resource).get("status", {}).get("conditions", [])
        return next((c for c in conditions if c["type"] == kind), None)

    def wait_condition(
        self, resource: str, kind: str, status: str, reason: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            c = self.condition(resource, kind)
            ok = c is not None and c["status"] == status and (reason is None or c["reason"] == reason)
            return c if ok else None

        return wait_for(probe, f"{resource} {kind}={status} {reason or ''}", timeout)

    def configmap(self) -> dict[str, Any] | None:
        found = self.kubectl("get", "configmap", CONFIGMAP, "-o", "json", check=False)
        return json.loads(found.stdout) if found.returncode == 0 else None


def bind(cluster: KubeCluster, namespace: str, account: str, rules: list[dict[str, Any]]) -> Path:
    kubeconfig = cluster.service_account_kubeconfig(namespace, account)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": account}, "rules": rules}
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": account},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }
    cluster.apply([role, binding], namespace=namespace)
    return kubeconfig
