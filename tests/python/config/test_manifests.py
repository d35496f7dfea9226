"""Manifest loading: the YAML a user would `kubectl apply` becomes one RouterConfig, or a clear error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from router_py.config.manifests import ManifestError, embedded_default_dir, load_config

EXAMPLES = Path(__file__).parents[3] / "examples"


def copy_default(tmp_path: Path) -> Path:
    out = tmp_path / "manifests"
    shutil.copytree(embedded_default_dir(), out)
    return out


def test_examples_are_the_embedded_default() -> None:
    assert load_config(EXAMPLES) == load_config(embedded_default_dir())


def test_examples_are_real_files_identical_to_the_embedded_default() -> None:
    """examples/ is copied out of the repository (a user's own config folder, a ConfigMap):
    relative symlinks would dangle there, so it holds copies, and the copies must not drift
    from the default the router embeds (fix: `cp router_py/config/embedded/*.yaml examples/`)."""
    links = sorted(p.name for p in EXAMPLES.iterdir() if p.is_symlink())
    assert not links, f"examples/ must hold files, not symlinks: {links}"
    embedded = {p.name: p.read_bytes() for p in embedded_default_dir().glob("*.yaml")}
    examples = {p.name: p.read_bytes() for p in EXAMPLES.glob("*.yaml")}
    assert sorted(examples) == sorted(embedded)
    drifted = sorted(name for name in embedded if examples[name] != embedded[name])
    assert not drifted, f"examples/ differs from router_py/config/embedded/ in {drifted}"


def test_default_has_three_tiers_in_order() -> None:
    config = load_config(embedded_default_dir())
    assert [t.tier for t in config.tiers] == [1, 2, 3]
    assert config.policy.name == "default"


def test_version_follows_content(tmp_path: Path) -> None:
    folder = copy_default(tmp_path)
    before = load_config(folder).policy.version
    policy = folder / "20-routing-policy.yaml"
    policy.write_text(policy.read_text().replace("maxUnderrouteRisk: 0.5", "maxUnderrouteRisk: 0.4"))
    after = load_config(folder)
    assert after.policy.version != before
    assert after.policy.classifier.max_underroute_risk == 0.4


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("maxUnderrouteRisk: 0.5", "maxUnderRisk: 0.5", "maxUnderRisk"),
        ("maxUnderrouteRisk: 0.5", "maxUnderrouteRisk: 1.5", "maxUnderrouteRisk"),
        ("kind: RoutingPolicy", "kind: RoutingPolicies", "RoutingPolicies"),
        ("minTier: 3", "minTier: 4", "minTier"),
        ("  classifier:", "  classifier: [", "not valid YAML"),
    ],
)
def test_bad_policy_names_file_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    folder = copy_default(tmp_path)
    policy = folder / "20-routing-policy.yaml"
    policy.write_text(policy.read_text().replace(old, new, 1))
    with pytest.raises(ManifestError, match=message) as caught:
        load_config(folder)
    assert "20-routing-policy.yaml" in str(caught.value)


def test_exactly_one_policy_unless_named(tmp_path: Path) -> None:
    folder = copy_default(tmp_path)
    policy = folder / "20-routing-policy.yaml"
    (folder / "30-second.yaml").write_text(policy.read_text().replace("name: default", "name: strict"))
    with pytest.raises(ManifestError, match="exactly one RoutingPolicy"):
        load_config(folder)
    assert load_config(folder, policy_name="strict").policy.name == "strict"


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load_config(tmp_path / "nope")
