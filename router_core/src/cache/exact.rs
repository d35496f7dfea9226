//! Exact-match answer cache keyed on (tenant, policy version, normalised text).

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;
use moka::{Equivalent, Expiry};

use super::CachedAnswer;

/// Folds the differences that never change a question's meaning: surrounding and repeated
/// whitespace (any Unicode white space) and letter case (full Unicode lowercasing, so a final
/// sigma stays a final sigma).
///
/// Nothing more on purpose: this cache serves an answer without any similarity check, so two
/// texts may share a key only when they are the same question. Stripping punctuation or
/// applying NFKC would merge "2.5" with "25", "C++" with "C" or "x²" with "x2"; fuzzier
/// matches are the semantic cache's job, behind its guard.
pub fn normalize(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !collapsed.is_empty() {
            collapsed.push(' ');
        }
        collapsed.push_str(word);
    }
    if collapsed.is_ascii() {
        collapsed.make_ascii_lowercase();
        collapsed
    } else {
        collapsed.to_lowercase()
    }
}

/// Answers for texts seen before, bounded by entry count and bytes, each entry with its own TTL.
///
/// Built on `moka::sync::Cache`: reads are lock-free on a sharded map (no global lock for
/// concurrent hits), TinyLFU admission keeps the frequently asked questions when the cache is
/// full, and the weigher and per-entry `Expiry` give the byte budget and TTLs without our own
/// bookkeeping. The price is that evictions are applied in batched maintenance, so the bounds
/// can be exceeded briefly by the writes still pending; `entry_count` settles them first.
pub struct ExactCache {
    inner: Cache<Key, Arc<Stored>, ahash::RandomState>,
}

impl ExactCache {
    /// Both bounds hold at once: every entry weighs at least `max_bytes / max_entries`, so a
    /// byte budget that is full also caps the number of entries.
    pub fn new(max_entries: u64, max_bytes: u64) -> Self {
        let min_weight = max_bytes.div_ceil(max_entries.max(1));
        let capacity = if max_entries == 0 { 0 } else { max_bytes };
        let inner = Cache::builder()
            .max_capacity(capacity)
            .weigher(move |key: &Key, stored: &Arc<Stored>| weight(key, stored, min_weight))
            .expire_after(PerEntryTtl)
            .build_with_hasher(ahash::RandomState::new());
        Self { inner }
    }

    /// The answer stored under the key, if it has not expired at `now_ms` (the caller's clock, as
    /// the semantic cache takes it, so that tests move time instead of waiting for it).
    pub fn get(&self, tenant: &str, policy_version: u64, normalized: &str, now_ms: u64) -> Option<CachedAnswer> {
        let key = KeyRef { tenant, policy_version, text: normalized };
        self.inner.get(&key).filter(|stored| stored.expires_at_ms > now_ms).map(|stored| stored.answer.clone())
    }

    /// Stores (or replaces, restarting its TTL) the answer at `now_ms`; a zero TTL stores
    /// nothing. Moka also drops the entry once `ttl` has passed on its own clock: that frees the
    /// memory, while `get` decides by the caller's clock what is still served.
    pub fn put(
        &self,
        tenant: &str,
        policy_version: u64,
        normalized: &str,
        answer: CachedAnswer,
        ttl: Duration,
        now_ms: u64,
    ) {
        if ttl.is_zero() {
            return;
        }
        let key = Key { tenant: tenant.into(), policy_version, text: normalized.into() };
        let expires_at_ms = now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        self.inner.insert(key, Arc::new(Stored { answer, ttl, expires_at_ms }));
    }

    pub fn remove(&self, tenant: &str, policy_version: u64, normalized: &str) -> bool {
        let key = KeyRef { tenant, policy_version, text: normalized };
        self.inner.remove(&key).is_some()
    }

    /// Drops every entry of `tenant`, all policy versions. A full scan: this is an admin
    /// action, and scanning keeps the read path free of per-read invalidation checks.
    pub fn invalidate_tenant(&self, tenant: &str) {
        for (key, _) in self.inner.iter() {
            if &*key.tenant == tenant {
                self.inner.invalidate(&*key);
            }
        }
    }

    /// Entries held, after applying pending writes and evictions. An expired entry is never
    /// served but may be counted until moka's timer wheel sweeps it (about a second).
    pub fn entry_count(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.entry_count()
    }

    /// Bytes charged against `max_bytes` (at least the real key and answer bytes), after
    /// applying pending writes and evictions.
    pub fn weighted_size(&self) -> u64 {
        self.inner.run_pending_tasks();
        self.inner.weighted_size()
    }
}

struct Stored {
    answer: CachedAnswer,
    ttl: Duration,
    expires_at_ms: u64,
}

struct PerEntryTtl;

impl Expiry<Key, Arc<Stored>> for PerEntryTtl {
    fn expire_after_create(&self, _: &Key, stored: &Arc<Stored>, _: Instant) -> Option<Duration> {
        Some(stored.ttl)
    }

    fn expire_after_update(&self, _: &Key, stored: &Arc<Stored>, _: Instant, _: Option<Duration>) -> Option<Duration> {
        Some(stored.ttl)
    }
}

