"""apiKeyRef resolution: environment, mounted Secret files, rotation, and errors that name the ref only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from router_py.providers.keys import KeyResolver
from router_py.providers.types import FailureKind, ProviderError


def write_secret(root: Path, name: str, key: str, value: str) -> Path:
    """Like the kubelet: a new file swapped in, so the inode changes even within one mtime tick."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{key}.new"
    staging.write_text(value)
    os.replace(staging, folder / key)
    return folder / key


def test_no_ref_means_no_key() -> None:
    assert KeyResolver(environ={}).resolve("p", None) is None


def test_env_ref_reads_the_variable_stripped() -> None:
    assert KeyResolver(environ={"OPENAI_KEY": " sk-env \n"}).resolve("p", "env:OPENAI_KEY") == "sk-env"


def test_secret_ref_reads_the_mounted_file_stripped(tmp_path: Path) -> None:
    write_secret(tmp_path, "openai", "api-key", "sk-file\n")
    assert KeyResolver(tmp_path).resolve("p", "secret:openai/api-key") == "sk-file"


def test_the_secrets_dir_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_secret(tmp_path, "s", "k", "sk-dir")
    monkeypatch.setenv("LLM_ROUTER_SECRETS_DIR", str(tmp_path))
    assert KeyResolver().resolve("p", "secret:s/k") == "sk-dir"


def test_a_rotated_secret_is_picked_up(tmp_path: Path) -> None:
    keys = KeyResolver(tmp_path)
    write_secret(tmp_path, "s", "k", "sk-old")
    assert keys.resolve("p", "secret:s/k") == "sk-old"
    write_secret(tmp_path, "s", "k", "sk-new")
    assert keys.resolve("p", "secret:s/k") == "sk-new"


def test_a_rewrite_in_place_is_picked_up(tmp_path: Path) -> None:
    keys = KeyResolver(tmp_path)
    path = write_secret(tmp_path, "s", "k", "sk-aaa")
    assert keys.resolve("p", "secret:s/k") == "sk-aaa"
    path.write_text("sk-bbb")
    later = path.stat().st_mtime_ns + 1_000_000
    os.utime(path, ns=(later, later))
    assert keys.resolve("p", "secret:s/k") == "sk-bbb"


@pytest.mark.parametrize(
    ("ref", "environ", "files"),
    [
        ("env:MISSING", {}, {}),
        ("env:EMPTY", {"EMPTY": "  "}, {}),
        ("secret:absent/key", {}, {}),
        ("secret:s/empty", {}, {"empty": "\n"}),
    ],
)
def test_a_missing_key_is_an_auth_failure_naming_the_ref(
    ref: str, environ: dict[str, str], files: dict[str, str], tmp_path: Path
) -> None:
    for key, value in files.items():
        write_secret(tmp_path, "s", key, value)
    with pytest.raises(ProviderError) as caught:
        KeyResolver(tmp_path, environ=environ).resolve("openai-a", ref)
    assert caught.value.kind is FailureKind.AUTH
    assert caught.value.provider == "openai-a"
    assert ref in caught.value.message


def test_the_value_never_appears_in_an_error(tmp_path: Path) -> None:
    keys = KeyResolver(tmp_path)
    path = write_secret(tmp_path, "s", "k", "sk-secret-value")
    keys.resolve("p", "secret:s/k")
    path.unlink()
    with pytest.raises(ProviderError) as caught:
        keys.resolve("p", "secret:s/k")
    assert "sk-secret-value" not in str(caught.value)
