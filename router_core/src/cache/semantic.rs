//! Semantic answer cache: one HNSW index (usearch, cosine) per tenant, with TTLs and snapshots.
//!
//! Each tenant has its own index behind its own `RwLock`, so a tenant can only ever search its
//! own entries and lookups of different tenants, or of the same tenant, run in parallel. Time
//! is passed in as `now_ms` (unix epoch milliseconds): expiry is testable and an entry's
//! deadline means the same thing after a snapshot is restored on another replica.
//!
//! Snapshot layout, written to a staging folder and published by renaming a pointer file, so a
//! crash mid-snapshot leaves the previous snapshot intact:
//!
//! ```text
//! DIR/CURRENT                      name of the live snapshot folder
//! DIR/snap-<nanos>/<hex tenant>/   index.usearch, entries.json, manifest.json (sizes, checksums)
//! ```

use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ahash::AHashMap;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use serde::{Deserialize, Serialize};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

use super::guard::Signature;
use super::verify::{Verifier, Words};
use super::{context_digest, CachedAnswer};
use crate::error::{CoreError, Result};

/// Vectors are stored as f16. Measured on 10k all-MiniLM-L6-v2 embeddings of support queries
/// (banking77, clinc150, hwu64), 1k held-out queries, M=16, ef 128/64: recall@10 is 0.996 for
/// both f32 and f16, f16 similarities are within 4e-5 of exact, and the index takes 16.9 MB
/// instead of 33.7 MB. i8 is no smaller in usearch's accounting, drops recall@10 to 0.967 and
/// moves similarities by up to 0.014, enough to flip decisions near the threshold.
const SCALAR: ScalarKind = ScalarKind::F16;

/// Candidates fetched per lookup: the best one may be expired, filed under another context,
/// refused by the guard or refused by the caller's policy check. Kept small because every
/// candidate costs a graph walk step; the price is that a question asked in more than 8
/// different conversations (a bare "yes") can miss the entry of its own conversation.
const LOOKUP_K: usize = 8;

/// Smallest index growth step; capacity doubles from there up to `max_entries_per_tenant`.
const MIN_RESERVE: usize = 64;

/// Search contexts a tenant's index starts with. usearch sizes a striped lock array by the
/// contexts (at least 256 stripes of 128 bytes, 32 KiB, reached at 2 contexts for M=16) and
/// allocates it per index: reserving `search_threads()` (8 on 2 cores, 64 on 16) up front cost
/// 148 KiB (8) to 1.1 MiB (64) per tenant before its first entry. Contexts double on demand
/// when more lookups of one tenant run at once than it has contexts.
const MIN_THREADS: usize = 2;

/// Resident-memory model of one tenant's index, fitted to RSS growth on Linux/glibc with
/// usearch 2.26, 384 dimensions, f16, M=16 (1 to 10,000 entries, 2 to 16 contexts; the model
/// is within 10% of the measured growth): a fixed part, the lock stripes, a part per context,
/// a part per reserved slot (key and vector lookups, node table), and the arena bytes used by
/// nodes and vectors. usearch's own `memory_usage` counts its two 8 MiB arenas as reserved
/// the moment they are mapped, though only the pages written are resident: 16 MiB a tenant.
const INDEX_BASE_BYTES: usize = 16 << 10;
const CONTEXT_BYTES: usize = 1536;
const SLOT_BYTES: usize = 64;
const STRIPE_BYTES: usize = 128;
const MIN_STRIPES: usize = 256;
/// (entry id, cosine similarity), most similar first.
type Neighbours = Vec<(u64, f32)>;

/// Eviction brings the cache 1/64 below its bounds, so the scan that picks the victims runs
/// once per ~1/64 of the tenants rather than once per new tenant.
const EVICTION_MARGIN: usize = 64;
/// Bookkeeping of one entry besides its text: the `BTreeMap` node share, ids, deadline.
const ENTRY_OVERHEAD_BYTES: usize = 96;

/// Format 2 files each entry with its context digest.
const FORMAT: u32 = 2;
/// Format 1 entries were filed without a context (the whole conversation was the query), so
/// nothing says which conversation an answer belongs to: they are dropped on restore.
const LEGACY_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq)]
pub struct SemanticOptions {
    /// Embedding dimensions (384 for all-MiniLM-L6-v2).
    pub dim: usize,
    /// When full, a tenant's oldest entry makes room for the new one.
    pub max_entries_per_tenant: usize,
    /// HNSW graph degree (M).
    pub connectivity: usize,
    /// Candidate list size while inserting (efConstruction).
    pub expansion_add: usize,
    /// Candidate list size while searching (ef).
    pub expansion_search: usize,
    /// Tenants held at once; past it the least recently used tenant is dropped whole. Each
    /// costs about 50 KiB of index before its entries (see `INDEX_BASE_BYTES`).
    pub max_tenants: usize,
    /// Resident bytes of all tenants together (indexes, texts, answers, as `memory_bytes`
    /// estimates them); past it the least recently used other tenants are dropped whole, and
    /// a tenant over the budget on its own loses its oldest entries.
    pub max_bytes: usize,
}

impl Default for SemanticOptions {
    /// 10,000 tenants and 512 MiB: with the exact cache's 256 MiB and the ~150 MiB of models
    /// and runtime, the chart's 1536 MiB limit keeps ~600 MiB for requests in flight.
    fn default() -> Self {
        Self {
            dim: 384,
            max_entries_per_tenant: 10_000,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
            max_tenants: 10_000,
            max_bytes: 512 << 20,
        }
    }
}

/// What the semantic cache holds, for /metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SemanticStats {
    pub tenants: usize,
    /// Entries held, expired ones not yet swept included.
    pub entries: usize,
    /// `memory_bytes`: the resident estimate the byte budget is enforced on.
    pub bytes: usize,
    /// Tenants dropped whole to stay within `max_tenants` or `max_bytes`, since start.
    pub evicted_tenants: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SemanticHit {
    pub answer: CachedAnswer,
    /// Cosine similarity between the new query and the cached one.
    pub similarity: f32,
    pub cached_query: String,
    pub id: u64,
}

