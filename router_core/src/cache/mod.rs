//! Semantic and exact answer caches, namespaced per tenant.

use serde::{Deserialize, Serialize};

pub mod exact;
pub mod guard;
pub mod semantic;

/// What both caches store: the decision that produced an answer and the answer itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub tier: u8,
    pub provider: String,
    pub model: String,
    /// The service's serialised answer; the core never looks inside it.
    pub payload: String,
}

impl CachedAnswer {
    /// Heap bytes held by the answer, the unit both caches budget in.
    pub fn heap_bytes(&self) -> usize {
        self.provider.len() + self.model.len() + self.payload.len()
    }
}
