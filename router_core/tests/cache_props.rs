//! Property tests of the answer caches and the semantic-hit guard: isolation, TTLs, bounds, snapshots, guard rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use router_core::cache::exact::{normalize, ExactCache};
use router_core::cache::guard::{self, Refusal};
use router_core::cache::semantic::{Question, SemanticCache, SemanticOptions};
use router_core::cache::{context_digest, CachedAnswer};
use router_core::CoreError;

const DIM: usize = 16;
const HOUR: Duration = Duration::from_secs(3600);

fn answer(payload: &str) -> CachedAnswer {
    CachedAnswer { tier: 1, provider: "prov".into(), model: "mod".into(), payload: payload.into() }
}

fn semantic(max_entries: usize) -> SemanticCache {
    SemanticCache::new(SemanticOptions { dim: DIM, max_entries_per_tenant: max_entries, ..SemanticOptions::default() })
}

/// Random unit vectors; in 16 dimensions two of them are practically never 0.99 similar.
fn unit_vector() -> impl Strategy<Value = Vec<f32>> {
    vec(-1.0f32..1.0, DIM).prop_filter("non-zero", |v| v.iter().map(|x| x * x).sum::<f32>() > 0.1).prop_map(|v| {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    })
}

fn distinct_vectors(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<f32>>> {
    vec(unit_vector(), n).prop_filter("pairwise distinct", |vs| {
        vs.iter()
            .enumerate()
            .all(|(i, a)| vs.iter().skip(i + 1).all(|b| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() < 0.95))
    })
}

/// The same query text each time, so the guard always agrees and only vectors decide.
const QUERY: &str = "what is the status of my request";

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn exact_never_crosses_tenants(a in ".{0,12}", b in ".{0,12}", text in ".{0,40}", version in any::<u64>()) {
        prop_assume!(a != b);
        let cache = ExactCache::new(1000, 1 << 20);
        let key = normalize(&text);
        cache.put(&a, version, &key, answer("for a"), HOUR, 0);
        prop_assert_eq!(cache.get(&a, version, &key, 0), Some(answer("for a")));
        prop_assert_eq!(cache.get(&b, version, &key, 0), None);
    }

    #[test]
    fn exact_get_after_put_per_policy_version(text in ".{0,40}", v1 in any::<u64>(), v2 in any::<u64>()) {
        prop_assume!(v1 != v2);
        let cache = ExactCache::new(1000, 1 << 20);
        let key = normalize(&text);
        cache.put("t", v1, &key, answer("v1"), HOUR, 0);
        prop_assert_eq!(cache.get("t", v1, &key, 0), Some(answer("v1")));
        prop_assert_eq!(cache.get("t", v2, &key, 0), None);
        cache.put("t", v2, &key, answer("v2"), HOUR, 0);
        prop_assert_eq!(cache.get("t", v1, &key, 0), Some(answer("v1")));
        prop_assert_eq!(cache.get("t", v2, &key, 0), Some(answer("v2")));
    }

    #[test]
    fn normalize_is_idempotent_and_case_blind(text in "\\PC{0,40}") {
        let once = normalize(&text);
        prop_assert_eq!(normalize(&once), once.clone());
        // Case blindness holds where lower/upper casing round-trips; special casings such as
        // "ẞ" -> "ß" -> "SS" are not folded (that would need full Unicode case folding).
        if text.to_uppercase().to_lowercase() == text.to_lowercase() {
            prop_assert_eq!(normalize(&text.to_uppercase()), once.clone());
        }
        prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
    }

    #[test]
    fn exact_stays_within_bounds(
        max_entries in 1u64..40,
        max_bytes in 200u64..20_000,
        puts in vec(("[a-z]{1,8}", 0usize..2_000), 1..120),
    ) {
        let cache = ExactCache::new(max_entries, max_bytes);
        for (text, size) in &puts {
            cache.put("tenant", 1, text, answer(&"x".repeat(*size)), HOUR, 0);
        }
        prop_assert!(cache.entry_count() <= max_entries);
        prop_assert!(cache.weighted_size() <= max_bytes);
    }

    #[test]
    fn semantic_never_crosses_tenants(a in ".{0,12}", b in ".{0,12}", v in unit_vector()) {
        prop_assume!(a != b);
        let cache = semantic(100);
        cache.insert(&a, &v, QUERY, answer("for a"), HOUR, 0).unwrap();
        prop_assert!(cache.lookup(&a, &v, QUERY, 0.99, 1).is_some());
        prop_assert!(cache.lookup(&b, &v, QUERY, -1.0, 1).is_none());
        prop_assert!(cache.search_ids(&b, &v, 10).is_empty());
        prop_assert_eq!(cache.len(&b), 0);
    }

    #[test]
    fn semantic_lookup_respects_ttl_remove_and_expire(
        vectors in distinct_vectors(1..24),
        ttls in vec(1u64..1_000, 24),
        now in 0u64..1_000,
        removed in vec(any::<bool>(), 24),
    ) {
        let cache = semantic(1000);
        let ids: Vec<u64> = vectors
            .iter()
            .zip(&ttls)
            .map(|(v, ttl)| cache.insert("t", v, QUERY, answer("a"), Duration::from_millis(*ttl), 0).unwrap())
            .collect();
        for ((v, ttl), id) in vectors.iter().zip(&ttls).zip(&ids) {
            let hit = cache.lookup("t", v, QUERY, 0.99, now);
            prop_assert_eq!(hit.map(|h| h.id), (*ttl > now).then_some(*id));
        }
        let live = ttls.iter().take(vectors.len()).filter(|ttl| **ttl > now).count();
        prop_assert_eq!(cache.expire(now), vectors.len() - live);
        prop_assert_eq!(cache.len("t"), live);
        for ((v, id), gone) in vectors.iter().zip(&ids).zip(&removed) {
            if *gone {
                cache.remove("t", *id);
                prop_assert!(cache.lookup("t", v, QUERY, 0.99, now).is_none());
            }
        }
    }

    #[test]
    fn semantic_eviction_keeps_the_newest(max_entries in 1usize..8, vectors in distinct_vectors(1..20)) {
        let cache = semantic(max_entries);
        for v in &vectors {
            cache.insert("t", v, QUERY, answer("a"), HOUR, 0).unwrap();
        }
        prop_assert_eq!(cache.len("t"), vectors.len().min(max_entries));
        let kept_from = vectors.len().saturating_sub(max_entries);
        for (i, v) in vectors.iter().enumerate() {
            prop_assert_eq!(cache.lookup("t", v, QUERY, 0.99, 0).is_some(), i >= kept_from);
        }
    }

    #[test]
    fn snapshot_then_restore_serves_the_same_hits(
        tenants in vec(".{1,10}", 1..4),
        vectors in distinct_vectors(1..16),
        ttls in vec(1u64..2_000, 16),
        now in 0u64..2_000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cache = semantic(1000);
        for (i, (v, ttl)) in vectors.iter().zip(&ttls).enumerate() {
            let tenant = &tenants[i % tenants.len()];
            cache.insert(tenant, v, QUERY, answer(&format!("a{i}")), Duration::from_millis(*ttl), 0).unwrap();
        }
        cache.snapshot(dir.path(), now).unwrap();
        let restored = SemanticCache::restore(dir.path(), SemanticOptions { dim: DIM, ..SemanticOptions::default() }, now).unwrap();
        for tenant in &tenants {
            for v in &vectors {
                prop_assert_eq!(restored.lookup(tenant, v, QUERY, 0.99, now), cache.lookup(tenant, v, QUERY, 0.99, now));
            }
        }
    }

    #[test]
    fn any_damage_to_a_snapshot_file_is_reported_with_its_path(
        file in prop::sample::select(vec!["index.usearch", "entries.json"]),
        position in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cache = semantic(100);
        cache.insert("acme", &[0.25; DIM], QUERY, answer("a"), HOUR, 0).unwrap();
        cache.snapshot(dir.path(), 0).unwrap();
        let path = only_tenant_folder(dir.path()).join(file);
        let mut bytes = fs::read(&path).unwrap();
        let at = position.index(bytes.len());
        if truncate {
            bytes.truncate(at);
        } else {
            bytes[at] ^= 0x5a;
        }
        fs::write(&path, &bytes).unwrap();
        match SemanticCache::restore(dir.path(), cache_options(), 0) {
            Err(CoreError::Snapshot { path: reported, .. }) => prop_assert_eq!(reported, path),
            other => prop_assert!(false, "expected a snapshot error, got {:?}", other.err()),
        }
    }

    #[test]
    fn guard_accepts_identical_questions(text in "\\PC{0,60}") {
        prop_assert!(guard::compatible(&text, &text));
    }

    #[test]
    fn guard_refuses_other_numbers(template in prop::sample::select(NUMBER_TEMPLATES.to_vec()), n in 0u32..5_000, m in 0u32..5_000) {
        prop_assume!(n != m);
        let a = template.replace("{}", &n.to_string());
        let b = template.replace("{}", &m.to_string());
        prop_assert!(matches!(guard::refusal(&a, &b), Some(Refusal::Number | Refusal::Date)), "{} / {}", a, b);
    }

    #[test]
    fn guard_refuses_negated_questions(question in prop::sample::select(QUESTIONS.to_vec())) {
        let (verb, rest) = question.split_once(' ').unwrap();
        let negated = format!("{verb} not {rest}");
        prop_assert_eq!(guard::refusal(question, &negated), Some(Refusal::Negation));
    }

    #[test]
    fn guard_refuses_opposite_actions(
        (x, y) in prop::sample::select(OPPOSITE_VERBS.to_vec()),
        object in prop::sample::select(vec!["my account", "the filter", "sync", "two factor login codes"]),
    ) {
        let a = format!("how do I {x} {object}");
        let b = format!("how do I {y} {object}");
        prop_assert!(matches!(guard::refusal(&a, &b), Some(Refusal::OppositeAction)), "{} / {}", a, b);
    }

    #[test]
    fn guard_refuses_other_days(
        (d1, d2) in (0usize..7, 0usize..7),
        template in prop::sample::select(vec!["is the store open on {}", "book a table for {} night", "can you deliver by {}?"]),
    ) {
        prop_assume!(d1 != d2);
        let a = template.replace("{}", DAYS[d1]);
        let b = template.replace("{}", DAYS[d2]);
        prop_assert_eq!(guard::refusal(&a, &b), Some(Refusal::Date));
    }
}