/// What an entry is filed under besides its vector: the question, which the guard compares,
/// and the digest of everything else that changes the answer (`cache::context_digest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    pub text: &'a str,
    pub context: u64,
}

impl<'a> Question<'a> {
    /// A question asked on its own: no earlier turns, system prompt or parameters.
    pub fn alone(text: &'a str) -> Self {
        Self { text, context: context_digest("") }
    }
}

/// What a cached question must pass to answer a new one: its cosine similarity reaches
/// `similarity`, the guard finds no conflicting detail, and the verifier scores the pair at
/// least `verifier` (0 leaves the verifier out).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HitRule {
    pub similarity: f32,
    pub verifier: f32,
}

/// A bare similarity threshold: the guard alone judges the pair.
impl From<f32> for HitRule {
    fn from(similarity: f32) -> Self {
        Self { similarity, verifier: 0.0 }
    }
}

impl HitRule {
    fn verified(&self, question: &Words, cached: &str, similarity: f32) -> bool {
        self.verifier <= 0.0 || Verifier::shipped().score(question, &Words::of(cached), similarity) >= self.verifier
    }
}

pub struct SemanticCache {
    opts: SemanticOptions,
    tenants: RwLock<AHashMap<Box<str>, Arc<RwLock<TenantIndex>>>>,
    /// Sum of the tenants' `charged` bytes: read on every insert to enforce `max_bytes`.
    bytes: AtomicUsize,
    evicted_tenants: AtomicU64,
}

impl SemanticCache {
    /// Invalid options (zero dimensions...) surface as `InvalidConfig` from the first insert.
    pub fn new(opts: SemanticOptions) -> Self {
        Self {
            opts,
            tenants: RwLock::new(AHashMap::new()),
            bytes: AtomicUsize::new(0),
            evicted_tenants: AtomicU64::new(0),
        }
    }

    pub fn options(&self) -> &SemanticOptions {
        &self.opts
    }

