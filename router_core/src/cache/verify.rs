//! Semantic-hit verifier: a learned check that a cached question's answer fits the new one.
//!
//! The guard (`guard.rs`) refuses hits whose details visibly conflict (numbers, dates,
//! negation, listed opposites); it knows nothing of words outside its lists, so "set my alarm"
//! against "delete my alarm" or "teaspoons" against "tablespoons" pass it. Embeddings place
//! such near misses as close as real paraphrases. What tells them apart is how the two
//! questions differ once aligned: a near miss shares nearly every word and swaps one that
//! matters; a paraphrase rewords the whole request, or differs only in filler ("please",
//! "can you tell me"). The verifier scores those differences with a logistic regression over
//! a few dense features and a hashed bag of the words found on one side only, trained by
//! `scripts/train_pair_verifier.py` on pairs of intents the test pairs never use
//! (`data/cache_pairs`). Scoring two short questions takes a few microseconds.

use std::sync::OnceLock;

use ahash::AHashSet;
use serde::Deserialize;

/// Buckets of the hashed bag of one-sided words. A power of two, part of the weights' format.
pub const BUCKETS: usize = 2048;

/// Dense feature names, in order; the weights file lists them too, and loading checks they match.
pub const DENSE: &[&str] = &[
    "similarity",
    "jaccard_words",
    "jaccard_content",
    "only_query",
    "only_cached",
    "swapped",
    "one_sided",
    "same_content",
    "length_ratio",
    "swapped_overlap",
    "swapped_similarity",
];

const WEIGHTS_JSON: &str = include_str!("pair_verifier.json");

/// The features of one (query, cached question) pair: dense values and hashed word buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct PairFeatures {
    pub dense: Vec<f32>,
    pub buckets: Vec<usize>,
}

#[derive(Debug, Deserialize)]
struct Weights {
    format: u32,
    dense_names: Vec<String>,
    dense: Vec<f32>,
    hashed: Vec<f32>,
    intercept: f32,
}

/// The shipped verifier model: weights trained offline, compiled into the crate so that every
/// router (and every snapshot restored on it) judges hits the same way.
pub struct Verifier {
    weights: Weights,
}

impl Verifier {
    /// The compiled-in model. Its file is checked by a unit test, so a malformed one never ships.
    pub fn shipped() -> &'static Verifier {
        static SHIPPED: OnceLock<Verifier> = OnceLock::new();
        SHIPPED.get_or_init(|| Verifier::parse(WEIGHTS_JSON).unwrap_or_else(|_| Verifier::neutral()))
    }

    fn parse(json: &str) -> Result<Verifier, String> {
        let weights: Weights = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let names_match = weights.dense_names.iter().map(String::as_str).eq(DENSE.iter().copied());
        if weights.format != 1 || !names_match || weights.dense.len() != DENSE.len() || weights.hashed.len() != BUCKETS
        {
            return Err("pair verifier weights do not match this build's features".to_owned());
        }
        Ok(Verifier { weights })
    }

    /// A model that accepts every pair: used only if the compiled-in file were unreadable,
    /// which the unit tests rule out; the threshold then leaves the guard as the only check.
    fn neutral() -> Verifier {
        let weights = Weights {
            format: 1,
            dense_names: DENSE.iter().map(|s| (*s).to_owned()).collect(),
            dense: vec![0.0; DENSE.len()],
            hashed: vec![0.0; BUCKETS],
            intercept: 10.0,
        };
        Verifier { weights }
    }

    /// Probability that the answer cached for `cached` fits `query`, given their cosine similarity.
    pub fn score(&self, query: &str, cached: &str, similarity: f32) -> f32 {
        // The same words in the same order leave nothing to judge; the training pairs never
        // hold such a pair, so the model's score for one would be an extrapolation.
        if words(query) == words(cached) {
            return 1.0;
        }
        let features = features(query, cached, similarity);
        let dense: f32 = features.dense.iter().zip(&self.weights.dense).map(|(x, w)| x * w).sum();
        let hashed: f32 = features.buckets.iter().map(|&b| self.weights.hashed[b]).sum();
        sigmoid(self.weights.intercept + dense + hashed)
    }
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// The verifier's inputs for a pair, public so that the trainer computes exactly these.
pub fn features(query: &str, cached: &str, similarity: f32) -> PairFeatures {
    let q = words(query);
    let c = words(cached);
    let q_content: AHashSet<&str> = q.iter().map(String::as_str).filter(|w| !is_filler(w)).collect();
    let c_content: AHashSet<&str> = c.iter().map(String::as_str).filter(|w| !is_filler(w)).collect();
    let q_all: AHashSet<&str> = q.iter().map(String::as_str).collect();
    let c_all: AHashSet<&str> = c.iter().map(String::as_str).collect();
    let only_q: Vec<&str> = q_content.difference(&c_content).copied().collect();
    let only_c: Vec<&str> = c_content.difference(&q_content).copied().collect();
    let swapped = !only_q.is_empty() && !only_c.is_empty();
    let overlap = jaccard(&q_content, &c_content);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let dense = vec![
        similarity,
        jaccard(&q_all, &c_all),
        overlap,
        capped(only_q.len()),
        capped(only_c.len()),
        flag(swapped),
        flag(only_q.is_empty() != only_c.is_empty()),
        flag(only_q.is_empty() && only_c.is_empty()),
        length_ratio(q.len(), c.len()),
        flag(swapped) * overlap,
        flag(swapped) * similarity,
    ];
    let mut buckets: Vec<usize> = only_q.iter().chain(&only_c).map(|w| bucket(w)).collect();
    buckets.sort_unstable();
    buckets.dedup();
    PairFeatures { dense, buckets }
}