const NUMBER_TEMPLATES: &[&str] = &[
    "convert {} km to miles",
    "is a {}% raise good",
    "how much is ${} in euros",
    "book a table for {} people",
    "what is {} times 12",
];

const QUESTIONS: &[&str] = &[
    "can I return opened items",
    "is the pool heated",
    "should I restart the router",
    "does the plan include support",
];

const OPPOSITE_VERBS: &[(&str, &str)] = &[
    ("enable", "disable"),
    ("lock", "unlock"),
    ("add", "remove"),
    ("increase", "decrease"),
    ("upgrade", "downgrade"),
    ("install", "uninstall"),
    ("import", "export"),
    ("archive", "unarchive"),
    ("pause", "resume"),
];

const DAYS: &[&str] = &["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

fn cache_options() -> SemanticOptions {
    SemanticOptions { dim: DIM, max_entries_per_tenant: 100, ..SemanticOptions::default() }
}

fn only_tenant_folder(dir: &Path) -> PathBuf {
    let name = fs::read_to_string(dir.join("CURRENT")).unwrap();
    let snapshot = dir.join(name.trim());
    let mut folders: Vec<PathBuf> = fs::read_dir(&snapshot).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(folders.len(), 1);
    folders.remove(0)
}

#[test]
fn exact_entries_expire_at_their_ttl_on_the_callers_clock() {
    let cache = ExactCache::new(100, 1 << 20);
    cache.put("t", 1, "q", answer("a"), Duration::from_secs(60), 5_000);
    assert_eq!(cache.get("t", 1, "q", 64_999), Some(answer("a")));
    assert_eq!(cache.get("t", 1, "q", 65_000), None);
}

#[test]
fn corrupt_manifest_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let cache = semantic(100);
    cache.insert("acme", &[0.25; DIM], QUERY, answer("a"), HOUR, 0).unwrap();
    cache.snapshot(dir.path(), 0).unwrap();
    let manifest = only_tenant_folder(dir.path()).join("manifest.json");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(&manifest, &text[..text.len() / 2]).unwrap();
    match SemanticCache::restore(dir.path(), cache_options(), 0) {
        Err(CoreError::Snapshot { path, message }) => {
            assert_eq!(path, manifest);
            assert!(!message.is_empty());
        }
        other => panic!("expected a snapshot error, got {:?}", other.err()),
    }
}

