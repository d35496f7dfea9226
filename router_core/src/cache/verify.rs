//! Semantic-hit verifier: a learned check that a cached question's answer fits the new one.
//!
//! The guard (`guard.rs`) refuses hits whose details visibly conflict (numbers, dates,
//! negation, listed opposites); it knows nothing of words outside its lists, so "set my alarm"
//! against "delete my alarm" or "teaspoons" against "tablespoons" pass it. Embeddings place
//! such near misses as close as real paraphrases. What tells them apart is how the two
//! questions differ once aligned: a near miss shares nearly every word and swaps one that
//! matters; a paraphrase rewords the whole request, or differs only in filler ("please",
//! "can you tell me"). The verifier scores those differences with gradient-boosted trees over
//! a few dense features (no word identities, so that what it learned carries over to topics
//! it never saw), trained by `scripts/train_pair_verifier.py` on pairs of intents the test
//! pairs never use (`data/cache_pairs`). Scoring two short questions takes a few microseconds.

use std::sync::OnceLock;

use ahash::AHashSet;
use serde::Deserialize;

/// Feature names, in order; the model file lists them too, and loading checks they match.
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

const MODEL_JSON: &str = include_str!("pair_verifier.json");
const FORMAT: u32 = 2;

/// One regression tree as scikit-learn's `HistGradientBoostingClassifier` grows it, in
/// parallel arrays indexed by node; node 0 is the root and a node whose `left` is 0 is a leaf.
/// A sample goes left when its feature is at most the node's threshold.
#[derive(Debug, Deserialize)]
struct Tree {
    feature: Vec<usize>,
    threshold: Vec<f64>,
    left: Vec<usize>,
    right: Vec<usize>,
    value: Vec<f64>,
}

impl Tree {
    /// Well formed: equal lengths, features in range, and every child after its parent, so
    /// that a walk from the root always ends on a leaf.
    fn check(&self) -> Result<(), String> {
        let n = self.value.len();
        let lengths = [self.feature.len(), self.threshold.len(), self.left.len(), self.right.len()];
        if n == 0 || lengths.iter().any(|&l| l != n) {
            return Err("a tree's node arrays differ in length".to_owned());
        }
        for node in 0..n {
            let leaf = self.left[node] == 0;
            let children_ok = leaf || [self.left[node], self.right[node]].iter().all(|&c| c > node && c < n);
            if !children_ok || (!leaf && self.feature[node] >= DENSE.len()) {
                return Err(format!("tree node {node} points outside its tree or its features"));
            }
        }
        Ok(())
    }

    fn leaf_value(&self, x: &[f32]) -> f64 {
        let mut node = 0;
        while self.left[node] != 0 {
            node = if f64::from(x[self.feature[node]]) <= self.threshold[node] {
                self.left[node]
            } else {
                self.right[node]
            };
        }
        self.value[node]
    }
}

#[derive(Debug, Deserialize)]
struct Model {
    format: u32,
    dense_names: Vec<String>,
    baseline: f64,
    trees: Vec<Tree>,
}

/// The shipped verifier model: trees trained offline, compiled into the crate so that every
/// router (and every snapshot restored on it) judges hits the same way.
pub struct Verifier {
    model: Model,
}

/// A question's words as the verifier compares them, computed once per question however many
/// cached candidates it is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(Vec<String>);

impl Words {
    pub fn of(text: &str) -> Self {
        Self(words(text))
    }
}

