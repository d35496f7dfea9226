//! The real embedder: meaning, batching, and bounded input, on the model `make models` built.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use router_core::embed::{cpu_has_vnni, Embedder, EmbedderOptions, Variant};

fn embedder(variant: Variant) -> Embedder {
    let opts = EmbedderOptions { variant, ..EmbedderOptions::default() };
    Embedder::load(&support::model_dir().join("embedder"), &opts).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn vectors_are_384_d_and_unit_length() {
    let e = embedder(Variant::Default);
    let v = e.embed("How do I reset my password?", 128).unwrap().vector;
    assert_eq!(v.len(), 384);
    let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "norm {norm}");
}

#[test]
fn meaning_decides_similarity_for_every_variant() {
    // int8_vnni only where it runs: its arithmetic saturates without VNNI, and loading refuses it.
    let vnni = cpu_has_vnni().then_some(Variant::Int8Vnni);
    for variant in [Variant::Fp32, Variant::Int8].into_iter().chain(vnni) {
        let e = embedder(variant);
        let forgot = e.embed("I forgot my password", 128).unwrap().vector;
        let reset = e.embed("How do I reset my password?", 128).unwrap().vector;
        let physics = e.embed("Explain quantum entanglement", 128).unwrap().vector;
        assert!(cosine(&forgot, &reset) > cosine(&forgot, &physics) + 0.3, "{variant:?}");
    }
}

#[test]
fn default_is_int8_vnni_exactly_on_vnni_cpus() {
    // The manifest `make models` builds on a VNNI host names int8_vnni for it; elsewhere int8.
    let e = embedder(Variant::Default);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(support::model_dir().join("embedder/manifest.json")).unwrap())
            .unwrap();
    let key = if cpu_has_vnni() { "default_vnni" } else { "default" };
    assert_eq!(Some(e.variant()), manifest[key].as_str());
}

#[test]
fn int8_vnni_is_refused_without_vnni() {
    let opts = EmbedderOptions { variant: Variant::Int8Vnni, ..EmbedderOptions::default() };
    let loaded = Embedder::load(&support::model_dir().join("embedder"), &opts);
    if cpu_has_vnni() {
        assert_eq!(loaded.unwrap().variant(), "int8_vnni");
    } else {
        let err = loaded.err().unwrap().to_string();
        assert!(err.contains("VNNI"), "{err}");
    }
}

#[test]
fn batch_with_padding_equals_one_by_one() {
    let e = embedder(Variant::Fp32);
    let texts = ["short", "a somewhat longer sentence about invoices and refunds", "¿Dónde está mi tarjeta?"];
    let batch = e.embed_batch(&texts, 128, 8).unwrap();
    for (text, row) in texts.iter().zip(&batch) {
        let single = e.embed(text, 128).unwrap().vector;
        assert!(cosine(&single, row) > 0.99999, "{text}");
    }
}

#[test]
fn long_prompts_are_cut_to_max_tokens_keeping_head_and_tail() {
    let e = embedder(Variant::Default);
    let text = format!(
        "Summarise this contract. {} What is the termination notice period?",
        "The party agrees. ".repeat(5_000)
    );
    let out = e.embed(&text, 64).unwrap();
    assert_eq!(out.embedded_tokens, 64);
    assert!(out.total_tokens > 64);
    let (ids, _) = e.encode(&text, 64).unwrap();
    let (tail_ids, _) = e.encode("What is the termination notice period?", 64).unwrap();
    // The question at the end survives the cut: its tokens (without [CLS]) end the sequence.
    assert!(ids.ends_with(&tail_ids[1..]));
}
