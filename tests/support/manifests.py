"""Test manifests: the embedded default with free loopback ports, short timeouts, breakers that
trip fast, and a policy that starts every request at tier 1 (so failover and cascade paths are
deterministic)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from router_py.config.manifests import embedded_default_dir
from router_tools.local.fleet import free_port


def _tune(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "ProviderTier":
        spec["timeoutMs"] = 2500
        spec["breaker"] = {"failureThreshold": 2, "openSeconds": 2, "successThreshold": 1}
        for p in spec["providers"]:
            p["baseUrl"] = f"http://127.0.0.1:{free_port()}/v1"
    else:
        spec["classifier"].update(maxUnderrouteRisk=1.0, confidenceThreshold=0.0)
        spec["overrides"] = {"domains": []}
        spec["limits"] = {}
        spec["logPrompts"] = False
    return doc


def write_manifests(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(embedded_default_dir().glob("*.yaml")):
        docs = [_tune(d) for d in yaml.safe_load_all(source.read_text()) if d]
        (folder / source.name).write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return folder
