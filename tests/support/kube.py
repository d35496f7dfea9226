"""A real Kubernetes control plane on loopback for tests: etcd + kube-apiserver, nothing faked.

The binaries come from ``scripts/tools/build_go_tools.sh`` (pinned in
``scripts/tools/versions.env``) under ``${LLM_ROUTER_CACHE:-~/.cache/llm-router}/bin``.
A missing binary is an error that says how to build it, never a skip.

What runs: one etcd (data in the work dir, no fsync) and one kube-apiserver on 127.0.0.1,
free ports, TLS from certificates the apiserver generates itself (``--cert-dir``), a static
token for an admin in ``system:masters``, RBAC authorization, service-account tokens signed
with a key made here, and the admission plugins of a real cluster except ``ServiceAccount``
(which needs the controller-manager to create each namespace's ``default`` account).

What does not run: kubelet, scheduler, and by default kube-controller-manager. So pods are
stored but never scheduled, and without the controller-manager nothing is garbage-collected
and a deleted namespace stays ``Terminating`` forever: give each test its own namespace
instead of deleting and recreating one. :meth:`KubeCluster.start_controller_manager` adds a
real controller-manager (garbage collector, namespace finalization, ...) when a test needs it;
its binary is built with ``scripts/tools/build_go_tools.sh kube-controller-manager``.

RBAC: the admin token bypasses authorization; test other identities with impersonation
(``cluster.kubectl("auth", "can-i", "list", "pods", "--as=alice")``) or with a real
service-account token (:meth:`KubeCluster.service_account_kubeconfig`).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = REPO_ROOT / "scripts" / "tools" / "versions.env"
BUILD_SCRIPT = "scripts/tools/build_go_tools.sh"

# Which pin in versions.env each binary is built at.
_VERSION_KEYS = {
    "etcd": "ETCD_VERSION",
    "kube-apiserver": "KUBERNETES_VERSION",
    "kubectl": "KUBERNETES_VERSION",
    "kube-controller-manager": "KUBERNETES_VERSION",
    "helm": "HELM_VERSION",
    "ghz": "GHZ_VERSION",
    "vegeta": "VEGETA_VERSION",
}

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


class MissingToolError(RuntimeError):
    """A pinned binary has not been built into the cache."""


@dataclass(frozen=True)
class ExecKubeconfig:
    """What :meth:`KubeCluster.exec_plugin_kubeconfig` wrote."""

    # The value for KUBECONFIG: two paths.
    kubeconfig: str
    # One line per run of the plugin.
    runs: Path

    def plugin_runs(self) -> int:
        return len(self.runs.read_text().splitlines()) if self.runs.exists() else 0


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; the message carries its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstdout: {self.stdout}\nstderr: {self.stderr}"


class ClusterStartError(RuntimeError):
    """etcd, the apiserver or the controller-manager did not come up."""


def cache_dir() -> Path:
    """The shared build cache (same default as the Makefile and the build script)."""
    env = os.environ.get("LLM_ROUTER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "llm-router"


def pinned_versions() -> dict[str, str]:
    """The ``NAME=value`` pins of ``scripts/tools/versions.env``."""
    out: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        m = re.fullmatch(r"\s*([A-Z][A-Z0-9_]*)=(\S+)\s*", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def tool_version(name: str) -> str:
    if name not in _VERSION_KEYS:
        raise KeyError(f"unknown tool {name!r} (known: {', '.join(sorted(_VERSION_KEYS))})")
    return pinned_versions()[_VERSION_KEYS[name]]


def tool_path(name: str) -> Path:
    """Path of the binary built at the pinned version; MissingToolError says how to build it.

    The versioned folder is used (not the ``bin/<name>`` symlink), so a binary left from an
    older pin is never picked up.
    """
    version = tool_version(name)
    path = cache_dir() / "bin" / f"{name}-{version}" / name
    if not os.access(path, os.X_OK):
        raise MissingToolError(
            f"{name} {version} is not built (looked for {path}). Build it with "
            f"`{BUILD_SCRIPT} {name}` (or `make tools`); set LLM_ROUTER_CACHE if your cache "
            "is elsewhere."
        )
    return path


def require_tools(*names: str) -> dict[str, Path]:
    """All of ``names`` or one MissingToolError naming every missing one."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in names:
        try:
            found[name] = tool_path(name)
        except MissingToolError:
            missing.append(f"{name} {tool_version(name)}")
    if missing:
        raise MissingToolError(
            f"not built: {', '.join(missing)}. Run `{BUILD_SCRIPT} "
            f"{' '.join(m.split()[0] for m in missing)}` (or `make tools`) first; "
            f"binaries are looked up in {cache_dir() / 'bin'} (LLM_ROUTER_CACHE)."
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a P-256 key for service-account tokens, without openssl or the cryptography package ---

_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_A = _P - 3
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def _ec_add(p: tuple[int, int] | None, q: tuple[int, int] | None) -> tuple[int, int] | None:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        lam = (3 * p[0] * p[0] + _A) * pow(2 * p[1], -1, _P) % _P
    else:
        lam = (q[1] - p[1]) * pow(q[0] - p[0], -1, _P) % _P
    x = (lam * lam - p[0] - q[0]) % _P
    return x, (lam * (p[0] - x) - p[1]) % _P


def _ec_mul(k: int, point: tuple[int, int]) -> tuple[int, int]:
    acc: tuple[int, int] | None = None
    addend: tuple[int, int] | None = point
    while k:
        if k & 1:
            acc = _ec_add(acc, addend)
        addend = _ec_add(addend, addend)
        k >>= 1
    assert acc is not None
    return acc


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n])
    return bytes([tag]) + length + body


