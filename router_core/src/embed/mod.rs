//! Sentence embedder: all-MiniLM-L6-v2 (384-d, mean-pooled, L2-normalised) on ONNX Runtime, tokenised in Rust.

mod truncate;

use std::path::{Path, PathBuf};

use ort::value::TensorRef;
use serde::Deserialize;
use tokenizers::Tokenizer;

use crate::error::{CoreError, Result};
use crate::onnx::SessionPool;

pub use truncate::{head_tail, pre_truncate_chars};

/// Which exported graph to run; `Default` follows the manifest, which picks a quantised graph
/// only when it kept quality against fp32 at export time.
///
/// There are two int8 graphs because the fast one needs VNNI: `Int8` has unsigned weights and
/// runs correctly on any x86 CPU (on AVX2 without VNNI, ORT's u8s8 kernel saturates 16-bit
/// intermediates, so signed weights lose quality there); `Int8Vnni` has signed weights (a few
/// sensitive layers kept fp32), about twice as fast where VNNI accumulates in exact int32.
/// `Default` resolves to the manifest's `default_vnni` on a CPU with VNNI, else `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Default,
    Fp32,
    Int8,
    Int8Vnni,
}

/// Whether the running CPU has VNNI (AVX512-VNNI or AVX-VNNI), which `Int8Vnni` needs.
pub fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni") || std::arch::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The manifest variant name to load. Pure, so the choice is testable on any CPU.
///
/// An explicit `Int8Vnni` on a CPU without VNNI is refused rather than run: its arithmetic
/// saturates there and the embeddings drift from fp32 with no error. Manifests from before
/// `default_vnni` existed have no such key, and `Default` then means `default` everywhere.
fn resolve_variant(
    requested: Variant,
    default: &str,
    default_vnni: Option<&str>,
    has_vnni: bool,
) -> std::result::Result<String, String> {
    match requested {
        Variant::Default => Ok(match default_vnni {
            Some(vnni) if has_vnni => vnni.to_string(),
            _ => default.to_string(),
        }),
        Variant::Fp32 => Ok("fp32".to_string()),
        Variant::Int8 => Ok("int8".to_string()),
        Variant::Int8Vnni if has_vnni => Ok("int8_vnni".to_string()),
        Variant::Int8Vnni => Err("variant int8_vnni needs a CPU with VNNI (avx512_vnni or avx_vnni): without it \
                                  its int8 arithmetic saturates and the embeddings lose quality; use int8 or default"
            .to_string()),
    }
}

#[derive(Debug, Clone)]
pub struct EmbedderOptions {
    pub variant: Variant,
    /// Concurrent callers served without waiting; one session each.
    pub sessions: usize,
    pub intra_threads: usize,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self { variant: Variant::Default, sessions: 1, intra_threads: 1 }
    }
}

/// The part of `manifest.json` (written by `scripts/build_embedder.py`) the runtime needs.
#[derive(Debug, Deserialize)]
struct Manifest {
    dim: usize,
    default: String,
    /// What `Default` means on a CPU with VNNI; absent in manifests built before int8_vnni.
    #[serde(default)]
    default_vnni: Option<String>,
    variants: std::collections::HashMap<String, ManifestVariant>,
}

#[derive(Debug, Deserialize)]
struct ManifestVariant {
    file: String,
}

/// An embedding and how much of the text it saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub vector: Vec<f32>,
    /// Tokens in the (possibly character-trimmed) text, special tokens included.
    pub total_tokens: usize,
    /// Tokens actually fed to the model (at most `max_tokens`).
    pub embedded_tokens: usize,
}

pub struct Embedder {
    tokenizer: Tokenizer,
    pool: SessionPool,
    dim: usize,
    variant: String,
    model_path: PathBuf,
}