    /// Caches `answer` for `query` asked on its own (`Question::alone`); returns the new
    /// entry's id (unique within the tenant).
    pub fn insert(
        &self,
        tenant: &str,
        embedding: &[f32],
        query: &str,
        answer: CachedAnswer,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<u64> {
        self.insert_question(tenant, embedding, Question::alone(query), answer, ttl, now_ms)
    }

    /// Caches `answer` for `question` in its context; returns the new entry's id.
    pub fn insert_question(
        &self,
        tenant: &str,
        embedding: &[f32],
        question: Question<'_>,
        answer: CachedAnswer,
        ttl: Duration,
        now_ms: u64,
    ) -> Result<u64> {
        self.check_embedding(embedding)?;
        let expires_at_ms = now_ms.saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
        let entry = Entry { id: 0, query: question.text.to_owned(), context: question.context, answer, expires_at_ms };
        let id = self.file_entry(tenant, embedding, entry, now_ms)?;
        self.enforce_bounds(tenant);
        Ok(id)
    }

    fn file_entry(&self, tenant: &str, embedding: &[f32], entry: Entry, now_ms: u64) -> Result<u64> {
        // The map stays read-locked during the insert so `expire` and eviction cannot drop
        // this tenant's index between our lookup of it and our write into it.
        let map = self.tenants.read();
        if let Some(index) = map.get(tenant) {
            return self.insert_into(index, embedding, entry, now_ms);
        }
        drop(map);
        let mut map = self.tenants.write();
        let index = match map.get(tenant) {
            Some(index) => Arc::clone(index),
            None => {
                let index = Arc::new(RwLock::new(TenantIndex::new(&self.opts, now_ms)?));
                map.insert(tenant.into(), Arc::clone(&index));
                index
            }
        };
        let _map = RwLockWriteGuard::downgrade(map);
        self.insert_into(&index, embedding, entry, now_ms)
    }

    fn insert_into(&self, index: &RwLock<TenantIndex>, embedding: &[f32], entry: Entry, now_ms: u64) -> Result<u64> {
        let mut index = index.write();
        index.touch(now_ms);
        let id = index.insert(&self.opts, embedding, entry);
        self.recharge(&mut index);
        id
    }

    /// The most similar live entry that passes `rule` (a bare threshold: the guard alone).
    ///
    /// A wrong-sized embedding or an index failure (such as more concurrent searches than the
    /// index has search contexts) is a miss: the cache never fails a request.
    pub fn lookup(
        &self,
        tenant: &str,
        embedding: &[f32],
        query: &str,
        rule: impl Into<HitRule>,
        now_ms: u64,
    ) -> Option<SemanticHit> {
        self.lookup_question(tenant, embedding, Question::alone(query), rule, now_ms, |_| true)
    }

    /// The most similar live entry filed under the same context that passes `rule` and that
    /// `accept` takes (the router's policy check, called with the
    /// tenant's index read-locked, so it must not touch this cache).
    pub fn lookup_question(
        &self,
        tenant: &str,
        embedding: &[f32],
        question: Question<'_>,
        rule: impl Into<HitRule>,
        now_ms: u64,
        mut accept: impl FnMut(&CachedAnswer) -> bool,
    ) -> Option<SemanticHit> {
        let rule = rule.into();
        if embedding.len() != self.opts.dim {
            return None;
        }
        let index = self.tenant(tenant)?;
        let (index, found) = self.search_with_room(&index, embedding, LOOKUP_K)?;
        index.touch(now_ms);
        let (mut signature, mut words) = (None, None);
        for (id, similarity) in found {
            if similarity < rule.similarity {
                break;
            }
            let live = |e: &&Entry| e.expires_at_ms > now_ms && e.context == question.context;
            let Some(entry) = index.entries.get(&id).filter(live) else {
                continue;
            };
            let signature = signature.get_or_insert_with(|| Signature::of(question.text));
            let fits = signature.refusal(&Signature::of(&entry.query)).is_none()
                && rule.verified(words.get_or_insert_with(|| Words::of(question.text)), &entry.query, similarity);
            if fits && accept(&entry.answer) {
                return Some(entry.hit(similarity));
            }
        }
        None
    }

    /// Raw nearest neighbours as (entry id, cosine similarity), expired entries included.
    pub fn search_ids(&self, tenant: &str, embedding: &[f32], k: usize) -> Vec<(u64, f32)> {
        if embedding.len() != self.opts.dim {
            return Vec::new();
        }
        self.tenant(tenant).and_then(|index| index.read().search(embedding, k)).unwrap_or_default()
    }

    pub fn remove(&self, tenant: &str, id: u64) -> bool {
        self.tenant(tenant).is_some_and(|index| {
            let mut index = index.write();
            let removed = index.remove(id);
            self.recharge(&mut index);
            removed
        })
    }

    /// Drops every entry whose deadline has passed, in all tenants, and frees the indexes of
    /// tenants left empty. Returns the number of entries dropped. Lookups skip expired entries
    /// anyway; this is what returns their memory, so the service calls it on a schedule.
    pub fn expire(&self, now_ms: u64) -> usize {
        let indexes: Vec<_> = self.tenants.read().values().cloned().collect();
        let dropped = indexes
            .iter()
            .map(|index| {
                let mut index = index.write();
                let dropped = index.expire(now_ms);
                self.recharge(&mut index);
                dropped
            })
            .sum();
        if indexes.iter().any(|index| index.read().entries.is_empty()) {
            let mut emptied = Vec::new();
            self.tenants.write().retain(|_, index| {
                let keep = !index.read().entries.is_empty();
                if !keep {
                    emptied.push(Arc::clone(index));
                }
                keep
            });
            for index in emptied {
                self.detach(&mut index.write());
            }
        }
        dropped
    }

    /// Counts for /metrics: `bytes` is read from a counter, the rest walks the tenants'
    /// indexes, read-locking each in turn.
    pub fn stats(&self) -> SemanticStats {
        let indexes: Vec<_> = self.tenants.read().values().cloned().collect();
        SemanticStats {
            tenants: indexes.len(),
            entries: indexes.iter().map(|index| index.read().entries.len()).sum(),
            bytes: self.memory_bytes(),
            evicted_tenants: self.evicted_tenants.load(Ordering::Relaxed),
        }
    }

    /// Drops least recently used tenants other than `keep` while the cache is over
    /// `max_tenants` or `max_bytes`, down to 1/64 below them; when `keep` is over the byte
    /// budget on its own, it loses its oldest entries, and if its index alone still exceeds
    /// the budget, the whole tenant.
    fn enforce_bounds(&self, keep: &str) {
        if !self.over_bounds(0) {
            return;
        }
        while self.over_bounds(EVICTION_MARGIN) {
            let victims = self.least_recently_used(keep);
            if victims.is_empty() {
                break;
            }
            for victim in victims {
                if !self.over_bounds(EVICTION_MARGIN) {
                    return;
                }
                self.evict(&victim);
            }
        }
        if self.memory_bytes() <= self.opts.max_bytes || self.tenants.read().len() > 1 {
            return; // within budget, or the others are being written: the next insert retries
        }
        let Some(index) = self.tenant(keep) else {
            return;
        };
        let mut index = index.write();
        while self.memory_bytes() > self.opts.max_bytes && index.pop_oldest().unwrap_or(false) {
            self.recharge(&mut index);
        }
        let empty = index.entries.is_empty();
        drop(index);
        if empty || self.memory_bytes() > self.opts.max_bytes {
            self.evict(keep);
        }
    }

    /// Over a bound less `1 / margin` of it (no margin when 0).
    fn over_bounds(&self, margin: usize) -> bool {
        let less = |bound: usize| bound - bound.checked_div(margin).unwrap_or(0);
        self.memory_bytes() > less(self.opts.max_bytes) || self.tenants.read().len() > less(self.opts.max_tenants)
    }

    /// The `1 / EVICTION_MARGIN` least recently used tenants other than `keep`, oldest first:
    /// one scan and sort (~1 ms at 10,000 tenants) serves that many evictions, where a scan
    /// per eviction cost 0.75 ms each. An index being written (locked) was just used, so it
    /// is skipped rather than waited for.
    fn least_recently_used(&self, keep: &str) -> Vec<Box<str>> {
        let map = self.tenants.read();
        let mut ages: Vec<(u64, &Box<str>)> = map
            .iter()
            .filter(|(name, _)| &***name != keep)
            .filter_map(|(name, index)| Some((index.try_read()?.last_used_ms.load(Ordering::Relaxed), name)))
            .collect();
        let take = (map.len() / EVICTION_MARGIN).max(1).min(ages.len());
        if take < ages.len() {
            ages.select_nth_unstable_by_key(take, |(used, _)| *used);
            ages.truncate(take);
        }
        ages.sort_unstable_by_key(|(used, _)| *used);
        ages.into_iter().map(|(_, name)| name.clone()).collect()
    }

    fn evict(&self, tenant: &str) {
        let removed = self.tenants.write().remove(tenant);
        if let Some(index) = removed {
            self.detach(&mut index.write());
            self.evicted_tenants.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Re-estimates `index`'s resident bytes after a change and moves the cache's total by the
    /// difference; called with the index write-locked, so changes to one index add up in order.
    fn recharge(&self, index: &mut TenantIndex) {
        let now = if index.detached { 0 } else { index.resident_bytes(&self.opts) };
        let before = std::mem::replace(&mut index.charged, now);
        if now >= before {
            self.bytes.fetch_add(now - before, Ordering::Relaxed);
        } else {
            self.bytes.fetch_sub(before - now, Ordering::Relaxed);
        }
    }

    /// Takes a tenant dropped from the map out of the total: a lookup or `remove` still holding
    /// it may change it afterwards, which must not count.
    fn detach(&self, index: &mut TenantIndex) {
        index.detached = true;
        self.recharge(index);
    }

    /// Searches under the read lock. When usearch found no free search context (more lookups of
    /// this tenant at once than it has contexts), the index gets more under the write lock and
    /// the search runs once more, under that lock: with no other search of this tenant running,
    /// a context is free even once the contexts are at their most (a retry under the read lock
    /// could meet the same crowd, and a failed search is a miss).
    fn search_with_room<'a>(
        &self,
        index: &'a RwLock<TenantIndex>,
        embedding: &[f32],
        k: usize,
    ) -> Option<(RwLockReadGuard<'a, TenantIndex>, Neighbours)> {
        let reader = index.read();
        if let Some(found) = reader.search(embedding, k) {
            return Some((reader, found));
        }
        drop(reader);
        let mut writer = index.write();
        if writer.add_search_contexts() {
            self.recharge(&mut writer);
        }
        let found = writer.search(embedding, k)?;
        Some((RwLockWriteGuard::downgrade(writer), found))
    }

    /// Entries held for `tenant`, counting expired ones not yet swept by `expire`.
    pub fn len(&self, tenant: &str) -> usize {
        self.tenant(tenant).map_or(0, |index| index.read().entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.tenants.read().is_empty()
    }

    /// Resident bytes of the indexes (as modelled by `TenantIndex::resident_bytes`) plus the
    /// entries' texts and answers: what `max_bytes` bounds.
    pub fn memory_bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    fn tenant(&self, tenant: &str) -> Option<Arc<RwLock<TenantIndex>>> {
        self.tenants.read().get(tenant).cloned()
    }

    fn check_embedding(&self, embedding: &[f32]) -> Result<()> {
        if embedding.len() != self.opts.dim {
            let message = format!("expected {} dimensions, got {}", self.opts.dim, embedding.len());
            return Err(CoreError::InvalidRequest { field: "embedding".into(), message });
        }
        if !embedding.iter().all(|x| x.is_finite()) {
            let message = "contains NaN or infinite values".to_owned();
            return Err(CoreError::InvalidRequest { field: "embedding".into(), message });
        }
        Ok(())
    }

    /// Writes every tenant's index and entries under `dir`, then switches `dir/CURRENT` to
    /// the new snapshot and deletes the older ones. Entries expired at `now_ms` are swept
    /// first, so a snapshot holds only live ones.
    pub fn snapshot(&self, dir: &Path, now_ms: u64) -> Result<()> {
        self.expire(now_ms);
        fs::create_dir_all(dir).map_err(|e| snapshot_error(dir, e))?;
        let name = format!("snap-{}", unique_suffix());
        let staging = dir.join(format!(".staging-{name}"));
        fs::create_dir(&staging).map_err(|e| snapshot_error(&staging, e))?;
        let tenants: Vec<_> = {
            let map = self.tenants.read();
            map.iter().map(|(name, index)| (name.to_string(), Arc::clone(index))).collect()
        };
        for (tenant, index) in tenants {
            index.read().save(&staging.join(folder_name(&tenant)), &tenant, self.opts.dim)?;
        }
        sync_dir(&staging)?;
        let published = dir.join(&name);
        fs::rename(&staging, &published).map_err(|e| snapshot_error(&published, e))?;
        let pointer = dir.join(".CURRENT.tmp");
        write_durably(&pointer, name.as_bytes())?;
        let current = dir.join("CURRENT");
        fs::rename(&pointer, &current).map_err(|e| snapshot_error(&current, e))?;
        sync_dir(dir)?;
        remove_stale_snapshots(dir, &name)
    }

    /// Rebuilds a cache from the snapshot `dir/CURRENT` points to, dropping entries whose
    /// deadline has passed at `now_ms`. A folder without `CURRENT` (a fresh volume) gives an
    /// empty cache; a corrupt file, or one written with other dimensions, fails naming it.
    pub fn restore(dir: &Path, opts: SemanticOptions, now_ms: u64) -> Result<Self> {
        validate_options(&opts)?;
        let cache = Self::new(opts);
        let current = dir.join("CURRENT");
        let name = match fs::read_to_string(&current) {
            Ok(name) => name,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(cache),
            Err(e) => return Err(snapshot_error(&current, e)),
        };
        let name = name.trim();
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(snapshot_error(&current, format!("invalid snapshot name {name:?}")));
        }
        let snapshot = dir.join(name);
        let folders = fs::read_dir(&snapshot).map_err(|e| snapshot_error(&snapshot, e))?;
        let mut map = AHashMap::new();
        for folder in folders {
            let folder = folder.map_err(|e| snapshot_error(&snapshot, e))?.path();
            let (tenant, mut index) = TenantIndex::load(&folder, &cache.opts)?;
            index.expire(now_ms);
            index.touch(now_ms);
            if !index.entries.is_empty() {
                cache.recharge(&mut index);
                map.insert(tenant.into_boxed_str(), Arc::new(RwLock::new(index)));
            }
        }
        *cache.tenants.write() = map;
        // A snapshot written under larger bounds than this process has.
        cache.enforce_bounds("");
        Ok(cache)
    }
}

fn validate_options(opts: &SemanticOptions) -> Result<()> {
    let checks = [
        ("cache.semantic.dim", opts.dim, 1),
        ("cache.semantic.maxEntriesPerTenant", opts.max_entries_per_tenant, 1),
        ("cache.semantic.connectivity", opts.connectivity, 2),
        ("cache.semantic.expansionAdd", opts.expansion_add, 1),
        ("cache.semantic.expansionSearch", opts.expansion_search, 1),
        ("cache.semantic.maxTenants", opts.max_tenants, 1),
        ("cache.semantic.maxBytes", opts.max_bytes, 1),
    ];
    match checks.iter().find(|(_, value, min)| value < min) {
        Some((path, value, min)) => {
            Err(CoreError::invalid_config(*path, format!("must be at least {min}, got {value}")))
        }
        None => Ok(()),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    id: u64,
    query: String,
    context: u64,
    answer: CachedAnswer,
    expires_at_ms: u64,
}

/// What an entry costs besides its vector and graph node.
fn entry_bytes(entry: &Entry) -> usize {
    ENTRY_OVERHEAD_BYTES + entry.query.len() + entry.answer.heap_bytes()
}

impl Entry {
    fn hit(&self, similarity: f32) -> SemanticHit {
        SemanticHit { answer: self.answer.clone(), similarity, cached_query: self.query.clone(), id: self.id }
    }
}

/// One tenant's vectors and entries; ids grow monotonically, so the smallest id is the oldest.
struct TenantIndex {
    index: Index,
    entries: BTreeMap<u64, Entry>,
    next_id: u64,
    /// Search contexts reserved in `index` (0 until the first reservation).
    threads: usize,
    /// Sum of `entry_bytes` over `entries`, kept as they come and go.
    metadata_bytes: usize,
    /// Bytes this index adds to the cache's total (0 once detached).
    charged: usize,
    /// Dropped from the cache's map: its bytes no longer count.
    detached: bool,
    /// Latest insert or lookup, for least-recently-used eviction; atomic because lookups
    /// hold only the read lock.
    last_used_ms: AtomicU64,
}

impl TenantIndex {
    fn new(opts: &SemanticOptions, now_ms: u64) -> Result<Self> {
        validate_options(opts)?;
        let index = Index::new(&index_options(opts)).map_err(index_error)?;
        Ok(Self::with_entries(index, BTreeMap::new(), 1, 0, now_ms))
    }

    fn with_entries(index: Index, entries: BTreeMap<u64, Entry>, next_id: u64, threads: usize, now_ms: u64) -> Self {
        let metadata_bytes = entries.values().map(entry_bytes).sum();
        let last_used_ms = AtomicU64::new(now_ms);
        Self { index, entries, next_id, threads, metadata_bytes, charged: 0, detached: false, last_used_ms }
    }

    fn touch(&self, now_ms: u64) {
        self.last_used_ms.fetch_max(now_ms, Ordering::Relaxed);
    }

    fn insert(&mut self, opts: &SemanticOptions, embedding: &[f32], mut entry: Entry) -> Result<u64> {
        while self.entries.len() >= opts.max_entries_per_tenant {
            if !self.pop_oldest()? {
                break;
            }
        }
        self.reserve_for_one_more(opts.max_entries_per_tenant)?;
        let id = self.next_id;
        self.index.add(id, embedding).map_err(index_error)?;
        self.next_id += 1;
        entry.id = id;
        self.metadata_bytes += entry_bytes(&entry);
        self.entries.insert(id, entry);
        Ok(id)
    }

    /// Drops the oldest entry; `false` when there is none.
    fn pop_oldest(&mut self) -> Result<bool> {
        let Some((oldest, entry)) = self.entries.pop_first() else {
            return Ok(false);
        };
        self.metadata_bytes -= entry_bytes(&entry);
        self.index.remove(oldest).map_err(index_error)?;
        Ok(true)
    }

    /// usearch needs capacity reserved before `add`; growing by doubling keeps the number of
    /// (copying) reservations logarithmic without reserving the maximum for small tenants.
    fn reserve_for_one_more(&mut self, max_entries: usize) -> Result<()> {
        let (size, capacity) = (self.index.size(), self.index.capacity());
        if size < capacity {
            return Ok(());
        }
        let target = (capacity * 2).clamp(MIN_RESERVE, max_entries.max(MIN_RESERVE)).max(size + 1);
        let threads = self.threads.max(MIN_THREADS);
        self.index.reserve_capacity_and_threads(target, threads).map_err(index_error)?;
        self.threads = threads;
        Ok(())
    }

    /// Doubles the search contexts, up to `search_threads()`; `false` when already there or
    /// usearch could not reserve them.
    fn add_search_contexts(&mut self) -> bool {
        let most = search_threads();
        if self.threads >= most {
            return false;
        }
        let threads = (self.threads * 2).clamp(MIN_THREADS, most);
        let capacity = self.index.capacity().max(MIN_RESERVE);
        if self.index.reserve_capacity_and_threads(capacity, threads).is_err() {
            return false;
        }
        self.threads = threads;
        true
    }

    /// The resident-memory model of `INDEX_BASE_BYTES` and its neighbours, plus the entries.
    fn resident_bytes(&self, opts: &SemanticOptions) -> usize {
        let stats = self.index.memory_stats();
        // Arena bytes handed out; the rest of each 8 MiB arena is mapped but never touched.
        let arenas = stats.graph_allocated.saturating_sub(stats.graph_reserved)
            + stats.vectors_allocated.saturating_sub(stats.vectors_reserved);
        let index = if self.threads == 0 {
            INDEX_BASE_BYTES
        } else {
            let stripes = (self.threads * 2 * opts.connectivity * 4).max(MIN_STRIPES).next_power_of_two();
            INDEX_BASE_BYTES + stripes * STRIPE_BYTES + self.threads * CONTEXT_BYTES
        };
        index + self.index.capacity() * SLOT_BYTES + arenas + self.metadata_bytes
    }

    /// (id, cosine similarity), most similar first; `None` when usearch fails.
    fn search(&self, embedding: &[f32], k: usize) -> Option<Vec<(u64, f32)>> {
        if self.index.size() == 0 || k == 0 {
            return Some(Vec::new());
        }
        let matches = self.index.search(embedding, k).ok()?;
        Some(matches.keys.into_iter().zip(matches.distances.into_iter().map(|d| 1.0 - d)).collect())
    }

    fn remove(&mut self, id: u64) -> bool {
        let Some(entry) = self.entries.remove(&id) else {
            return false;
        };
        self.metadata_bytes -= entry_bytes(&entry);
        self.index.remove(id).is_ok()
    }

    fn expire(&mut self, now_ms: u64) -> usize {
        let expired: Vec<u64> = self.entries.values().filter(|e| e.expires_at_ms <= now_ms).map(|e| e.id).collect();
        expired.iter().filter(|id| self.remove(**id)).count()
    }

    fn save(&self, folder: &Path, tenant: &str, dim: usize) -> Result<()> {
        fs::create_dir(folder).map_err(|e| snapshot_error(folder, e))?;
        let index_path = folder.join("index.usearch");
        let mut index_bytes = vec![0u8; self.index.serialized_length()];
        self.index.save_to_buffer(&mut index_bytes).map_err(|e| snapshot_error(&index_path, e))?;
        write_durably(&index_path, &index_bytes)?;
        let entries_path = folder.join("entries.json");
        let entries: Vec<&Entry> = self.entries.values().collect();
        let entries_bytes = serde_json::to_vec(&entries).map_err(|e| snapshot_error(&entries_path, e))?;
        write_durably(&entries_path, &entries_bytes)?;
        let manifest = Manifest {
            format: FORMAT,
            tenant: tenant.to_owned(),
            dim,
            index: FileDigest::of(&index_bytes),
            entries: FileDigest::of(&entries_bytes),
        };
        let manifest_path = folder.join("manifest.json");
        let manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| snapshot_error(&manifest_path, e))?;
        write_durably(&manifest_path, &manifest_bytes)?;
        sync_dir(folder)
    }

    fn load(folder: &Path, opts: &SemanticOptions) -> Result<(String, Self)> {
        let manifest_path = folder.join("manifest.json");
        let manifest: Manifest = read_json(&manifest_path)?;
        manifest.check(folder, opts.dim)?;
        if manifest.format == LEGACY_FORMAT {
            return Ok((manifest.tenant, Self::new(opts, 0)?));
        }
        let index_path = folder.join("index.usearch");
        let index_bytes = read_checked(&index_path, &manifest.index)?;
        let entries_path = folder.join("entries.json");
        let entries_bytes = read_checked(&entries_path, &manifest.entries)?;
        let entries: Vec<Entry> =
            serde_json::from_slice(&entries_bytes).map_err(|e| snapshot_error(&entries_path, e))?;
        let index = Index::new(&index_options(opts)).map_err(|e| snapshot_error(&index_path, e))?;
        index.load_from_buffer(&index_bytes).map_err(|e| snapshot_error(&index_path, e))?;
        index.change_expansion_add(opts.expansion_add);
        index.change_expansion_search(opts.expansion_search);
        index
            .reserve_capacity_and_threads(index.size().max(MIN_RESERVE), MIN_THREADS)
            .map_err(|e| snapshot_error(&index_path, e))?;
        let loaded = Self::assemble(index, entries).map_err(|message| snapshot_error(&index_path, message))?;
        Ok((manifest.tenant, loaded))
    }

    /// Checks that the index and the entries describe the same ids. Ids restart after the
    /// newest entry kept: an id removed before the snapshot may be reused, never a live one.
    fn assemble(index: Index, entries: Vec<Entry>) -> std::result::Result<Self, String> {
        if index.size() != entries.len() {
            return Err(format!("index holds {} vectors for {} entries", index.size(), entries.len()));
        }
        if let Some(entry) = entries.iter().find(|e| !index.contains(e.id)) {
            return Err(format!("entry {} has no vector in the index", entry.id));
        }
        let entries: BTreeMap<u64, Entry> = entries.into_iter().map(|e| (e.id, e)).collect();
        let next_id = entries.keys().next_back().map_or(1, |id| id + 1);
        Ok(Self::with_entries(index, entries, next_id, MIN_THREADS, 0))
    }
}

fn index_options(opts: &SemanticOptions) -> IndexOptions {
    IndexOptions {
        dimensions: opts.dim,
        metric: MetricKind::Cos,
        quantization: SCALAR,
        connectivity: opts.connectivity,
        expansion_add: opts.expansion_add,
        expansion_search: opts.expansion_search,
        multi: false,
    }
}

/// usearch runs each search in one of a fixed set of thread contexts and fails (it does not
/// wait) when all are taken, so the set is sized above the cores for callers that block.
fn search_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(4, |n| n.get());
    (cores * 4).clamp(8, 64)
}

fn index_error(err: impl Display) -> CoreError {
    CoreError::inference("semantic_cache", err)
}

// ---------------------------------------------------------------------------------------------
// Snapshot files

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: u32,
    tenant: String,
    dim: usize,
    index: FileDigest,
    entries: FileDigest,
}