#[test]
fn snapshot_after_removals_restores_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let cache = semantic(100);
    let vectors: Vec<Vec<f32>> = (0..10)
        .map(|i| {
            let mut v = vec![0.0; DIM];
            v[i] = 1.0;
            v
        })
        .collect();
    let ids: Vec<u64> = vectors.iter().map(|v| cache.insert("t", v, QUERY, answer("a"), HOUR, 0).unwrap()).collect();
    for id in ids.iter().step_by(2) {
        assert!(cache.remove("t", *id));
    }
    cache.snapshot(dir.path(), 0).unwrap();
    let restored = SemanticCache::restore(dir.path(), cache_options(), 0).unwrap();
    assert_eq!(restored.len("t"), 5);
    for (v, id) in vectors.iter().zip(&ids) {
        let hit = restored.lookup("t", v, QUERY, 0.99, 0).map(|h| h.id);
        assert_eq!(hit, (id % 2 == 0).then_some(*id));
    }
    let next = restored.insert("t", &vectors[0], QUERY, answer("b"), HOUR, 0).unwrap();
    assert!(next > *ids.iter().max().unwrap());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A semantic hit needs the same context digest, however close the vectors.
    #[test]
    fn semantic_hits_need_the_same_context(v in unit_vector(), a in ".{0,40}", b in ".{0,40}") {
        let cache = semantic(100);
        let filed = Question { text: QUERY, context: context_digest(&a) };
        cache.insert_question("t", &v, filed, answer("in a"), HOUR, 0).unwrap();
        let asked = Question { text: QUERY, context: context_digest(&b) };
        let hit = cache.lookup_question("t", &v, asked, 0.9, 0, |_| true).map(|h| h.answer.payload);
        prop_assert_eq!(hit, (a == b).then(|| "in a".to_owned()));
    }
}