/// Counts of differing words saturate: four and forty both mean "another question".
fn capped(n: usize) -> f32 {
    n.min(4) as f32 / 4.0
}

fn length_ratio(a: usize, b: usize) -> f32 {
    if a.max(b) == 0 {
        return 1.0;
    }
    a.min(b) as f32 / a.max(b) as f32
}

fn jaccard(a: &AHashSet<&str>, b: &AHashSet<&str>) -> f32 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f32 / union as f32
}

/// FNV-1a: stable across processes and releases, as the trained weights require.
fn bucket(word: &str) -> usize {
    let hash = word
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    (hash as usize) & (BUCKETS - 1)
}

/// Lower-cased words with possessives and plurals folded, so that "alarms" meets "alarm".
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '\u{2019}'))
        .map(|w| w.trim_matches(['\'', '\u{2019}']).to_lowercase().replace('\u{2019}', "'"))
        .filter(|w| !w.is_empty())
        .map(|w| fold(&w))
        .collect()
}

fn fold(word: &str) -> String {
    let word = word.strip_suffix("'s").unwrap_or(word);
    match word.strip_suffix('s') {
        Some(stem) if word.len() > 3 && !word.ends_with("ss") && !word.ends_with("us") && !word.ends_with("is") => {
            stem.to_owned()
        }
        _ => word.to_owned(),
    }
}

/// Words that carry the asking rather than what is asked: a question reworded with or without
/// them still wants the same answer. Negations are deliberately absent.
fn is_filler(word: &str) -> bool {
    static FILLER: OnceLock<AHashSet<&'static str>> = OnceLock::new();
    FILLER.get_or_init(|| FILLER_WORDS.iter().copied().collect()).contains(word)
}

const FILLER_WORDS: &[&str] = &[
    "a", "an", "the", "i", "i'm", "i've", "i'd", "i'll", "me", "my", "mine", "we", "us", "our", "you", "your", "it",
    "its", "this", "that", "these", "those", "there", "here", "is", "are", "am", "was", "were", "be", "been",
    "being", "do", "doe", "did", "does", "have", "ha", "has", "had", "can", "could", "would", "will", "shall",
    "should", "may", "might", "must", "to", "of", "in", "on", "at", "for", "with", "about", "by", "as", "from",
    "and", "or", "so", "if", "then", "than", "what", "how", "when", "where", "which", "who", "why",
    "please", "pls", "plz", "tell", "know", "let", "like", "want", "wanna", "need", "help", "just", "some", "any",
    "get", "give", "show", "find", "hey", "hi", "hello", "olly", "ok", "okay", "thanks", "thank", "again", "also",
    "really", "now", "right", "way", "possible", "able", "go", "going", "try", "trying",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_weights_parse_and_match_the_features() {
        assert!(Verifier::parse(WEIGHTS_JSON).is_ok());
    }

    #[test]
    fn malformed_weights_are_refused() {
        assert!(Verifier::parse("{}").is_err());
        let short = WEIGHTS_JSON.replacen("\"similarity\"", "\"other\"", 1);
        assert!(Verifier::parse(&short).is_err());
    }

    #[test]
    fn one_word_swapped_in_the_same_frame_is_told_apart_from_filler() {
        let swapped = features("set my alarm for eight am", "delete my alarm for eight am", 0.9);
        assert_eq!(swapped.dense[5], 1.0);
        assert_eq!(swapped.buckets.len(), 2);
        let filler = features("can you tell me my credit score", "what is my credit score", 0.9);
        assert_eq!(filler.dense[7], 1.0);
        assert!(filler.buckets.is_empty());
    }

    #[test]
    fn the_same_question_is_always_accepted() {
        assert_eq!(Verifier::shipped().score("What is the capital of France?", "what is the capital of france", 1.0), 1.0);
    }

    #[test]
    fn plurals_and_possessives_fold() {
        assert_eq!(words("Alarms' John's buses"), vec!["alarm", "john", "buse"]);
        assert_eq!(fold("status"), "status");
        assert_eq!(fold("class"), "class");
    }

    #[test]
    fn features_are_symmetric_in_their_word_bag() {
        let ab = features("turn off the lights", "turn up the lights", 0.8);
        let ba = features("turn up the lights", "turn off the lights", 0.8);
        assert_eq!(ab.buckets, ba.buckets);
    }

    #[test]
    fn shipped_model_refuses_a_swapped_action_and_keeps_a_reworded_request() {
        let v = Verifier::shipped();
        let swapped = v.score("delete my alarm for eight am", "set my alarm for eight am", 0.86);
        let reworded = v.score("what is my credit score", "can you tell me my credit score", 0.86);
        assert!(reworded > swapped, "reworded {reworded} swapped {swapped}");
    }
}
