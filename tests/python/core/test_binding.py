"""The Rust core through its Python binding: config swaps, caches, breakers, errors, GIL release."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from router_py import _core
from router_py.config.schema import RouterConfig
from router_py.routing.engine import RoutingEngine
from router_py.routing.request import DecisionRecord, RouteRequest
from router_py.runtime import model_dir, ort_library


def patched(config: RouterConfig, patch: dict[str, Any]) -> RouterConfig:
    """`config` with `patch` deep-merged into its camelCase JSON form."""

    def merge(base: Any, change: Any) -> Any:
        if isinstance(base, dict) and isinstance(change, dict):
            return {k: merge(base.get(k), change[k]) if k in change else v for k, v in {**base, **change}.items()}
        return change

    return RouterConfig.model_validate(merge(config.model_dump(by_alias=True, mode="json"), patch))


def answer(tier: int, text: str) -> _core.CachedAnswer:
    return _core.CachedAnswer(tier, "sim-fast-a", "sim-fast", text)


def ask(engine: RoutingEngine, text: str, tenant: str = "acme") -> _core.Decision:
    return engine.decide(RouteRequest(tenant=tenant, text=text))


def test_decision_carries_every_design_field(engine: RoutingEngine) -> None:
    record = DecisionRecord.from_core(ask(engine, "How do I reset my password?"))
    assert record.reason in {"classifier", "escalated"} or record.reason.startswith(("override:", "limit:"))
    assert record.tier in (1, 2, 3)
    assert record.provider and record.model
    assert len(record.scores) == 3 and abs(sum(record.scores) - 1) < 1e-4
    assert 0 < record.confidence <= 1
    assert record.policy_name == "default" and record.policy_version > 0
    assert record.tier3_cost_usd >= record.estimated_cost_usd > 0
    assert record.saved_usd == pytest.approx(record.tier3_cost_usd - record.estimated_cost_usd)
    assert record.latency_ms.total >= record.latency_ms.embed > 0
    assert record.candidates[0].provider == record.provider


def test_easy_and_hard_queries_route_apart(engine: RoutingEngine) -> None:
    easy = ask(engine, "How do I reset my password?")
    hard = ask(engine, "Prove that there are infinitely many primes p such that p + 2 is also prime, or explain why this is open, and sketch the best known partial results with their proof techniques.")
    assert easy.tier < hard.tier


def test_invalid_config_is_refused_and_old_one_stays_live(engine: RoutingEngine, default_config: RouterConfig) -> None:
    live = engine.core.policy()
    assert live is not None
    bad = patched(default_config, {"policy": {"version": 999, "overrides": {"domains": [{"name": "x", "domain": "astrology", "minTier": 3}]}}})
    with pytest.raises(_core.InvalidConfigError, match="astrology"):
        engine.apply(bad)
    with pytest.raises(_core.InvalidConfigError):
        engine.core.apply_config('{"policy": {"name": "p", "version": 1}, "tiers": [], "typo": 1}')
    still = engine.core.policy()
    assert still is not None and (still.name, still.version) == (live.name, live.version)
    assert ask(engine, "hello there").policy_version == live.version


def test_exact_cache_hits_only_for_the_same_tenant(engine: RoutingEngine) -> None:
    first = ask(engine, "What are your opening hours?", tenant="acme")
    engine.core.cache_put(first, answer(first.tier, "9 to 5"))
    again = ask(engine, "  what are your OPENING hours?  ", tenant="acme")
    assert again.reason == "cache_exact" and again.cached is not None and again.cached.payload == "9 to 5"
    other = ask(engine, "What are your opening hours?", tenant="globex")
    assert other.cached is None and other.reason != "cache_exact"


def test_semantic_cache_hits_paraphrases_only_for_the_same_tenant(engine: RoutingEngine) -> None:
    first = ask(engine, "How do I reset my password?", tenant="acme")
    engine.core.cache_put(first, answer(first.tier, "Use the reset link."))
    para = ask(engine, "How can I reset my password?", tenant="acme")
    assert para.reason == "cache_semantic" and para.similarity is not None and para.similarity >= 0.9
    assert ask(engine, "How can I reset my password?", tenant="globex").cached is None


def test_semantic_cache_refuses_negated_near_miss(engine: RoutingEngine) -> None:
    first = ask(engine, "How do I cancel my subscription?", tenant="acme")
    engine.core.cache_put(first, answer(first.tier, "Go to billing and press cancel."))
    negated = ask(engine, "How do I not cancel my subscription?", tenant="acme")
    assert negated.cached is None


def test_cached_answers_expire_after_their_ttl(engine: RoutingEngine, default_config: RouterConfig) -> None:
    minute = patched(default_config, {"policy": {"cache": {"exact": {"ttlSeconds": 60}, "semantic": {"ttlSeconds": 60}}}})
    engine.apply(minute)
    start = 1_700_000_000_000
    engine.core.set_clock_ms(start)
    try:
        first = ask(engine, "Where is my parcel?")
        engine.core.cache_put(first, answer(first.tier, "On its way"))
        engine.core.set_clock_ms(start + 59_999)
        assert ask(engine, "Where is my parcel?").reason == "cache_exact"
        assert ask(engine, "where is my parcel").reason == "cache_semantic"
        engine.core.set_clock_ms(start + 60_000)
        assert ask(engine, "Where is my parcel?").cached is None
        assert ask(engine, "where is my parcel").cached is None
    finally:
        engine.core.set_clock_ms(None)


def test_policy_version_change_invalidates_exact_hits(engine: RoutingEngine, default_config: RouterConfig) -> None:
    first = ask(engine, "Where is my parcel?")
    engine.core.cache_put(first, answer(first.tier, "On its way"))
    engine.apply(patched(default_config, {"policy": {"version": default_config.policy.version + 1, "cache": {"semantic": {"enabled": False}}}}))
    assert ask(engine, "Where is my parcel?").reason != "cache_exact"


def test_semantic_snapshot_restores_a_warm_replica(models: Path, default_config: RouterConfig, tmp_path: Path) -> None:
    engine = RoutingEngine.load(models, sessions=1)
    engine.apply(default_config)
    first = ask(engine, "How do I change my billing address?")
    engine.core.cache_put(first, answer(first.tier, "Settings > Billing"))
    engine.core.snapshot(tmp_path / "snap")

    restarted = RoutingEngine.load(models, sessions=1, snapshot_dir=tmp_path / "snap")
    restarted.apply(default_config)
    hit = ask(restarted, "How can I change my billing address?")
    assert hit.reason == "cache_semantic" and hit.cached is not None and hit.cached.payload == "Settings > Billing"


def test_corrupt_snapshot_is_a_clear_error(engine: RoutingEngine, models: Path, tmp_path: Path) -> None:
    first = ask(engine, "How do I change my billing address?")
    engine.core.cache_put(first, answer(first.tier, "Settings > Billing"))
    engine.core.snapshot(tmp_path / "snap")
    files = [f for f in (tmp_path / "snap").rglob("*") if f.is_file()]
    assert files
    for f in files:
        f.write_bytes(b"garbage")
    with pytest.raises(_core.SnapshotError):
        RoutingEngine.load(models, sessions=1, snapshot_dir=tmp_path / "snap")


def test_breaker_opens_after_failures_and_traffic_fails_over(engine: RoutingEngine) -> None:
    text = "What time is it in Paris?"
    decision = ask(engine, text)
    provider = decision.provider
    transitions = [engine.core.record_outcome(provider, False) for _ in range(10)]
    opened = [t for t in transitions if t is not None]
    assert opened and opened[0].to_state == "open"
    states = {s.provider: s.state for s in engine.core.breaker_states()}
    assert states[provider] == "open"
    after = ask(engine, text + " Thanks.")
    assert provider not in {c.provider for c in after.candidates}
    assert after.tier >= decision.tier


def test_admit_refuses_an_open_breaker_and_tier_candidates_drop_it(engine: RoutingEngine) -> None:
    assert engine.core.admit("sim-fast-a") == (True, None)
    for _ in range(3):  # the embedded default's tier-1 failureThreshold
        engine.core.record_outcome("sim-fast-a", False)
    allowed, transition = engine.core.admit("sim-fast-a")
    assert not allowed and transition is None
    assert [c.provider for c in engine.core.tier_candidates(1, "acme")] == ["sim-fast-b"]
    assert [c.provider for c in engine.core.tier_candidates(2, "acme")] == ["sim-smart-a", "sim-smart-b"]


def test_tier_candidates_apply_residency_and_check_the_tier(engine: RoutingEngine) -> None:
    assert [c.region for c in engine.core.tier_candidates(3, "acme", region="eu")] == ["eu-west-1"]
    with pytest.raises(_core.InvalidRequestError, match="tier"):
        engine.core.tier_candidates(4, "acme")


def test_request_errors_map_to_their_classes(engine: RoutingEngine) -> None:
    with pytest.raises(_core.InvalidRequestError, match="text"):
        engine.core.decide("acme", "   ")
    with pytest.raises(_core.InvalidRequestError, match="min_tier"):
        engine.core.decide("acme", "hi", min_tier=3, max_tier=1)
    fresh = _core.Router(model_dir(), ort_library=ort_library(), sessions=1)
    with pytest.raises(_core.NotConfiguredError):
        fresh.decide("acme", "hi")


def test_tenant_rate_limit_raises_with_retry_after(engine: RoutingEngine, default_config: RouterConfig) -> None:
    # One request back every 1000 s: however slowly this machine runs the three, none is refilled.
    tiny = {"name": "tiny", "tenant": "*", "requestsPerSecond": 0.001, "burst": 2}
    engine.apply(patched(default_config, {"policy": {"limits": {"tenants": [tiny]}}}))
    ask(engine, "one")
    ask(engine, "two")
    with pytest.raises(_core.RateLimitedError) as caught:
        ask(engine, "three")
    message, rule, retry_after = caught.value.args
    assert rule == "tiny" and 0 < retry_after <= 1000.0
    ask(engine, "other tenant is unaffected", tenant="globex")


def test_decide_releases_the_gil(engine: RoutingEngine) -> None:
    """The main thread runs Python while another thread is inside decide(). With forced GIL
    switches off, a thread gives the GIL up only where it blocks or native code releases it, so
    the main thread can run only inside a decide() that released it: the worker decides until the
    main thread has run, one decision if decide() lets the GIL go, every one if it holds it.
    (Counting the main thread's steps during one decision could not tell: a decision that held
    the GIL past the 5 ms switch interval handed it over as it returned, for thousands of steps.)"""
    long_prompt = "Summarise this report. " + "The quarter went well. " * 200
    main_ran = threading.Event()
    most = 200  # decisions the OS has to run the main thread in: far more than it needs
    decisions = 0

    def decide() -> None:
        nonlocal decisions
        while not main_ran.is_set() and decisions < most:
            ask(engine, long_prompt)
            decisions += 1

    switch_s = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        worker = threading.Thread(target=decide)
        worker.start()
        main_ran.set()
        worker.join()
    finally:
        sys.setswitchinterval(switch_s)
    assert decisions < most


def test_decide_async_does_not_block_the_event_loop(engine: RoutingEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop runs other code while a decision is in progress: here the decision cannot finish
    until the loop's thread has let it. A decide() run on the loop's own thread would wait for
    that in vain, and give up."""
    loop_ran = threading.Event()
    waited_in_vain: list[bool] = []
    decide = engine.decide

    def gated(request: RouteRequest) -> _core.Decision:
        waited_in_vain.append(not loop_ran.wait(timeout=30))
        return decide(request)

    monkeypatch.setattr(engine, "decide", gated)

    async def scenario() -> None:
        decision = asyncio.create_task(engine.decide_async(RouteRequest(tenant="acme", text="Where is my parcel?")))
        await asyncio.sleep(0)  # the decision starts
        loop_ran.set()
        await decision

    asyncio.run(scenario())
    assert waited_in_vain == [False]


