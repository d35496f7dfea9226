"""How `kube_client` finds its login, without a cluster: kubectl's merge of the files in
KUBECONFIG, the service account in a pod, and the errors that say what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router_py.config import kube_client
from router_py.config.kube_client import (
    KubeConfigError,
    authorization,
    connection_config,
    kubeconfig_paths,
    merge_kubeconfigs,
)


def write(path: Path, **document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def cluster(name: str, server: str, **fields: str) -> dict[str, Any]:
    return {"name": name, "cluster": {"server": server, **fields}}


def user(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "user": fields}


def context(name: str, cluster_name: str, user_name: str, namespace: str | None = None) -> dict[str, Any]:
    body = {"cluster": cluster_name, "user": user_name} | ({"namespace": namespace} if namespace else {})
    return {"name": name, "context": body}


def test_kubeconfig_paths_drop_empty_entries_and_repeats() -> None:
    assert kubeconfig_paths("/a::/b:/a:") == [Path("/a"), Path("/b")]


def test_the_first_file_to_name_an_entry_wins_it(tmp_path: Path) -> None:
    first = write(
        tmp_path / "one",
        clusters=[cluster("c", "https://one")],
        contexts=[context("x", "c", "u", "ns-one")],
        **{"current-context": "x"},
    )
    second = write(
        tmp_path / "two",
        clusters=[cluster("c", "https://two"), cluster("d", "https://d")],
        users=[user("u", token="t")],
        contexts=[context("x", "d", "u"), context("y", "d", "u")],
        **{"current-context": "y"},
    )
    merged = merge_kubeconfigs([first, tmp_path / "absent", second])
    assert merged.current_context == "x"
    assert (merged.clusters["c"].server, merged.clusters["d"].server) == ("https://one", "https://d")
    assert merged.contexts["x"].namespace == "ns-one" and set(merged.contexts) == {"x", "y"}
    assert merged.users["u"].token == "t"


def test_relative_paths_are_relative_to_the_file_that_holds_them(tmp_path: Path) -> None:
    clusters = write(
        tmp_path / "a" / "config",
        clusters=[cluster("c", "https://c", **{"certificate-authority": "ca.crt"})],
        contexts=[context("x", "c", "u")],
        **{"current-context": "x"},
    )
    exec_spec = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "bin/token"}
    users = write(
        tmp_path / "b" / "config",
        users=[user("u", tokenFile="token", **{"client-certificate": "/abs/c.crt", "client-key": "k.key"}, exec=exec_spec)],
    )
    merged = merge_kubeconfigs([clusters, users])
    assert merged.clusters["c"].certificate_auth == str(tmp_path / "a" / "ca.crt")
    u = merged.users["u"]
    assert (u.token_file, u.client_cert, u.client_key) == (
        str(tmp_path / "b" / "token"),
        "/abs/c.crt",
        str(tmp_path / "b" / "k.key"),
    )
    assert u.exec is not None and u.exec.command == str(tmp_path / "b" / "bin" / "token")


def test_an_exec_command_without_a_slash_is_looked_up_on_path(tmp_path: Path) -> None:
    exec_spec = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "gke-gcloud-auth-plugin"}
    merged = merge_kubeconfigs([write(tmp_path / "config", users=[user("u", exec=exec_spec)])])
    plugin = merged.users["u"].exec
    assert plugin is not None and plugin.command == "gke-gcloud-auth-plugin"


def test_kubeconfig_from_the_environment_with_two_files(tmp_path: Path) -> None:
    clusters = write(
        tmp_path / "one",
        clusters=[cluster("c", "https://c")],
        contexts=[context("x", "c", "u", "prod")],
        **{"current-context": "x"},
    )
    users = write(tmp_path / "two", users=[user("u", token="t")])
    config = connection_config({"KUBECONFIG": f"{clusters}:{users}"})
    assert (config.cluster.server, config.context.namespace) == ("https://c", "prod")
    assert config.user is not None and config.user.token == "t"


def test_kubeconfig_wins_over_the_service_account(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        clusters=[cluster("c", "https://from-kubeconfig")],
        users=[user("u", token="t")],
        contexts=[context("x", "c", "u")],
        **{"current-context": "x"},
    )
    account = service_account(tmp_path / "sa")
    config = connection_config({"KUBECONFIG": str(path), "KUBERNETES_SERVICE_HOST": "10.0.0.1"}, account)
    assert config.cluster.server == "https://from-kubeconfig"


def service_account(folder: Path) -> Path:
    folder.mkdir()
    for name, text in {"token": "t0k3n", "namespace": "prod", "ca.crt": "-"}.items():
        (folder / name).write_text(text)
    return folder


def test_in_a_pod_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    account = service_account(tmp_path / "sa")
    config = connection_config({"KUBERNETES_SERVICE_HOST": "fd00::1"}, account)
    assert (config.cluster.server, config.context.namespace) == ("https://[fd00::1]:443", "prod")
    assert config.cluster.certificate_auth == str(account / "ca.crt")
    # The file, not the token read at start: a projected token rotates on disk.
    assert config.user is not None and config.user.token_file == str(account / "token")


def test_no_credentials_at_all_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(kube_client, "DEFAULT_KUBECONFIG", tmp_path / "absent")
    with pytest.raises(KubeConfigError, match="^no credentials: set KUBECONFIG"):
        connection_config({}, tmp_path / "no-account")


def test_kubeconfig_files_that_do_not_exist_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match=f"^kubeconfig: none of {tmp_path}/a, {tmp_path}/b exists$"):
        connection_config({"KUBECONFIG": f"{tmp_path}/a:{tmp_path}/b"})


def test_a_file_that_is_not_a_kubeconfig_is_named(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("clusters: [{cluster: {server: x}}]\n")  # no name
    with pytest.raises(KubeConfigError, match=f"^kubeconfig {path}: KeyError"):
        merge_kubeconfigs([path])


def test_a_context_naming_a_missing_user_is_a_config_error(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        clusters=[cluster("c", "https://c")],
        contexts=[context("x", "c", "nobody")],
        **{"current-context": "x"},
    )
    with pytest.raises(KubeConfigError, match="^kubeconfig: context 'x' names a cluster or user not defined: 'nobody'$"):
        connection_config({"KUBECONFIG": str(path)})


async def run_authorization(tmp_path: Path, **user_fields: Any) -> str | None:
    path = write(
        tmp_path / "config",
        clusters=[cluster("c", "https://c")],
        users=[user("u", **user_fields)],
        contexts=[context("x", "c", "u")],
        **{"current-context": "x"},
    )
    return await authorization(connection_config({"KUBECONFIG": str(path)}))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_authorization_of_a_token_file(tmp_path: Path, anyio_backend: str) -> None:
    (tmp_path / "token").write_text("from-file\n")
    assert await run_authorization(tmp_path, tokenFile="token") == "Bearer from-file"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_failing_exec_plugin_is_a_config_error(tmp_path: Path, anyio_backend: str) -> None:
    plugin = tmp_path / "get-token"
    plugin.write_text("#!/bin/sh\necho 'no session: run aws sso login' >&2\nexit 1\n")
    plugin.chmod(0o700)
    exec_spec = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./get-token"}
    with pytest.raises(KubeConfigError, match="^login to https://c: Exec .*get-token returned 1: no session"):
        await run_authorization(tmp_path, exec=exec_spec)


def exec_plugin(folder: Path) -> Path:
    """A plugin that answers as kubectl's exec plugins do: with the API version and the token it
    was asked for, refusing to run without the KUBERNETES_EXEC_INFO that kubectl sets."""
    plugin = folder / "get-token"
    plugin.write_text(
        "#!/usr/bin/env python3\n"
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['spec'] == {'interactive': False}, info\n"
        "status = {'token': 'for-' + info['apiVersion'].rsplit('/', 1)[1]}\n"
        "json.dump({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': status}, sys.stdout)\n"
    )
    plugin.chmod(0o700)
    return plugin


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("version", ["v1", "v1beta1", "v1alpha1"])
async def test_exec_plugins_of_every_api_version_get_kubectls_exec_info(
    tmp_path: Path, anyio_backend: str, version: str
) -> None:
    exec_plugin(tmp_path)
    exec_spec = {
        "apiVersion": f"client.authentication.k8s.io/{version}",
        "command": "./get-token",
        "interactiveMode": "Never",
    }
    assert await run_authorization(tmp_path, exec=exec_spec) == f"Bearer for-{version}"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_exec_info_the_kubeconfig_sets_is_kept(tmp_path: Path, anyio_backend: str) -> None:
    exec_plugin(tmp_path)
    mine = json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "spec": {"interactive": False}})
    exec_spec = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "./get-token",
        "env": [{"name": "KUBERNETES_EXEC_INFO", "value": mine}],
    }
    assert await run_authorization(tmp_path, exec=exec_spec) == "Bearer for-v1"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_unknown_exec_api_version_is_a_config_error(tmp_path: Path, anyio_backend: str) -> None:
    exec_plugin(tmp_path)
    exec_spec = {"apiVersion": "client.authentication.k8s.io/v2", "command": "./get-token"}
    with pytest.raises(KubeConfigError, match="^login to https://c: auth exec api version .*/v2 not implemented"):
        await run_authorization(tmp_path, exec=exec_spec)