#[test]
fn an_answer_the_caller_refuses_falls_through_to_the_next_candidate() {
    let cache = semantic(100);
    let v = {
        let mut v = vec![0.0; DIM];
        v[0] = 1.0;
        v
    };
    let cheap = CachedAnswer { tier: 1, ..answer("cheap") };
    let strong = CachedAnswer { tier: 3, ..answer("strong") };
    cache.insert("t", &v, QUERY, strong, HOUR, 0).unwrap();
    cache.insert("t", &v, QUERY, cheap, HOUR, 0).unwrap();
    let mut offered = Vec::new();
    let hit = cache.lookup_question("t", &v, Question::alone(QUERY), 0.9, 0, |a| {
        offered.push(a.tier);
        a.tier >= 2
    });
    assert_eq!(hit.map(|h| h.answer.payload), Some("strong".to_owned()));
    assert_eq!(offered.len(), 2);
    assert!(cache.lookup_question("t", &v, Question::alone(QUERY), 0.9, 0, |_| false).is_none());
}

#[test]
fn snapshots_keep_each_entry_in_its_context() {
    let dir = tempfile::tempdir().unwrap();
    let cache = semantic(100);
    let v = {
        let mut v = vec![0.0; DIM];
        v[3] = 1.0;
        v
    };
    let context = context_digest(r#"{"turns":[["system","Answer in French."],["user",null]]}"#);
    cache.insert_question("t", &v, Question { text: QUERY, context }, answer("fr"), HOUR, 0).unwrap();
    cache.snapshot(dir.path(), 0).unwrap();
    let restored = SemanticCache::restore(dir.path(), cache_options(), 0).unwrap();
    let hit = restored.lookup_question("t", &v, Question { text: QUERY, context }, 0.9, 0, |_| true);
    assert_eq!(hit.map(|h| h.answer.payload), Some("fr".to_owned()));
    assert!(restored.lookup("t", &v, QUERY, 0.9, 0).is_none());
}

/// Format-1 snapshots filed the whole conversation as the query, with no context: nothing says
/// which conversation an answer belongs to, so they restore empty rather than fail the start.
#[test]
fn a_snapshot_from_before_contexts_restores_empty() {
    let dir = tempfile::tempdir().unwrap();
    let cache = semantic(100);
    let v = {
        let mut v = vec![0.0; DIM];
        v[5] = 1.0;
        v
    };
    cache.insert("t", &v, QUERY, answer("old"), HOUR, 0).unwrap();
    cache.snapshot(dir.path(), 0).unwrap();
    let manifest = only_tenant_folder(dir.path()).join("manifest.json");
    let text = fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("\"format\": 2"), "{text}");
    fs::write(&manifest, text.replace("\"format\": 2", "\"format\": 1")).unwrap();
    let restored = SemanticCache::restore(dir.path(), cache_options(), 0).unwrap();
    assert_eq!(restored.len("t"), 0);
    fs::write(&manifest, text.replace("\"format\": 2", "\"format\": 3")).unwrap();
    assert!(matches!(SemanticCache::restore(dir.path(), cache_options(), 0), Err(CoreError::Snapshot { .. })));
}
