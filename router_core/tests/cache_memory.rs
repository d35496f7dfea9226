//! The semantic cache's memory ceiling: expired entries swept and never snapshotted, the tenant
//! count and resident bytes bounded, least recently used tenants evicted whole. Time is the
//! injected `now_ms` throughout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use router_core::cache::semantic::{SemanticCache, SemanticOptions};
use router_core::cache::CachedAnswer;

const DIM: usize = 16;
const HOUR: Duration = Duration::from_secs(3600);
const QUERY: &str = "what is the status of my request";

fn answer(payload: &str) -> CachedAnswer {
    CachedAnswer { tier: 1, provider: "prov".into(), model: "mod".into(), payload: payload.into() }
}

fn bounded(max_tenants: usize, max_bytes: usize) -> SemanticCache {
    SemanticCache::new(SemanticOptions { dim: DIM, max_tenants, max_bytes, ..SemanticOptions::default() })
}

/// A fixed unit vector per seed, so lookups of a tenant's own entry hit.
fn unit(seed: usize) -> Vec<f32> {
    let mut v = vec![0.1; DIM];
    v[seed % DIM] = 1.0;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn tenant(i: usize) -> String {
    format!("tenant-{i}")
}

/// Entries filed in the snapshot `dir/CURRENT` points to, over all tenants.
fn snapshot_entries(dir: &Path) -> usize {
    let name = fs::read_to_string(dir.join("CURRENT")).unwrap();
    fs::read_dir(dir.join(name.trim()))
        .unwrap()
        .map(|folder| {
            let bytes = fs::read(folder.unwrap().path().join("entries.json")).unwrap();
            serde_json::from_slice::<Vec<serde_json::Value>>(&bytes).unwrap().len()
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Holds the `max_tenants` most recently used tenants (an insert or a lookup is a use),
    /// exactly as a least-recently-used model says, and never more.
    #[test]
    fn tenants_beyond_the_bound_go_least_recently_used_first(
        max_tenants in 1usize..6,
        ops in vec((0usize..12, any::<bool>()), 1..80),
    ) {
        let cache = bounded(max_tenants, usize::MAX);
        let mut model: BTreeMap<usize, u64> = BTreeMap::new();
        for (step, (t, insert)) in ops.iter().enumerate() {
            let now = step as u64 + 1;
            if *insert {
                cache.insert(&tenant(*t), &unit(*t), QUERY, answer("a"), HOUR, now).unwrap();
                model.insert(*t, now);
                while model.len() > max_tenants {
                    let (&oldest, _) = model.iter().filter(|(k, _)| *k != t).min_by_key(|(_, used)| **used).unwrap();
                    model.remove(&oldest);
                }
            } else {
                let hit = cache.lookup(&tenant(*t), &unit(*t), QUERY, 0.99, now);
                prop_assert_eq!(hit.is_some(), model.contains_key(t));
                if let Some(used) = model.get_mut(t) {
                    *used = now;
                }
            }
            prop_assert!(cache.stats().tenants <= max_tenants);
            for k in 0..12 {
                prop_assert_eq!(cache.len(&tenant(k)) > 0, model.contains_key(&k), "tenant {} at step {}", k, step);
            }
        }
    }

    /// Resident bytes stay within `max_bytes` after every insert, whatever the answers weigh,
    /// and the tenant that just inserted keeps its newest entry unless that alone is too big.
    #[test]
    fn bytes_stay_within_the_budget(
        max_bytes in 150_000usize..1_500_000,
        inserts in vec((0usize..30, 0usize..120_000), 1..60),
    ) {
        let cache = bounded(usize::MAX, max_bytes);
        for (step, (t, size)) in inserts.iter().enumerate() {
            let now = step as u64 + 1;
            cache.insert(&tenant(*t), &unit(step), QUERY, answer(&"x".repeat(*size)), HOUR, now).unwrap();
            prop_assert!(cache.memory_bytes() <= max_bytes, "{} > {}", cache.memory_bytes(), max_bytes);
            if *size < max_bytes / 2 {
                prop_assert!(cache.lookup(&tenant(*t), &unit(step), QUERY, 0.99, now).is_some());
            }
        }
    }

    /// A snapshot holds only the entries live at its `now`; sweeping first changes no lookup.
    #[test]
    fn snapshots_hold_no_expired_entry(ttls in vec(1u64..2_000, 1..24), now in 0u64..2_000) {
        let dir = tempfile::tempdir().unwrap();
        let cache = bounded(100, usize::MAX);
        for (i, ttl) in ttls.iter().enumerate() {
            cache.insert(&tenant(i % 3), &unit(i), QUERY, answer("a"), Duration::from_millis(*ttl), 0).unwrap();
        }
        cache.snapshot(dir.path(), now).unwrap();
        prop_assert_eq!(snapshot_entries(dir.path()), ttls.iter().filter(|ttl| **ttl > now).count());
        prop_assert_eq!(cache.stats().entries, ttls.iter().filter(|ttl| **ttl > now).count());
    }
}

/// The sweep returns the memory of expired entries: all expired, nothing is charged.
#[test]
fn the_sweep_frees_expired_tenants_whole() {
    let cache = bounded(100, usize::MAX);
    for i in 0..50 {
        cache.insert(&tenant(i), &unit(i), QUERY, answer("a"), Duration::from_secs(5), 1_000).unwrap();
    }
    assert!(cache.memory_bytes() > 0);
    assert!(cache.lookup(&tenant(1), &unit(1), QUERY, 0.99, 6_000).is_none(), "expired entries are skipped");
    assert_eq!(cache.stats().entries, 50, "until the sweep, which");
    assert_eq!(cache.expire(6_000), 50);
    assert_eq!(cache.stats().tenants, 0);
    assert_eq!(cache.memory_bytes(), 0);
}

/// One small entry costs a small index: usearch's reservation for `search_threads()` contexts
/// cost 148 KiB (8 contexts) to 1.1 MiB (64) a tenant, and its own accounting said 16 MiB.
#[test]
fn a_tenant_with_one_entry_is_charged_tens_of_kib() {
    let cache = bounded(100, usize::MAX);
    cache.insert("t", &unit(1), QUERY, answer("a"), HOUR, 0).unwrap();
    let bytes = cache.memory_bytes();
    assert!((40 << 10..64 << 10).contains(&bytes), "{bytes}");
}

/// The scenario: 20,000 distinct tenants under the default bounds.
#[test]
fn twenty_thousand_tenants_stay_within_the_defaults() {
    let opts = SemanticOptions { dim: DIM, ..SemanticOptions::default() };
    let (max_tenants, max_bytes) = (opts.max_tenants, opts.max_bytes);
    let cache = SemanticCache::new(opts);
    for i in 0..20_000 {
        cache.insert(&tenant(i), &unit(i), QUERY, answer("a"), HOUR, i as u64).unwrap();
    }
    let stats = cache.stats();
    assert!(stats.tenants <= max_tenants && stats.bytes <= max_bytes, "{stats:?}");
    assert_eq!(stats.evicted_tenants, 20_000 - stats.tenants as u64);
    assert!(cache.len(&tenant(19_999)) == 1 && cache.len(&tenant(0)) == 0, "the newest stay, the oldest went");
}