def test_warm_preloads_both_caches_for_one_tenant(engine: RoutingEngine, models: Path) -> None:
    embedder = _core.Embedder(models / "embedder", ort_library=ort_library())
    faq = "How do I update my billing address?"
    vector = embedder.embed_batch([faq])
    assert engine.core.warm("acme", [faq], vector, [answer(1, "Settings > Billing")]) == 1
    assert ask(engine, faq).reason == "cache_exact"
    assert ask(engine, "How can I update my billing address?").reason == "cache_semantic"
    assert ask(engine, faq, tenant="globex").cached is None
    with pytest.raises(ValueError, match="line up"):
        engine.core.warm("acme", [faq, faq], vector, [answer(1, "x")])


def test_twenty_thousand_tenants_stay_within_the_cache_bounds(models: Path, default_config: RouterConfig) -> None:
    """Each tenant's semantic index used to cost ~155 KiB that nothing freed; now the least
    recently used tenants go whole once the tenant or byte bound is reached."""
    engine = RoutingEngine.load(models, sessions=1, semantic_max_tenants=1_000, semantic_max_bytes=16 << 20)
    engine.apply(default_config)
    faq = "How do I update my billing address?"
    vector = _core.Embedder(models / "embedder", ort_library=ort_library()).embed_batch([faq])
    for i in range(20_000):
        engine.core.warm(f"tenant-{i}", [faq], vector, [answer(1, "Settings > Billing")])
        if i % 5_000 == 0:
            stats = engine.core.cache_stats()
            assert stats.semantic_tenants <= 1_000 and stats.semantic_bytes <= 16 << 20
    stats = engine.core.cache_stats()
    assert 0 < stats.semantic_tenants <= 1_000 and 0 < stats.semantic_bytes <= 16 << 20
    assert stats.semantic_evicted_tenants == 20_000 - stats.semantic_tenants
    assert stats.semantic_entries == stats.semantic_tenants
    assert ask(engine, "How can I update my billing address?", tenant="tenant-19999").reason == "cache_semantic"
    assert ask(engine, "How can I update my billing address?", tenant="tenant-0").reason != "cache_semantic"


