//! Classifier head on the sentence embedding: calibrated tier probabilities and a domain.

use std::path::Path;

use ort::value::TensorRef;
use serde::Deserialize;

use crate::error::{CoreError, Result};
use crate::onnx::SessionPool;

/// `head.json`, written by `llm-router train` beside `head.onnx`.
#[derive(Debug, Clone, Deserialize)]
pub struct HeadMetadata {
    pub format: u32,
    pub dim: usize,
    pub domains: Vec<String>,
    pub temperature_tier: f32,
    pub temperature_domain: f32,
}

/// What the head says about one embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// P(tier 1), P(tier 2), P(tier 3), temperature-calibrated.
    pub scores: [f32; 3],
    /// Calibrated probability of the most likely tier.
    pub confidence: f32,
    pub domain: String,
    pub domain_confidence: f32,
}

pub struct Classifier {
    pool: SessionPool,
    meta: HeadMetadata,
}

impl Classifier {
    /// Load from a `classifier/` folder holding `head.onnx` and `head.json`.
    pub fn load(dir: &Path, sessions: usize) -> Result<Self> {
        let meta_path = dir.join("head.json");
        let text = std::fs::read_to_string(&meta_path).map_err(|e| CoreError::model(&meta_path, e))?;
        let meta: HeadMetadata = serde_json::from_str(&text).map_err(|e| CoreError::model(&meta_path, e))?;
        if meta.format != 1 || meta.domains.is_empty() {
            return Err(CoreError::model(&meta_path, "unsupported format or no domains"));
        }
        let pool = SessionPool::load(&dir.join("head.onnx"), sessions, 1)?;
        Ok(Self { pool, meta })
    }

    pub fn metadata(&self) -> &HeadMetadata {
        &self.meta
    }

    pub fn classify(&self, embedding: &[f32]) -> Result<Classification> {
        if embedding.len() != self.meta.dim {
            return Err(CoreError::inference(
                "classify",
                format!("embedding has {} dims, head expects {}", embedding.len(), self.meta.dim),
            ));
        }
        let input = TensorRef::from_array_view(([1_usize, self.meta.dim], embedding))
            .map_err(|e| CoreError::inference("classify", e))?;
        let mut session = self.pool.acquire();
        let outputs =
            session.run(ort::inputs!["embedding" => input]).map_err(|e| CoreError::inference("classify", e))?;
        let (_, tiers) =
            outputs["tier_probs"].try_extract_tensor::<f32>().map_err(|e| CoreError::inference("classify", e))?;
        let (_, domains) =
            outputs["domain_probs"].try_extract_tensor::<f32>().map_err(|e| CoreError::inference("classify", e))?;
        self.interpret(tiers, domains)
    }

    fn interpret(&self, tiers: &[f32], domains: &[f32]) -> Result<Classification> {
        let scores: [f32; 3] = tiers
            .try_into()
            .map_err(|_| CoreError::inference("classify", format!("{} tier scores, expected 3", tiers.len())))?;
        if domains.len() != self.meta.domains.len() {
            return Err(CoreError::inference(
                "classify",
                format!("{} domain scores, expected {}", domains.len(), self.meta.domains.len()),
            ));
        }
        let (_, confidence) = argmax(&scores);
        let (domain_index, domain_confidence) = argmax(domains);
        Ok(Classification { scores, confidence, domain: self.meta.domains[domain_index].clone(), domain_confidence })
    }
}

fn argmax(values: &[f32]) -> (usize, f32) {
    values
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, v)| if v > best.1 { (i, v) } else { best })
}
