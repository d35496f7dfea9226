//! Semantic and exact answer caches, namespaced per tenant.

use serde::{Deserialize, Serialize};

pub mod exact;
pub mod guard;
pub mod semantic;
pub mod verify;

/// What both caches store: the decision that produced an answer and the answer itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub tier: u8,
    pub provider: String,
    pub model: String,
    /// The service's serialised answer; the core never looks inside it.
    pub payload: String,
}

/// The digest a cache entry is filed under for everything but the question that changes its
/// answer (earlier turns, system prompt, response schema, sampling parameters): two requests
/// share answers only when their contexts are byte-identical.
///
/// FNV-1a 64: stable across processes and releases, as it must be because semantic snapshots
/// outlive the process, and cheap on long conversations. At 10^5 entries per tenant an
/// accidental collision has odds around 10^-9. It is not a cryptographic hash: a caller who
/// can read another caller's context could craft a colliding one within the same tenant,
/// which would let them plant an answer; tenants never share entries.
pub fn context_digest(context: &str) -> u64 {
    context
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

impl CachedAnswer {
    /// Heap bytes held by the answer, the unit both caches budget in.
    pub fn heap_bytes(&self) -> usize {
        self.provider.len() + self.model.len() + self.payload.len()
    }
}