def ec_private_key_pem() -> str:
    """A fresh P-256 private key as SEC1 PEM (``EC PRIVATE KEY``), with its public key."""
    d = secrets.randbelow(_N - 1) + 1
    x, y = _ec_mul(d, _G)
    prime256v1 = bytes.fromhex("06082a8648ce3d030107")
    body = (
        _der(0x02, b"\x01")
        + _der(0x04, d.to_bytes(32, "big"))
        + _der(0xA0, prime256v1)
        + _der(0xA1, _der(0x03, b"\x00\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")))
    )
    b64 = base64.b64encode(_der(0x30, body)).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END EC PRIVATE KEY-----\n"


# --- processes ---


def _die_with_parent() -> None:
    """Runs in the child before exec: get SIGKILL if the test process dies (Linux only)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort; stop()/atexit still clean up
        pass


class _Proc:
    """A child process whose output goes to a log file in the work dir."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self._log_file: IO[bytes] = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(env),
            preexec_fn=_die_with_parent,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def failure(self, what: str) -> ClusterStartError:
        rc = self.popen.poll()
        state = f"exited with {rc}" if rc is not None else "still running"
        return ClusterStartError(
            f"{self.name} {what} ({state}); log {self.log}:\n{self.log_tail()}\n"
            f"command: {' '.join(self.argv)}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        self._log_file.close()


def _get(url: str, *, context: ssl.SSLContext | None = None, token: str | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return int(resp.status), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode(errors="replace")


class KubeCluster:
    """etcd + kube-apiserver on loopback with an admin kubeconfig. Use as a context manager or
    call :meth:`start` / :meth:`stop`.

    ``workdir`` holds the etcd data, certificates, logs (``*.log``) and kubeconfig; a temporary
    folder (removed by :meth:`stop`) when not given. ``extra_apiserver_args`` are appended to
    the apiserver's command line (later flags win).
    """

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        start_timeout: float = 120.0,
        extra_apiserver_args: Sequence[str] = (),
    ) -> None:
        self.tools = require_tools("etcd", "kube-apiserver", "kubectl")
        self.version = tool_version("kube-apiserver")
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="kube-")) if workdir is None else Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.start_timeout = start_timeout
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.token = secrets.token_hex(24)
        self.kubeconfig = self.workdir / "kubeconfig"
        self.ca_file = self.workdir / "certs" / "apiserver.crt"
        self.sa_key_file = self.workdir / "sa.key"
        self.server = ""
        self.etcd_url = ""
        self._etcd: _Proc | None = None
        self._apiserver: _Proc | None = None
        self._controller_manager: _Proc | None = None
        self._ssl: ssl.SSLContext | None = None

    # -- lifecycle --

    def __enter__(self) -> KubeCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> KubeCluster:
        atexit.register(self.stop)
        try:
            self._start_etcd()
            self._start_apiserver()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process (controller-manager, apiserver, etcd); idempotent."""
        for attr in ("_controller_manager", "_apiserver", "_etcd"):
            proc: _Proc | None = getattr(self, attr)
            if proc is not None:
                proc.stop()
                setattr(self, attr, None)
        atexit.unregister(self.stop)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def logs(self) -> dict[str, Path]:
        """The log file of each process started so far."""
        return {p.name: p.log for p in (self._etcd, self._apiserver, self._controller_manager) if p}

    def _wait(
        self, proc: _Proc, what: str, ready: Callable[[], tuple[bool, str]], timeout: float | None = None
    ) -> None:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        last = ""
        while time.monotonic() < deadline:
            if not proc.alive():
                raise proc.failure(f"died before it was {what}")
            try:
                ok, last = ready()
                if ok:
                    return
            except (OSError, ssl.SSLError) as e:
                last = repr(e)
            time.sleep(0.25)
        raise proc.failure(f"was not {what} within {timeout or self.start_timeout:.0f}s (last: {last})")

    def _start_etcd(self) -> None:
        # The ports are free when picked; if another process grabs one first, retry.
        for attempt in range(3):
            client, peer = free_port(), free_port()
            data = self.workdir / "etcd"
            shutil.rmtree(data, ignore_errors=True)
            self.etcd_url = f"http://127.0.0.1:{client}"
            argv = [
                str(self.tools["etcd"]),
                "--name=kube-test",
                f"--data-dir={data}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=kube-test=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ]
            self._etcd = _Proc("etcd", argv, self.workdir / "etcd.log", os.environ)

            def ready() -> tuple[bool, str]:
                status, body = _get(f"{self.etcd_url}/health")
                return status == 200 and '"true"' in body, body

            try:
                self._wait(self._etcd, "healthy", ready, timeout=min(self.start_timeout, 60.0))
                return
            except ClusterStartError:
                self._etcd.stop()
                self._etcd = None
                if attempt == 2:
                    raise

    def _start_apiserver(self) -> None:
        self.sa_key_file.write_text(ec_private_key_pem())
        self.sa_key_file.chmod(0o600)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        tokens.chmod(0o600)
        for attempt in range(3):
            port = free_port()
            self.server = f"https://127.0.0.1:{port}"
            argv = [
                str(self.tools["kube-apiserver"]),
                f"--etcd-servers={self.etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                f"--cert-dir={self.workdir / 'certs'}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={self.sa_key_file}",
                f"--service-account-signing-key-file={self.sa_key_file}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # Needs the controller-manager to create each namespace's default account.
                "--disable-admission-plugins=ServiceAccount",
                # 127.0.0.1 is not a valid endpoint address for the kubernetes service.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
                *self.extra_apiserver_args,
            ]
            self._apiserver = _Proc("kube-apiserver", argv, self.workdir / "kube-apiserver.log", os.environ)

            def ready() -> tuple[bool, str]:
                if not self.ca_file.exists():
                    return False, "no serving certificate yet"
                if self._ssl is None:
                    self._ssl = ssl.create_default_context(cafile=str(self.ca_file))
                status, body = _get(f"{self.server}/readyz", context=self._ssl, token=self.token)
                return status == 200, f"{status} {body[-300:]}"

            try:
                self._wait(self._apiserver, "ready", ready)
                break
            except ClusterStartError:
                self._apiserver.stop()
                self._apiserver = None
                self._ssl = None
                if attempt == 2:
                    raise
        self._write_kubeconfig(self.kubeconfig, user="admin", credentials={"token": self.token})

    def _write_kubeconfig(
        self, path: Path, *, user: str, credentials: Mapping[str, Any], namespace: str | None = None
    ) -> Path:
        context: dict[str, str] = {"cluster": "kube-test", "user": user}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "kube-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": user, "user": dict(credentials)}],
            "contexts": [{"name": "kube-test", "context": context}],
            "current-context": "kube-test",
        }
        path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML
        path.chmod(0o600)
        return path

    # -- optional controller-manager --

    def start_controller_manager(self, controllers: str = "*", timeout: float | None = None) -> None:
        """Start a real kube-controller-manager (idempotent): garbage collection, namespace
        finalization, service accounts, deployments -> replica sets, ... Pods are still never
        scheduled (no scheduler, no kubelet)."""
        if self._controller_manager is not None:
            return
        kcm = tool_path("kube-controller-manager")
        port = free_port()
        argv = [
            str(kcm),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'kcm-certs'}",
            "--leader-elect=false",
            f"--controllers={controllers}",
            f"--service-account-private-key-file={self.sa_key_file}",
            f"--root-ca-file={self.ca_file}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--use-service-account-credentials=false",
            "--profiling=false",
        ]
        self._controller_manager = _Proc(
            "kube-controller-manager", argv, self.workdir / "kube-controller-manager.log", os.environ
        )
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE

        def ready() -> tuple[bool, str]:
            status, body = _get(f"https://127.0.0.1:{port}/healthz", context=insecure, token=self.token)
            return status == 200, f"{status} {body[-300:]}"

        try:
            self._wait(self._controller_manager, "healthy", ready, timeout)
        except BaseException:
            self._controller_manager.stop()
            self._controller_manager = None
            raise

    # -- clients --

    @property
    def env(self) -> dict[str, str]:
        """The process environment with KUBECONFIG pointing at the admin kubeconfig (for helm,
        the router, the operator ...)."""
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            # kubectl's discovery cache is per host:port; keep it out of ~/.kube
            "KUBECACHEDIR": str(self.workdir / "kube-cache"),
        }

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 120.0,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster (admin unless ``kubeconfig`` is given); raise
        KubectlError (with stderr) on a non-zero exit when ``check``."""
        cmd = [str(self.tools["kubectl"]), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        proc = subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, env=self.env, check=False
        )
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def apply(
        self,
        manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        namespace: str | None = None,
    ) -> str:
        """``kubectl apply`` YAML text or objects (one or a list); returns kubectl's output."""
        if isinstance(manifest, str):
            text = manifest
        elif isinstance(manifest, Mapping):
            text = json.dumps(manifest)
        else:
            text = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifest)})
        ns = [f"--namespace={namespace}"] if namespace else []
        return self.kubectl("apply", *ns, "-f", "-", input=text).stdout

    def get_json(self, *args: str) -> Any:
        """``kubectl get ARGS -o json``, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def create_namespace(self, prefix: str = "t") -> str:
        """A new namespace with a unique name (``prefix-<random>``, at most 63 chars)."""
        base = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:50] or "t"
        name = f"{base}-{secrets.token_hex(4)}"
        self.kubectl("create", "namespace", name)
        return name

    def delete_namespace(self, name: str) -> None:
        """Ask for deletion without waiting: without the controller-manager the namespace stays
        ``Terminating`` (its objects are not removed)."""
        self.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")

    def service_account_kubeconfig(self, namespace: str, name: str, *, duration: str = "1h") -> Path:
        """A kubeconfig that authenticates as ServiceAccount ``namespace/name`` with a real
        token from the TokenRequest API (the account is created if missing). It has no rights
        until a Role/ClusterRole is bound to ``system:serviceaccount:<namespace>:<name>``."""
        path = self.workdir / f"kubeconfig-sa-{namespace}-{name}"
        return self._write_kubeconfig(
            path,
            user=f"system:serviceaccount:{namespace}:{name}",
            credentials={"token": self.service_account_token(namespace, name, duration=duration)},
            namespace=namespace,
        )

    def service_account_token(self, namespace: str, name: str, *, duration: str = "1h") -> str:
        """A real token for ServiceAccount ``namespace/name`` from the TokenRequest API (the
        account is created if missing)."""
        if self.kubectl("get", "serviceaccount", name, "-n", namespace, check=False).returncode != 0:
            self.kubectl("create", "serviceaccount", name, "-n", namespace)
        return self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}").stdout.strip()

    def exec_plugin_kubeconfig(self, folder: Path, token: str, *, namespace: str | None = None) -> ExecKubeconfig:
        """Two kubeconfig files as a user of EKS or GKE has them, for ``KUBECONFIG=a:b``:
        ``cluster/config`` names the cluster (its CA by a path relative to the file) and the
        current context; ``user/config`` names the user, whose token comes from an exec credential
        plugin, ``user/get-token`` (a path relative to its file too), which prints ``token`` as an
        ExecCredential and appends a line to ``user/runs`` each time it is run."""
        cluster_dir, user_dir = folder / "cluster", folder / "user"
        for d in (cluster_dir, user_dir):
            d.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.ca_file, cluster_dir / "ca.crt")
        context: dict[str, str] = {"cluster": "test-cluster", "user": "plugin-user"}
        if namespace:
            context["namespace"] = namespace
        cluster_config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test-cluster", "cluster": {"server": self.server, "certificate-authority": "ca.crt"}}],
            "contexts": [{"name": "test", "context": context}],
            "current-context": "test",
        }
        credential = {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "kind": "ExecCredential",
            "status": {"token": token},
        }
        plugin = user_dir / "get-token"
        plugin.write_text(f"#!/bin/sh\necho run >> \"$RUNS_LOG\"\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
        plugin.chmod(0o700)
        runs = user_dir / "runs"
        exec_spec = {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "./get-token",
            "env": [{"name": "RUNS_LOG", "value": str(runs)}],
            "interactiveMode": "Never",
        }
        user_config = {"apiVersion": "v1", "kind": "Config", "users": [{"name": "plugin-user", "user": {"exec": exec_spec}}]}
        for path, config in ((cluster_dir / "config", cluster_config), (user_dir / "config", user_config)):
            path.write_text(json.dumps(config, indent=2) + "\n")
            path.chmod(0o600)
        return ExecKubeconfig(kubeconfig=f"{cluster_dir / 'config'}{os.pathsep}{user_dir / 'config'}", runs=runs)
