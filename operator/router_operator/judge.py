"""Is each RoutingPolicy and ProviderTier acceptable? Pure: objects in, one verdict each out.

Tiers are judged first and each on its own: its spec, the Secrets its keys name, and the Rust
core compiling it beside placeholder tiers, so one broken tier never hides another's verdict.
Then the accepted tiers are judged together (one tier per number, provider names unique across
tiers), and each policy is compiled by the core against them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from router_operator.resources import ConditionStatus, CustomObject, Reason
from router_py.config.check import ConfigProblem
from router_py.config.key_ref import parse_key_ref
from router_py.config.schema import PolicySpec, ProviderSpec, RouterConfig, RoutingPolicySpec, TierSpec

Checker = Callable[[RouterConfig], ConfigProblem | None]
# Secret name -> its keys; a Secret that does not exist is absent.
SecretIndex = Mapping[str, frozenset[str]]

TIER_NUMBERS = (1, 2, 3)
_TIER_INDEX = re.compile(r"tiers\[(\d+)\]")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Verdict:
    status: ConditionStatus
    reason: Reason
    message: str

    @property
    def accepted(self) -> bool:
        return self.status is ConditionStatus.TRUE


VALID = Verdict(ConditionStatus.TRUE, Reason.VALID, "compiled by the router core")


def rejected(reason: Reason, message: str) -> Verdict:
    return Verdict(ConditionStatus.FALSE, reason, message)


@dataclass(frozen=True)
class Judged:
    """One object, its spec when it parses, and the verdict on it."""

    obj: CustomObject
    spec: TierSpec | RoutingPolicySpec | None
    verdict: Verdict

    @property
    def name(self) -> str:
        return self.obj.metadata.name


@dataclass(frozen=True)
class AcceptedTier:
    obj: CustomObject
    spec: TierSpec


@dataclass(frozen=True)
class Judgement:
    tiers: list[Judged]
    policies: list[Judged]
    # Tiers 1, 2 and 3 in order when each has an accepted ProviderTier, else None.
    tier_set: list[AcceptedTier] | None

    def policy(self, name: str) -> Judged | None:
        return next((p for p in self.policies if p.name == name), None)


def judge(
    policies: Sequence[CustomObject], tiers: Sequence[CustomObject], secrets: SecretIndex, check: Checker
) -> Judgement:
    judged_tiers = _judge_tiers(tiers, secrets, check)
    tier_set = _tier_set(judged_tiers)
    incomplete = None if tier_set is not None else _missing_tiers_message(judged_tiers)
    return Judgement(judged_tiers, _judge_policies(policies, tier_set, incomplete, check), tier_set)


# --- Tiers -----------------------------------------------------------------------------------


def secret_refs(spec: TierSpec) -> list[tuple[int, str, str]]:
    """(provider index, Secret name, key) of each `apiKeyRef: secret:NAME/KEY`."""
    refs = []
    for index, provider in enumerate(spec.providers):
        # The spec's pattern has admitted the ref: it parses.
        parsed = parse_key_ref(provider.api_key_ref) if provider.api_key_ref else None
        if parsed is not None and parsed.key is not None:
            refs.append((index, parsed.name, parsed.key))
    return refs


def _judge_tiers(objects: Sequence[CustomObject], secrets: SecretIndex, check: Checker) -> list[Judged]:
    judged = [_judge_tier_alone(obj, secrets, check) for obj in objects]
    judged = _refuse_duplicate_numbers(judged)
    return _refuse_cross_tier_problems(judged, check)


def _judge_tier_alone(obj: CustomObject, secrets: SecretIndex, check: Checker) -> Judged:
    spec = obj.parse_spec(TierSpec)
    if isinstance(spec, str):
        return Judged(obj, None, rejected(Reason.INVALID_SPEC, spec))
    for index, name, key in secret_refs(spec):
        if key not in secrets.get(name, frozenset()):
            missing = f"Secret {name!r}" if name not in secrets else f"key {key!r} in Secret {name!r}"
            message = f"spec.providers[{index}].apiKeyRef: no {missing}"
            return Judged(obj, spec, rejected(Reason.SECRET_MISSING, message))
    others = [_placeholder(n) for n in TIER_NUMBERS if n != spec.tier]
    problem = check(RouterConfig(policy=_NEUTRAL_POLICY, tiers=[spec, *others]))
    if problem is not None:
        return Judged(obj, spec, rejected(Reason.REJECTED_BY_CORE, _blame(problem, [obj.metadata.name])))
    return Judged(obj, spec, VALID)


def _refuse_duplicate_numbers(judged: list[Judged]) -> list[Judged]:
    """Of the accepted tiers claiming one number, the oldest keeps it: adding a clashing tier
    must not take the working one out of service."""
    holders: dict[int, Judged] = {}
    out = []
    for j in sorted(judged, key=_age):
        spec = j.spec
        if j.verdict.accepted and isinstance(spec, TierSpec):
            holder = holders.setdefault(spec.tier, j)
            if holder is not j:
                message = f"tier {spec.tier} is already served by ProviderTier {holder.name!r}"
                j = replace(j, verdict=rejected(Reason.DUPLICATE_TIER, message))
        out.append(j)
    return sorted(out, key=lambda j: j.name)


def _refuse_cross_tier_problems(judged: list[Judged], check: Checker) -> list[Judged]:
    """With one accepted tier per number, compile them together (provider names must be unique
    across tiers); the tier the core blames is refused, then the rest are compiled again."""
    for _ in TIER_NUMBERS:
        tier_set = _tier_set(judged)
        if tier_set is None:
            return judged
        problem = check(RouterConfig(policy=_NEUTRAL_POLICY, tiers=[t.spec for t in tier_set]))
        if problem is None:
            return judged
        names = [t.obj.metadata.name for t in tier_set]
        culprit = names[_blamed_index(problem)]
        verdict = rejected(Reason.REJECTED_BY_CORE, _blame(problem, names))
        judged = [replace(j, verdict=verdict) if j.name == culprit else j for j in judged]
    return judged


def _tier_set(judged: Sequence[Judged]) -> list[AcceptedTier] | None:
    accepted = {
        j.spec.tier: AcceptedTier(j.obj, j.spec) for j in judged if j.verdict.accepted and isinstance(j.spec, TierSpec)
    }
    if set(accepted) != set(TIER_NUMBERS):
        return None
    return [accepted[n] for n in TIER_NUMBERS]


def _missing_tiers_message(judged: Sequence[Judged]) -> str:
    served = {j.spec.tier for j in judged if j.verdict.accepted and isinstance(j.spec, TierSpec)}
    missing = ", ".join(str(n) for n in TIER_NUMBERS if n not in served)
    return f"not compiled: no accepted ProviderTier for tier {missing}"


def _age(j: Judged) -> tuple[datetime, str]:
    return j.obj.metadata.creation_timestamp or _EPOCH, j.name


# A policy that compiles with any valid tiers (no overrides, no limits): checking tiers with it
# blames only the tiers.
_NEUTRAL_POLICY = PolicySpec(name="tier-check", version=0)


def _placeholder(tier: int) -> TierSpec:
    provider = ProviderSpec(
        name=f"placeholder-tier-{tier}.invalid",
        model="placeholder",
        base_url="http://placeholder.invalid",
        region="placeholder",
        price_input_per_mtok=0.0,
        price_output_per_mtok=0.0,
    )
    return TierSpec(tier=tier, name=f"placeholder-{tier}", providers=[provider])


def _blamed_index(problem: ConfigProblem) -> int:
    """Which tier a problem found with the neutral policy is about; with that policy every
    problem the core can find is in some `tiers[i]`."""
    found = _TIER_INDEX.match(problem.path)
    return int(found.group(1)) if found else 0


def _blame(problem: ConfigProblem, names: Sequence[str]) -> str:
    """The core's path and message in the user's terms: `tiers[1].providers[0].name` of the
    ProviderTier at index 1 is its `spec.providers[0].name`; other tiers are named."""

    def name_of(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return f"ProviderTier {names[index]!r}" if index < len(names) else match.group(0)

    path = "spec" + _TIER_INDEX.sub("", problem.path, count=1) if problem.path.startswith("tiers[") else problem.path
    return f"{path}: {_TIER_INDEX.sub(name_of, problem.message)}"


# --- Policies --------------------------------------------------------------------------------


def _judge_policies(
    objects: Sequence[CustomObject], tier_set: list[AcceptedTier] | None, incomplete: str | None, check: Checker
) -> list[Judged]:
    names = {obj.metadata.name for obj in objects}
    judged = [_judge_policy(obj, names, tier_set, incomplete, check) for obj in objects]
    verdicts = {j.name: j.verdict for j in judged}
    return [_require_accepted_shadow(j, verdicts) for j in judged]


def _judge_policy(
    obj: CustomObject,
    policy_names: set[str],
    tier_set: list[AcceptedTier] | None,
    incomplete: str | None,
    check: Checker,
) -> Judged:
    spec = obj.parse_spec(RoutingPolicySpec)
    if isinstance(spec, str):
        return Judged(obj, None, rejected(Reason.INVALID_SPEC, spec))
    shadow = spec.shadow_policy
    if shadow is not None and (shadow == obj.metadata.name or shadow not in policy_names):
        why = "a policy cannot be its own shadow" if shadow == obj.metadata.name else "no such RoutingPolicy"
        return Judged(obj, spec, rejected(Reason.SHADOW_MISSING, f"spec.shadowPolicy {shadow!r}: {why}"))
    if tier_set is None:
        return Judged(obj, spec, Verdict(ConditionStatus.UNKNOWN, Reason.TIERS_INCOMPLETE, incomplete or ""))
    problem = check(router_config(obj.metadata.name, spec, tier_set, version=0))
    if problem is not None:
        path = "spec" + problem.path.removeprefix("policy") if problem.path.startswith("policy") else problem.path
        message = _blame(ConfigProblem(path=path, message=problem.message), [t.obj.metadata.name for t in tier_set])
        return Judged(obj, spec, rejected(Reason.REJECTED_BY_CORE, message))
    return Judged(obj, spec, VALID)


def _require_accepted_shadow(j: Judged, verdicts: Mapping[str, Verdict]) -> Judged:
    """A policy is only as good as its shadow: routers are given both or neither."""
    shadow = j.spec.shadow_policy if isinstance(j.spec, RoutingPolicySpec) else None
    if shadow is None or not j.verdict.accepted or verdicts[shadow].accepted:
        return j
    return replace(j, verdict=rejected(Reason.SHADOW_NOT_ACCEPTED, f"shadow RoutingPolicy {shadow!r} is not accepted"))


def router_config(name: str, spec: RoutingPolicySpec, tiers: Sequence[AcceptedTier], *, version: int) -> RouterConfig:
    """The core's config: the policy (named after its object, `shadowPolicy` dropped) and the tiers."""
    body = spec.model_dump(exclude={"shadow_policy"})
    return RouterConfig(policy=PolicySpec(name=name, version=version, **body), tiers=[t.spec for t in tiers])