impl Manifest {
    fn check(&self, folder: &Path, dim: usize) -> Result<()> {
        let path = folder.join("manifest.json");
        if self.format != FORMAT && self.format != LEGACY_FORMAT {
            return Err(snapshot_error(&path, format!("unknown format {}", self.format)));
        }
        if self.dim != dim {
            return Err(snapshot_error(&path, format!("written with {} dimensions, expected {dim}", self.dim)));
        }
        if folder.file_name().and_then(|n| n.to_str()) != Some(folder_name(&self.tenant).as_str()) {
            return Err(snapshot_error(&path, "tenant does not match its folder name"));
        }
        Ok(())
    }
}

/// Catches truncated or altered files that would otherwise load as a silently wrong index.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDigest {
    bytes: u64,
    fnv1a64: String,
}

impl FileDigest {
    fn of(bytes: &[u8]) -> Self {
        Self { bytes: bytes.len() as u64, fnv1a64: format!("{:016x}", fnv1a64(bytes)) }
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| snapshot_error(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| snapshot_error(path, e))
}

fn read_checked(path: &Path, digest: &FileDigest) -> Result<Vec<u8>> {
    let bytes = fs::read(path).map_err(|e| snapshot_error(path, e))?;
    let actual = FileDigest::of(&bytes);
    if actual.bytes != digest.bytes || actual.fnv1a64 != digest.fnv1a64 {
        return Err(snapshot_error(path, "corrupt: size or checksum differs from manifest.json"));
    }
    Ok(bytes)
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| snapshot_error(path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| snapshot_error(path, e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| snapshot_error(dir, e))
}

fn remove_stale_snapshots(dir: &Path, keep: &str) -> Result<()> {
    for item in fs::read_dir(dir).map_err(|e| snapshot_error(dir, e))? {
        let path = item.map_err(|e| snapshot_error(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let stale = (name.starts_with("snap-") && name != keep) || name.starts_with(".staging-");
        if stale && path.is_dir() {
            fs::remove_dir_all(&path).map_err(|e| snapshot_error(&path, e))?;
        }
    }
    Ok(())
}

/// Tenant names are arbitrary text; hex keeps them safe as folder names. Long names keep a
/// readable prefix and a hash so the folder name stays under file-system limits.
fn folder_name(tenant: &str) -> String {
    const MAX_PREFIX: usize = 96;
    let bytes = tenant.as_bytes();
    let hex: String = bytes.iter().take(MAX_PREFIX).map(|b| format!("{b:02x}")).collect();
    if bytes.len() <= MAX_PREFIX {
        hex
    } else {
        format!("{hex}-{:016x}", fnv1a64(bytes))
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

fn snapshot_error(path: &Path, err: impl Display) -> CoreError {
    CoreError::Snapshot { path: PathBuf::from(path), message: err.to_string() }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const DIM: usize = 32;
    const HOUR: Duration = Duration::from_secs(3600);

    fn cache(max_entries: usize) -> SemanticCache {
        let opts = SemanticOptions { dim: DIM, max_entries_per_tenant: max_entries, ..SemanticOptions::default() };
        SemanticCache::new(opts)
    }

    /// A deterministic unit vector per seed.
    fn unit(seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let v: Vec<f32> = (0..DIM)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }

    fn answer(text: &str) -> CachedAnswer {
        CachedAnswer { tier: 2, provider: "p".into(), model: "m".into(), payload: text.into() }
    }

    #[test]
    fn insert_then_lookup_same_vector() {
        let cache = cache(100);
        let id = cache.insert("t", &unit(1), "reset password", answer("a1"), HOUR, 0).unwrap();
        let hit = cache.lookup("t", &unit(1), "reset password", 0.95, 10).unwrap();
        assert_eq!(hit.id, id);
        assert_eq!(hit.answer, answer("a1"));
        assert!(hit.similarity > 0.99);
        assert_eq!(hit.cached_query, "reset password");
    }

    #[test]
    fn threshold_and_tenant_are_respected() {
        let cache = cache(100);
        cache.insert("a", &unit(1), "q", answer("a"), HOUR, 0).unwrap();
        assert!(cache.lookup("a", &unit(2), "q", 0.9, 0).is_none());
        assert!(cache.lookup("b", &unit(1), "q", 0.9, 0).is_none());
        assert!(cache.search_ids("b", &unit(1), 5).is_empty());
    }

    #[test]
    fn guard_refusal_falls_through_to_next_candidate() {
        let cache = cache(100);
        let v = unit(7);
        cache.insert("t", &v, "how do I enable sync", answer("enable"), HOUR, 0).unwrap();
        assert!(cache.lookup("t", &v, "how do I disable sync", 0.9, 0).is_none());
        cache.insert("t", &v, "how do I disable sync", answer("disable"), HOUR, 0).unwrap();
        let hit = cache.lookup("t", &v, "how can I disable sync", 0.9, 0).unwrap();
        assert_eq!(hit.answer, answer("disable"));
    }

    #[test]
    fn embedding_is_validated() {
        let cache = cache(100);
        let err = cache.insert("t", &[0.5; 3], "q", answer("a"), HOUR, 0).unwrap_err();
        assert!(matches!(err, CoreError::InvalidRequest { ref field, .. } if field == "embedding"));
        let mut bad = unit(1);
        bad[0] = f32::NAN;
        assert!(cache.insert("t", &bad, "q", answer("a"), HOUR, 0).is_err());
        assert!(cache.lookup("t", &[0.5; 3], "q", 0.5, 0).is_none());
    }

    #[test]
    fn expired_entries_are_skipped_then_swept() {
        let cache = cache(100);
        cache.insert("t", &unit(1), "q", answer("a"), Duration::from_millis(100), 1_000).unwrap();
        assert!(cache.lookup("t", &unit(1), "q", 0.9, 1_099).is_some());
        assert!(cache.lookup("t", &unit(1), "q", 0.9, 1_100).is_none());
        assert_eq!(cache.expire(1_050), 0);
        assert_eq!(cache.expire(1_100), 1);
        assert_eq!(cache.len("t"), 0);
        assert!(cache.is_empty());
    }

    #[test]
    fn oldest_entry_is_evicted_when_full() {
        let cache = cache(3);
        let ids: Vec<u64> =
            (0..5).map(|i| cache.insert("t", &unit(i), &format!("q{i}"), answer("a"), HOUR, 0).unwrap()).collect();
        assert_eq!(cache.len("t"), 3);
        assert!(cache.lookup("t", &unit(0), "q0", 0.99, 0).is_none());
        assert_eq!(cache.lookup("t", &unit(4), "q4", 0.99, 0).unwrap().id, ids[4]);
    }

    #[test]
    fn remove_deletes_one_entry() {
        let cache = cache(100);
        let id = cache.insert("t", &unit(1), "q", answer("a"), HOUR, 0).unwrap();
        assert!(!cache.remove("other", id));
        assert!(cache.remove("t", id));
        assert!(!cache.remove("t", id));
        assert!(cache.lookup("t", &unit(1), "q", 0.5, 0).is_none());
    }

    #[test]
    fn capacity_grows_past_first_reservation() {
        let cache = cache(1000);
        for i in 0..300 {
            cache.insert("t", &unit(i), &format!("q{i}"), answer("a"), HOUR, 0).unwrap();
        }
        assert_eq!(cache.len("t"), 300);
        assert!(cache.memory_bytes() > 300 * DIM * 2);
        let found = cache.search_ids("t", &unit(123), 1);
        assert_eq!(found.first().map(|(id, _)| *id), Some(124));
    }

    #[test]
    fn snapshot_restore_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(100);
        for i in 0..20 {
            cache.insert("acme/prod", &unit(i), &format!("q{i}"), answer(&format!("a{i}")), HOUR, 0).unwrap();
        }
        cache.insert("short", &unit(99), "q", answer("x"), Duration::from_millis(10), 0).unwrap();
        cache.snapshot(dir.path(), 0).unwrap();
        cache.snapshot(dir.path(), 0).unwrap();
        let snapshots = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(snapshots, 2, "CURRENT and one snapshot folder");

        let restored = SemanticCache::restore(dir.path(), cache.options().clone(), 100).unwrap();
        assert_eq!(restored.len("short"), 0);
        for i in 0..20 {
            let query = format!("q{i}");
            assert_eq!(
                restored.lookup("acme/prod", &unit(i), &query, 0.9, 100),
                cache.lookup("acme/prod", &unit(i), &query, 0.9, 100)
            );
        }
        let id = restored.insert("acme/prod", &unit(500), "new", answer("n"), HOUR, 100).unwrap();
        assert_eq!(id, 21);
    }

    #[test]
    fn restore_reports_corruption_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(100);
        cache.insert("acme", &unit(1), "q", answer("a"), HOUR, 0).unwrap();
        cache.snapshot(dir.path(), 0).unwrap();
        let name = fs::read_to_string(dir.path().join("CURRENT")).unwrap();
        let index_path = dir.path().join(name.trim()).join(folder_name("acme")).join("index.usearch");
        let mut bytes = fs::read(&index_path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&index_path, &bytes).unwrap();
        match SemanticCache::restore(dir.path(), cache.options().clone(), 0) {
            Err(CoreError::Snapshot { path, message }) => {
                assert_eq!(path, index_path);
                assert!(message.contains("corrupt"), "{message}");
            }
            other => panic!("expected a snapshot error, got {:?}", other.err()),
        }
    }

    #[test]
    fn restore_of_a_fresh_folder_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let restored = SemanticCache::restore(dir.path(), SemanticOptions::default(), 0).unwrap();
        assert!(restored.is_empty());
        fs::write(dir.path().join("CURRENT"), "snap-gone").unwrap();
        let dangling = SemanticCache::restore(dir.path(), SemanticOptions::default(), 0);
        assert!(matches!(dangling, Err(CoreError::Snapshot { path, .. }) if path.ends_with("snap-gone")));
    }

    #[test]
    fn restore_rejects_other_dimensions() {
        let dir = tempfile::tempdir().unwrap();
        let cache = cache(100);
        cache.insert("acme", &unit(1), "q", answer("a"), HOUR, 0).unwrap();
        cache.snapshot(dir.path(), 0).unwrap();
        let opts = SemanticOptions { dim: DIM * 2, ..cache.options().clone() };
        match SemanticCache::restore(dir.path(), opts, 0) {
            Err(CoreError::Snapshot { path, message }) => {
                assert!(path.ends_with("manifest.json"));
                assert!(message.contains("dimensions"), "{message}");
            }
            other => panic!("expected a snapshot error, got {:?}", other.err()),
        }
    }

    #[test]
    fn options_are_validated() {
        let opts = SemanticOptions { dim: 0, ..SemanticOptions::default() };
        let err = SemanticCache::new(opts.clone()).insert("t", &[], "q", answer("a"), HOUR, 0).unwrap_err();
        assert!(matches!(err, CoreError::InvalidConfig { .. }), "{err:?}");
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(SemanticCache::restore(dir.path(), opts, 0), Err(CoreError::InvalidConfig { .. })));
    }

    #[test]
    fn folder_names_are_safe() {
        assert_eq!(folder_name("a/b"), "612f62");
        let long = "x".repeat(500);
        assert!(folder_name(&long).len() < 255);
        assert_ne!(folder_name(&long), folder_name(&"x".repeat(501)));
    }

    #[test]
    fn concurrent_lookups_and_inserts() {
        let cache = Arc::new(cache(10_000));
        for i in 0..200 {
            cache.insert("t", &unit(i), &format!("q{i}"), answer("a"), HOUR, 0).unwrap();
        }
        let handles: Vec<_> = (0..8)
            .map(|worker| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    let mut hits = 0;
                    for i in 0..200u64 {
                        if worker == 0 {
                            cache.insert("t", &unit(1000 + i), "new", answer("b"), HOUR, 0).unwrap();
                        }
                        hits += usize::from(cache.lookup("t", &unit(i), &format!("q{i}"), 0.99, 0).is_some());
                    }
                    hits
                })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), 200);
        }
    }

    /// The running total `memory_bytes` reads equals a fresh estimate of every tenant held,
    /// through inserts, removals, sweeps, evictions and context growth.
    #[test]
    fn charged_bytes_match_a_recount() {
        let opts =
            SemanticOptions { dim: DIM, max_entries_per_tenant: 40, max_tenants: 6, ..SemanticOptions::default() };
        let cache = Arc::new(SemanticCache::new(opts));
        let recount = |cache: &SemanticCache| -> usize {
            let indexes: Vec<_> = cache.tenants.read().values().cloned().collect();
            indexes.iter().map(|index| index.read().resident_bytes(cache.options())).sum()
        };
        for i in 0..400u64 {
            let tenant = format!("t{}", i % 9);
            let ttl = Duration::from_millis(if i % 3 == 0 { 50 } else { 10_000 });
            let id =
                cache.insert(&tenant, &unit(i), &format!("q{i}"), answer(&"p".repeat(i as usize)), ttl, i).unwrap();
            if i % 7 == 0 {
                cache.remove(&tenant, id);
            }
            if i % 50 == 0 {
                cache.expire(i);
            }
            assert_eq!(cache.memory_bytes(), recount(&cache), "after step {i}");
        }
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| (0..50).for_each(|i| drop(cache.lookup("t1", &unit(i), "q", 0.5, 400))));
            }
        });
        assert_eq!(cache.memory_bytes(), recount(&cache));
        assert!(cache.stats().evicted_tenants > 0);
        cache.expire(u64::MAX);
        assert_eq!((cache.memory_bytes(), cache.stats().tenants), (0, 0));
    }

    /// Lookups of one tenant from more threads than it has search contexts all succeed: the
    /// index grows its contexts rather than fail (a failure is a miss).
    #[test]
    fn search_contexts_start_small_and_grow_on_demand() {
        let cache = cache(100);
        cache.insert("t", &unit(1), "q", answer("a"), HOUR, 0).unwrap();
        let threads = |cache: &SemanticCache| cache.tenant("t").map(|index| index.read().threads);
        assert_eq!(threads(&cache), Some(MIN_THREADS));
        let hits: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..16)
                .map(|_| {
                    scope.spawn(|| (0..200).filter(|_| cache.lookup("t", &unit(1), "q", 0.99, 0).is_some()).count())
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).sum()
        });
        assert_eq!(hits, 16 * 200);
        assert!(threads(&cache).is_some_and(|n| (MIN_THREADS..=search_threads()).contains(&n)));
    }
}