impl Verifier {
    /// The compiled-in model. Its file is checked by a unit test, so a malformed one never ships.
    pub fn shipped() -> &'static Verifier {
        static SHIPPED: OnceLock<Verifier> = OnceLock::new();
        SHIPPED.get_or_init(|| Verifier::parse(MODEL_JSON).unwrap_or_else(|_| Verifier::neutral()))
    }

    fn parse(json: &str) -> Result<Verifier, String> {
        let model: Model = serde_json::from_str(json).map_err(|e| e.to_string())?;
        let names_match = model.dense_names.iter().map(String::as_str).eq(DENSE.iter().copied());
        if model.format != FORMAT || !names_match {
            return Err("pair verifier model does not match this build's features".to_owned());
        }
        model.trees.iter().try_for_each(Tree::check)?;
        Ok(Verifier { model })
    }

    /// A model that accepts every pair: used only if the compiled-in file were unreadable,
    /// which the unit tests rule out; the threshold then leaves the guard as the only check.
    fn neutral() -> Verifier {
        let names = DENSE.iter().map(|s| (*s).to_owned()).collect();
        Verifier { model: Model { format: FORMAT, dense_names: names, baseline: 10.0, trees: Vec::new() } }
    }

    /// Probability that the answer cached for `cached` fits `query`, given their cosine similarity.
    pub fn score(&self, query: &Words, cached: &Words, similarity: f32) -> f32 {
        // The same words in the same order leave nothing to judge: the answer fits by definition.
        if query == cached {
            return 1.0;
        }
        let x = features(query, cached, similarity);
        let logit = self.model.baseline + self.model.trees.iter().map(|t| t.leaf_value(&x)).sum::<f64>();
        sigmoid(logit) as f32
    }

    /// `score` for two texts: for callers that compare one pair once.
    pub fn score_texts(&self, query: &str, cached: &str, similarity: f32) -> f32 {
        self.score(&Words::of(query), &Words::of(cached), similarity)
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The verifier's inputs for a pair, in `DENSE` order; public so that the trainer computes
/// exactly these.
pub fn features(query: &Words, cached: &Words, similarity: f32) -> Vec<f32> {
    let (q, c) = (&query.0, &cached.0);
    let q_content: AHashSet<&str> = q.iter().map(String::as_str).filter(|w| !is_filler(w)).collect();
    let c_content: AHashSet<&str> = c.iter().map(String::as_str).filter(|w| !is_filler(w)).collect();
    let q_all: AHashSet<&str> = q.iter().map(String::as_str).collect();
    let c_all: AHashSet<&str> = c.iter().map(String::as_str).collect();
    let only_q = q_content.difference(&c_content).count();
    let only_c = c_content.difference(&q_content).count();
    let swapped = only_q > 0 && only_c > 0;
    let overlap = jaccard(&q_content, &c_content);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    vec![
        similarity,
        jaccard(&q_all, &c_all),
        overlap,
        capped(only_q),
        capped(only_c),
        flag(swapped),
        flag((only_q == 0) != (only_c == 0)),
        flag(only_q == 0 && only_c == 0),
        length_ratio(q.len(), c.len()),
        flag(swapped) * overlap,
        flag(swapped) * similarity,
    ]
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
    "its", "this", "that", "these", "those", "there", "here", "is", "are", "am", "was", "were", "be", "been", "being",
    "do", "doe", "did", "does", "have", "ha", "has", "had", "can", "could", "would", "will", "shall", "should", "may",
    "might", "must", "to", "of", "in", "on", "at", "for", "with", "about", "by", "as", "from", "and", "or", "so", "if",
    "then", "than", "what", "how", "when", "where", "which", "who", "why", "please", "pls", "plz", "tell", "know",
    "let", "like", "want", "wanna", "need", "help", "just", "some", "any", "get", "give", "show", "find", "hey", "hi",
    "hello", "olly", "ok", "okay", "thanks", "thank", "again", "also", "really", "now", "right", "way", "possible",
    "able", "go", "going", "try", "trying",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]

    use super::*;

    /// One stump on `similarity` (feature 0) plus a second tree on `swapped` (feature 5).
    const TWO_TREES: &str = r#"{"format": 2, "dense_names": DENSE_NAMES, "baseline": -1.0, "trees": [
        {"feature": [0, 0, 0], "threshold": [0.5, 0, 0], "left": [1, 0, 0], "right": [2, 0, 0], "value": [0, -2.0, 3.0]},
        {"feature": [5, 0, 0], "threshold": [0.5, 0, 0], "left": [1, 0, 0], "right": [2, 0, 0], "value": [0, 0.5, -4.0]}
    ]}"#;

    fn two_trees() -> Verifier {
        let names = serde_json::to_string(DENSE).unwrap_or_default();
        Verifier::parse(&TWO_TREES.replace("DENSE_NAMES", &names)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn score(v: &Verifier, query: &str, cached: &str, similarity: f32) -> f32 {
        v.score(&Words::of(query), &Words::of(cached), similarity)
    }

    #[test]
    fn shipped_model_parses_and_matches_the_features() {
        assert!(Verifier::parse(MODEL_JSON).is_ok());
    }

    #[test]
    fn trees_sum_their_leaves_onto_the_baseline() {
        let v = two_trees();
        // At the threshold a sample goes left, as in scikit-learn (0.5 is exact in f32 and f64).
        let at = score(&v, "what is my credit score", "can you tell me my credit score", 0.5);
        assert!((at - sigmoid(-1.0 - 2.0 + 0.5) as f32).abs() < 1e-6);
        let above_swapped = score(&v, "turn off the lights", "turn up the lights", 0.9);
        assert!((above_swapped - sigmoid(-1.0 + 3.0 - 4.0) as f32).abs() < 1e-6);
    }

    #[test]
    fn malformed_models_are_refused() {
        let names = serde_json::to_string(DENSE).unwrap_or_default();
        let good = TWO_TREES.replace("DENSE_NAMES", &names);
        assert!(Verifier::parse("{}").is_err());
        assert!(Verifier::parse(&good.replacen("\"format\": 2", "\"format\": 1", 1)).is_err());
        assert!(Verifier::parse(&good.replacen("\"similarity\"", "\"other\"", 1)).is_err());
        // A child pointing back at its parent would loop; a feature past the list would panic.
        assert!(Verifier::parse(&good.replacen("\"right\": [2, 0, 0]", "\"right\": [0, 0, 0]", 1)).is_err());
        assert!(Verifier::parse(&good.replacen("\"feature\": [0, 0, 0]", "\"feature\": [11, 0, 0]", 1)).is_err());
        assert!(Verifier::parse(&good.replacen("\"value\": [0, -2.0, 3.0]", "\"value\": [0, -2.0]", 1)).is_err());
    }

    #[test]
    fn one_word_swapped_in_the_same_frame_is_told_apart_from_filler() {
        let swapped =
            features(&Words::of("set my alarm for eight am"), &Words::of("delete my alarm for eight am"), 0.9);
        assert_eq!(swapped[5], 1.0);
        let filler =
            features(&Words::of("can you tell me my credit score"), &Words::of("what is my credit score"), 0.9);
        assert_eq!(filler[7], 1.0);
    }

    #[test]
    fn the_same_question_is_always_accepted() {
        let v = Verifier::shipped();
        assert_eq!(v.score_texts("What is the capital of France?", "what is the capital of france", 1.0), 1.0);
    }

    #[test]
    fn plurals_and_possessives_fold() {
        assert_eq!(words("Alarms' John's buses"), vec!["alarm", "john", "buse"]);
        assert_eq!(fold("status"), "status");
        assert_eq!(fold("class"), "class");
    }

    #[test]
    fn features_mirror_when_the_pair_is_swapped() {
        let (a, b) = (Words::of("turn off the lights in the hall"), Words::of("turn up the lights"));
        let (ab, ba) = (features(&a, &b, 0.8), features(&b, &a, 0.8));
        assert_eq!((ab[3], ab[4]), (ba[4], ba[3]));
        assert_eq!(ab[1], ba[1]);
    }

    #[test]
    fn shipped_model_refuses_a_swapped_action_and_keeps_a_reworded_request() {
        let v = Verifier::shipped();
        let swapped = v.score_texts("delete my alarm for eight am", "set my alarm for eight am", 0.86);
        let reworded = v.score_texts("what is my credit score", "can you tell me my credit score", 0.86);
        assert!(reworded > swapped, "reworded {reworded} swapped {swapped}");
    }
}
