"""Read RoutingPolicy / ProviderTier manifests (the YAML you would `kubectl apply`) into a RouterConfig."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from router_py.config.schema import PolicySpec, RouterConfig, RoutingPolicySpec, TierSpec

API_VERSION = "llmrouter.io/v1alpha1"


class ManifestError(ValueError):
    """A manifest set that cannot become a router config; the message names the file and field."""


class ObjectMeta(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    namespace: str | None = None


class RoutingPolicyManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    apiVersion: Literal["llmrouter.io/v1alpha1"]
    kind: Literal["RoutingPolicy"]
    metadata: ObjectMeta
    spec: RoutingPolicySpec


class ProviderTierManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    apiVersion: Literal["llmrouter.io/v1alpha1"]
    kind: Literal["ProviderTier"]
    metadata: ObjectMeta
    spec: TierSpec


Manifest = RoutingPolicyManifest | ProviderTierManifest


def embedded_default_dir() -> Path:
    """The manifests shipped inside the package (the same files as `examples/`)."""
    return Path(str(resources.files("router_py.config") / "embedded"))


def load_config(path: Path, policy_name: str | None = None) -> RouterConfig:
    """One RouterConfig from a manifest file or folder; the version is a content hash, so any
    edit gives a new version (and a fresh exact-cache namespace)."""
    files = _manifest_files(path)
    manifests = [m for f in files for m in _parse_file(f)]
    policies = [m for m in manifests if isinstance(m, RoutingPolicyManifest)]
    tiers = [m.spec for m in manifests if isinstance(m, ProviderTierManifest)]
    policy = _pick_policy(policies, policy_name, path)
    version = _content_version(files)
    # The shadow policy is evaluated beside the live one, not part of it.
    body = policy.spec.model_dump(exclude={"shadow_policy"})
    spec = PolicySpec(name=policy.metadata.name, version=version, **body)
    return RouterConfig(policy=spec, tiers=sorted(tiers, key=lambda t: t.tier))


def policy_manifest(path: Path, policy_name: str | None = None) -> tuple[Path, RoutingPolicyManifest]:
    """The RoutingPolicy `load_config` would pick from `path`, as written (metadata and
    `shadowPolicy` kept), and the file holding it: for tools that rewrite a policy."""
    found = [(f, m) for f in _manifest_files(path) for m in _parse_file(f) if isinstance(m, RoutingPolicyManifest)]
    chosen = _pick_policy([m for _, m in found], policy_name, path)
    return next((f, m) for f, m in found if m is chosen)


def _manifest_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
    elif path.is_file():
        files = [path]
    else:
        raise ManifestError(f"{path}: no such file or folder")
    if not files:
        raise ManifestError(f"{path}: no .yaml manifests")
    return files


def _parse_file(path: Path) -> list[Manifest]:
    """Whatever bytes the file holds, the outcome is manifests or a `ManifestError` saying why:
    a watched folder may be edited by anyone, and one bad byte must not stop a router."""
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except UnicodeDecodeError as err:
        raise ManifestError(f"{path}: not UTF-8 text: byte {err.start} is {err.object[err.start:err.start + 1]!r}") from err
    except yaml.YAMLError as err:
        raise ManifestError(f"{path}: not valid YAML: {err}") from err
    except RecursionError as err:
        raise ManifestError(f"{path}: nested too deeply to be a manifest") from err
    return [_parse_document(path, i, d) for i, d in enumerate(documents)]


def _parse_document(path: Path, index: int, document: object) -> Manifest:
    kind = document.get("kind") if isinstance(document, dict) else None
    model: type[RoutingPolicyManifest] | type[ProviderTierManifest]
    if kind == "RoutingPolicy":
        model = RoutingPolicyManifest
    elif kind == "ProviderTier":
        model = ProviderTierManifest
    else:
        raise ManifestError(f"{path} document {index}: kind must be RoutingPolicy or ProviderTier, got {kind!r}")
    try:
        return model.model_validate(document)
    except RecursionError as err:
        raise ManifestError(f"{path} document {index} ({kind}): nested too deeply to be a manifest") from err
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(f"{path} document {index} ({kind}): {where}: {first['msg']}") from err


def _pick_policy(
    policies: list[RoutingPolicyManifest], name: str | None, path: Path
) -> RoutingPolicyManifest:
    if name is not None:
        matches = [p for p in policies if p.metadata.name == name]
        if not matches:
            raise ManifestError(f"{path}: no RoutingPolicy named {name!r}")
        return matches[0]
    if len(policies) != 1:
        raise ManifestError(f"{path}: expected exactly one RoutingPolicy, found {len(policies)} (choose one by name)")
    return policies[0]


def _content_version(files: list[Path]) -> int:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    return int.from_bytes(digest.digest()[:6], "big")