impl Embedder {
    /// Load from an `embedder/` folder holding `manifest.json`, `tokenizer.json` and the ONNX graphs.
    pub fn load(dir: &Path, opts: &EmbedderOptions) -> Result<Self> {
        let manifest = read_manifest(dir)?;
        let variant =
            resolve_variant(opts.variant, &manifest.default, manifest.default_vnni.as_deref(), cpu_has_vnni())
                .map_err(|message| CoreError::model(dir.join("manifest.json"), message))?;
        let file = manifest
            .variants
            .get(&variant)
            .ok_or_else(|| CoreError::model(dir.join("manifest.json"), format!("no variant {variant}")))?;
        let model_path = dir.join(&file.file);
        let pool = SessionPool::load(&model_path, opts.sessions, opts.intra_threads)?;
        let tokenizer = load_tokenizer(&dir.join("tokenizer.json"))?;
        Ok(Self { tokenizer, pool, dim: manifest.dim, variant, model_path })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn variant(&self) -> &str {
        &self.variant
    }

    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// Token ids for `text`, keeping head and tail when it exceeds `max_tokens`, plus the
    /// token count of the whole text (extrapolated from the kept characters when a huge text was
    /// cut before tokenising; it prices the request, so it must not shrink with the cut).
    pub fn encode(&self, text: &str, max_tokens: usize) -> Result<(Vec<i64>, usize)> {
        let bounded = pre_truncate_chars(text, max_tokens);
        let encoding =
            self.tokenizer.encode(bounded.as_ref(), true).map_err(|e| CoreError::inference("tokenize", e))?;
        let ids: Vec<i64> = encoding.get_ids().iter().map(|&id| i64::from(id)).collect();
        let total = extrapolate_tokens(ids.len(), bounded.len(), text.len());
        Ok((head_tail(ids, max_tokens), total))
    }

    pub fn embed(&self, text: &str, max_tokens: usize) -> Result<Embedding> {
        let (ids, total_tokens) = self.encode(text, max_tokens)?;
        let embedded_tokens = ids.len();
        let vector = self.forward(&ids)?;
        Ok(Embedding { vector, total_tokens, embedded_tokens })
    }

    /// The bare model forward pass on token ids: the floor every decision pays.
    pub fn forward(&self, ids: &[i64]) -> Result<Vec<f32>> {
        let mut batch = self.forward_batch(&[ids.to_vec()])?;
        batch.pop().ok_or_else(|| CoreError::inference("embed", "empty output"))
    }

    /// Embed many texts in padded batches (training and evaluation; the request path embeds one).
    pub fn embed_batch(&self, texts: &[&str], max_tokens: usize, batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(batch_size.max(1)) {
            let ids = chunk
                .iter()
                .map(|text| self.encode(text, max_tokens).map(|(ids, _)| ids))
                .collect::<Result<Vec<_>>>()?;
            out.extend(self.forward_batch(&ids)?);
        }
        Ok(out)
    }

    fn forward_batch(&self, rows: &[Vec<i64>]) -> Result<Vec<Vec<f32>>> {
        let seq = rows.iter().map(Vec::len).max().unwrap_or(0);
        if seq == 0 {
            return Err(CoreError::inference("embed", "no tokens"));
        }
        let (ids, mask) = pad(rows, seq);
        let shape = [rows.len(), seq];
        let ids_tensor =
            TensorRef::from_array_view((shape, ids.as_slice())).map_err(|e| CoreError::inference("embed", e))?;
        let mask_tensor =
            TensorRef::from_array_view((shape, mask.as_slice())).map_err(|e| CoreError::inference("embed", e))?;
        let mut session = self.pool.acquire();
        let outputs = session
            .run(ort::inputs!["input_ids" => ids_tensor, "attention_mask" => mask_tensor])
            .map_err(|e| CoreError::inference("embed", e))?;
        let (_, flat) =
            outputs["sentence_embedding"].try_extract_tensor::<f32>().map_err(|e| CoreError::inference("embed", e))?;
        if flat.len() != rows.len() * self.dim {
            return Err(CoreError::inference(
                "embed",
                format!("output has {} values, expected {}", flat.len(), rows.len() * self.dim),
            ));
        }
        Ok(flat.chunks(self.dim).map(<[f32]>::to_vec).collect())
    }
}

fn extrapolate_tokens(tokens: usize, kept_bytes: usize, total_bytes: usize) -> usize {
    if kept_bytes >= total_bytes || kept_bytes == 0 {
        return tokens;
    }
    let scaled = tokens as f64 * total_bytes as f64 / kept_bytes as f64;
    scaled.ceil() as usize
}

fn pad(rows: &[Vec<i64>], seq: usize) -> (Vec<i64>, Vec<i64>) {
    let mut ids = vec![0_i64; rows.len() * seq];
    let mut mask = vec![0_i64; rows.len() * seq];
    for (row, tokens) in rows.iter().enumerate() {
        let start = row * seq;
        ids[start..start + tokens.len()].copy_from_slice(tokens);
        mask[start..start + tokens.len()].fill(1);
    }
    (ids, mask)
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(|e| CoreError::model(&path, e))?;
    serde_json::from_str(&text).map_err(|e| CoreError::model(&path, e))
}

/// Padding and truncation are switched off on purpose: the embedder pads per batch and keeps
/// head and tail itself, which the file's fixed 128-token settings would defeat.
fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| CoreError::model(path, e))?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(|e| CoreError::model(path, e))?;
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn default_follows_default_vnni_only_on_vnni_cpus() {
        let pick = |has_vnni| resolve_variant(Variant::Default, "int8", Some("int8_vnni"), has_vnni);
        assert_eq!(pick(true).as_deref(), Ok("int8_vnni"));
        assert_eq!(pick(false).as_deref(), Ok("int8"));
    }

    #[test]
    fn default_without_default_vnni_key_is_default_everywhere() {
        for has_vnni in [false, true] {
            assert_eq!(resolve_variant(Variant::Default, "int8", None, has_vnni).as_deref(), Ok("int8"));
            assert_eq!(resolve_variant(Variant::Default, "fp32", None, has_vnni).as_deref(), Ok("fp32"));
        }
    }

    #[test]
    fn default_vnni_that_fell_back_is_followed() {
        // The builder writes default_vnni = default when int8_vnni was unmeasured or not good enough.
        assert_eq!(resolve_variant(Variant::Default, "fp32", Some("fp32"), true).as_deref(), Ok("fp32"));
    }

    #[test]
    fn explicit_variants_ignore_the_manifest_defaults() {
        for has_vnni in [false, true] {
            assert_eq!(resolve_variant(Variant::Fp32, "int8", Some("int8_vnni"), has_vnni).as_deref(), Ok("fp32"));
            assert_eq!(resolve_variant(Variant::Int8, "fp32", Some("int8_vnni"), has_vnni).as_deref(), Ok("int8"));
        }
        assert_eq!(resolve_variant(Variant::Int8Vnni, "fp32", Some("fp32"), true).as_deref(), Ok("int8_vnni"));
    }

    #[test]
    fn int8_vnni_is_refused_without_vnni() {
        let err = resolve_variant(Variant::Int8Vnni, "int8", Some("int8_vnni"), false).unwrap_err();
        assert!(err.contains("VNNI") && err.contains("saturates"), "{err}");
    }
}