def test_cache_memory_is_exported_to_metrics(engine: RoutingEngine) -> None:
    from router_py.telemetry.metrics import exposition, metrics

    first = ask(engine, "Where is my parcel?")
    engine.core.cache_put(first, answer(first.tier, "On its way"))
    metrics().watch_caches(engine.core.cache_stats)
    stats = engine.core.cache_stats()
    series = {line.split("{")[0] + "/" + line.split('cache="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
              for line in exposition().decode().splitlines()
              if line.startswith("llm_router_cache_") and 'cache="' in line}
    assert series["llm_router_cache_memory_bytes/semantic"] == stats.semantic_bytes > 0
    assert series["llm_router_cache_memory_bytes/exact"] == stats.exact_bytes > 0
    assert series["llm_router_cache_entries/semantic"] == series["llm_router_cache_entries/exact"] == 1
    assert series["llm_router_cache_tenants/semantic"] == 1


def test_answers_are_shared_only_within_one_context_and_served_to_a_pin_only_from_its_model(engine: RoutingEngine) -> None:
    brief = '{"turns":[["system","Be brief."],["user",null]]}'
    request = RouteRequest(tenant="acme", text="What are your opening hours?", context=brief)
    first = engine.decide(request)
    engine.core.cache_put(first, answer(first.tier, "9 to 5"))
    assert engine.decide(request).reason == "cache_exact"
    assert engine.decide(request.model_copy(update={"context": ""})).cached is None
    pinned = engine.decide(request.model_copy(update={"pinned_model": "sim-reasoning"}))
    assert pinned.cached is None
    assert "cache_exact hit refused: pinned to sim-reasoning, answer from sim-fast-a" in pinned.trail
    assert engine.decide(request.model_copy(update={"pinned_model": "sim-fast"})).reason == "cache_exact"
