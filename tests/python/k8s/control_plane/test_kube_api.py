"""The API client's credentials, as kubectl reads them: client certificates (inline and as files),
bearer tokens (inline and as a file that rotates), TLS verification, the in-cluster layout."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from router_operator.handlers import connection_info
from support.kube import KubeCluster

from router_py.config import kube_api
from router_py.config.kube_api import (
    KubeApiError,
    KubeClient,
    KubeConfigError,
    KubeCredentials,
    KubeModel,
    KubeUnavailable,
    ObjectMeta,
)

pytestmark = pytest.mark.anyio


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


class Namespace(KubeModel):
    metadata: ObjectMeta


def openssl(*args: str, cwd: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make test certificates", pytrace=False)
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a client certificate it signed for a member of system:masters."""
    folder = tmp_path_factory.mktemp("pki")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=llm-router-test-ca",
        "-days",
        "1",
        cwd=folder,
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/O=system:masters/CN=cert-admin",
        cwd=folder,
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.crt",
        "-days",
        "1",
        cwd=folder,
    )
    return folder


@pytest.fixture(scope="module")
def cert_cluster(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """An apiserver of its own that also trusts client certificates from `pki`'s CA."""
    cluster = KubeCluster(
        tmp_path_factory.mktemp("cert-kube"), extra_apiserver_args=[f"--client-ca-file={pki / 'ca.crt'}"]
    )
    with cluster:
        yield cluster


def kubeconfig(path: Path, cluster: KubeCluster, user: dict[str, str], ca: Path | None = None) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": cluster.server, "certificate-authority": str(ca or cluster.ca_file)}}
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "default"}}],
        "current-context": "x",
    }
    path.write_text(json.dumps(config))
    return path


async def default_namespace(path: Path) -> str:
    async with KubeClient(KubeCredentials.from_kubeconfig(path)) as client:
        return (await client.get("/api/v1/namespaces/default", Namespace)).metadata.name


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


async def test_client_certificate_inline(cert_cluster: KubeCluster, pki: Path, tmp_path: Path) -> None:
    user = {"client-certificate-data": b64(pki / "client.crt"), "client-key-data": b64(pki / "client.key")}
    assert await default_namespace(kubeconfig(tmp_path / "inline", cert_cluster, user)) == "default"


async def test_client_certificate_files_relative_to_the_kubeconfig(cert_cluster: KubeCluster, pki: Path) -> None:
    user = {"client-certificate": "client.crt", "client-key": "client.key"}
    assert await default_namespace(kubeconfig(pki / "kubeconfig", cert_cluster, user)) == "default"


async def test_the_servers_certificate_is_verified(cert_cluster: KubeCluster, pki: Path, tmp_path: Path) -> None:
    user = {"client-certificate": str(pki / "client.crt"), "client-key": str(pki / "client.key")}
    with pytest.raises(KubeUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        await default_namespace(kubeconfig(tmp_path / "wrong-ca", cert_cluster, user, ca=pki / "ca.crt"))


async def test_a_token_file_is_read_for_each_request(kube_cluster: KubeCluster, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(kube_cluster.token)
    async with KubeClient(
        KubeCredentials.from_kubeconfig(kubeconfig(tmp_path / "k", kube_cluster, {"tokenFile": str(token)}))
    ) as client:
        assert (await client.get("/api/v1/namespaces/default", Namespace)).metadata.name == "default"
        token.write_text("rotated-but-wrong")
        with pytest.raises(KubeApiError) as refused:
            await client.get("/api/v1/namespaces/default", Namespace)
    assert refused.value.code == 401


def test_kopf_gets_the_same_client_certificate(pki: Path) -> None:
    credentials = KubeCredentials(
        server="https://127.0.0.1:6443",
        ca_pem=(pki / "ca.crt").read_text(),
        client_cert_pem=SecretStr((pki / "client.crt").read_text()),
        client_key_pem=SecretStr((pki / "client.key").read_text()),
    )
    info = connection_info(credentials)
    assert info.certificate_data == (pki / "client.crt").read_text()
    info.as_ssl_context()  # loads the pair, as kopf will


def test_in_cluster_credentials(tmp_path: Path) -> None:
    for name, text in {"token": "t0k3n", "namespace": "prod", "ca.crt": "-"}.items():
        (tmp_path / name).write_text(text)
    environ = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    credentials = KubeCredentials.in_cluster(environ, tmp_path)
    assert credentials.server == "https://[fd00::1]:443"
    assert (credentials.namespace, credentials.token_file, credentials.ca_file) == (
        "prod",
        tmp_path / "token",
        tmp_path / "ca.crt",
    )


def test_a_kubeconfig_naming_a_missing_user_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(
        json.dumps({"current-context": "x", "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}]})
    )
    with pytest.raises(KubeConfigError, match="kubeconfig has no cluster named 'c'"):
        KubeCredentials.from_kubeconfig(path)


def test_no_credentials_at_all_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kube_api, "DEFAULT_KUBECONFIG", tmp_path / "absent")
    with pytest.raises(KubeConfigError, match="no credentials"):
        KubeCredentials.from_env({})


def test_the_token_never_shows(kube_cluster: KubeCluster) -> None:
    credentials = KubeCredentials.from_kubeconfig(kube_cluster.kubeconfig)
    assert kube_cluster.token not in repr(credentials) + str(credentials)