fn weight(key: &Key, stored: &Stored, min_weight: u64) -> u32 {
    let bytes = key.tenant.len() + key.text.len() + size_of::<u64>() + stored.answer.heap_bytes();
    let bytes = u64::try_from(bytes).unwrap_or(u64::MAX).max(min_weight);
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The owned key. Hash and equality go through `KeyRef`, so a lookup borrows its parts instead
/// of allocating, and the map compares tenant and text in full after a hash match.
struct Key {
    tenant: Box<str>,
    policy_version: u64,
    text: Box<str>,
}

impl Key {
    fn as_ref(&self) -> KeyRef<'_> {
        KeyRef { tenant: &self.tenant, policy_version: self.policy_version, text: &self.text }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_ref() == other.as_ref()
    }
}

impl Eq for Key {}

#[derive(Hash, PartialEq, Eq)]
struct KeyRef<'a> {
    tenant: &'a str,
    policy_version: u64,
    text: &'a str,
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self == key.as_ref()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn answer(payload: &str) -> CachedAnswer {
        CachedAnswer { tier: 1, provider: "local".into(), model: "small".into(), payload: payload.into() }
    }

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn normalize_trims_collapses_and_lowercases() {
        assert_eq!(normalize("  How   do I\tReset\nmy PASSWORD? "), "how do i reset my password?");
        assert_eq!(normalize("\u{a0}Straße\u{2003}ÖL "), "straße öl");
        assert_eq!(normalize("ΟΔΟΣ ΣΑΣ"), "\u{3bf}\u{3b4}\u{3bf}\u{3c2} \u{3c3}\u{3b1}\u{3c2}");
        assert_eq!(normalize(" \t\n"), "");
    }

    #[test]
    fn normalize_keeps_punctuation_that_changes_meaning() {
        assert_ne!(normalize("version 2.5"), normalize("version 25"));
        assert_ne!(normalize("C++ tutorial"), normalize("C tutorial"));
    }

    #[test]
    fn get_after_put_and_key_isolation() {
        let cache = ExactCache::new(100, 1 << 20);
        cache.put("acme", 3, "hello", answer("hi"), HOUR, 0);
        assert_eq!(cache.get("acme", 3, "hello", 0), Some(answer("hi")));
        assert_eq!(cache.get("acme", 4, "hello", 0), None);
        assert_eq!(cache.get("acme2", 3, "hello", 0), None);
        assert_eq!(cache.get("acm", 3, "hello", 0), None);
        assert_eq!(cache.get("acme", 3, "hello ", 0), None);
    }

    #[test]
    fn put_replaces_and_remove_deletes() {
        let cache = ExactCache::new(100, 1 << 20);
        cache.put("t", 1, "q", answer("old"), HOUR, 0);
        cache.put("t", 1, "q", answer("new"), HOUR, 0);
        assert_eq!(cache.get("t", 1, "q", 0), Some(answer("new")));
        assert!(cache.remove("t", 1, "q"));
        assert!(!cache.remove("t", 1, "q"));
        assert_eq!(cache.get("t", 1, "q", 0), None);
    }

    #[test]
    fn entries_expire_after_their_own_ttl() {
        let cache = ExactCache::new(100, 1 << 20);
        cache.put("t", 1, "short", answer("a"), MINUTE, 1_000);
        cache.put("t", 1, "long", answer("b"), HOUR, 1_000);
        cache.put("t", 1, "zero", answer("c"), Duration::ZERO, 1_000);
        assert_eq!(cache.get("t", 1, "zero", 1_000), None);
        assert_eq!(cache.get("t", 1, "short", 60_999), Some(answer("a")));
        assert_eq!(cache.get("t", 1, "short", 61_000), None);
        assert_eq!(cache.get("t", 1, "long", 61_000), Some(answer("b")));
    }

    #[test]
    fn invalidate_tenant_drops_only_that_tenant() {
        let cache = ExactCache::new(100, 1 << 20);
        for version in 0..3 {
            cache.put("a", version, "q", answer("a"), HOUR, 0);
            cache.put("b", version, "q", answer("b"), HOUR, 0);
        }
        cache.invalidate_tenant("a");
        assert_eq!(cache.get("a", 1, "q", 0), None);
        assert_eq!(cache.get("b", 1, "q", 0), Some(answer("b")));
        assert_eq!(cache.entry_count(), 3);
    }

    #[test]
    fn entry_and_byte_bounds_hold() {
        let by_count = ExactCache::new(10, 1 << 30);
        let by_bytes = ExactCache::new(1_000_000, 10_000);
        for i in 0..500 {
            let text = format!("question {i}");
            by_count.put("t", 1, &text, answer("x"), HOUR, 0);
            by_bytes.put("t", 1, &text, answer(&"y".repeat(500)), HOUR, 0);
        }
        assert!(by_count.entry_count() <= 10);
        assert!(by_bytes.weighted_size() <= 10_000);
        assert!(by_bytes.entry_count() <= 20);
    }

    #[test]
    fn zero_entries_stores_nothing() {
        let cache = ExactCache::new(0, 1 << 20);
        cache.put("t", 1, "q", answer("a"), HOUR, 0);
        assert_eq!(cache.entry_count(), 0);
    }
}
