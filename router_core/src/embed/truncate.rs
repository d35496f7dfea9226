//! Bounding what the embedder sees, so a 100k-token prompt decides as fast as a 128-token one.

/// WordPiece rarely yields fewer than one token per 6 characters of real text, so keeping this
/// many characters per wanted token at each end never starves the head/tail cut below.
const CHARS_PER_TOKEN_BOUND: usize = 8;

/// Keep the head and tail characters of a very long text: tokenising the middle of a huge prompt
/// would cost more than the whole forward pass, and the token cut would drop it anyway.
pub fn pre_truncate_chars(text: &str, max_tokens: usize) -> std::borrow::Cow<'_, str> {
    let keep = max_tokens * CHARS_PER_TOKEN_BOUND;
    let chars = text.chars().count();
    if chars <= 2 * keep {
        return std::borrow::Cow::Borrowed(text);
    }
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(chars - keep).collect();
    std::borrow::Cow::Owned(format!("{head} {tail}"))
}

/// Cut a special-token-framed id sequence (`[CLS] ... [SEP]`) to `max_tokens`, keeping the first
/// and last tokens: the ask is usually at the start of a prompt and the question at its end.
pub fn head_tail(ids: Vec<i64>, max_tokens: usize) -> Vec<i64> {
    if ids.len() <= max_tokens || max_tokens < 3 {
        return ids;
    }
    let body = max_tokens - 2;
    let head = body.div_ceil(2);
    let tail = body - head;
    let mut out = Vec::with_capacity(max_tokens);
    out.extend_from_slice(&ids[..=head]);
    out.extend_from_slice(&ids[ids.len() - 1 - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_sequences_are_untouched() {
        assert_eq!(head_tail(vec![101, 7, 8, 102], 8), vec![101, 7, 8, 102]);
    }

    #[test]
    fn keeps_cls_head_tail_and_sep() {
        let ids: Vec<i64> = std::iter::once(101).chain(1..=20).chain(std::iter::once(102)).collect();
        assert_eq!(head_tail(ids, 8), vec![101, 1, 2, 3, 18, 19, 20, 102]);
    }

    #[test]
    fn long_text_keeps_both_ends() {
        let text = format!("START {} END", "word ".repeat(10_000));
        let cut = pre_truncate_chars(&text, 16);
        assert!(cut.starts_with("START") && cut.ends_with("END"));
        assert!(cut.chars().count() <= 2 * 16 * CHARS_PER_TOKEN_BOUND + 1);
    }

    proptest! {
        #[test]
        fn head_tail_is_bounded_and_framed(len in 3usize..600, max in 3usize..300) {
            let ids: Vec<i64> = std::iter::once(101).chain((0..len as i64 - 2).map(|i| i + 1000)).chain(std::iter::once(102)).collect();
            let out = head_tail(ids.clone(), max);
            prop_assert_eq!(out.len(), ids.len().min(max));
            prop_assert_eq!(out[0], 101);
            prop_assert_eq!(*out.last().unwrap_or(&0), 102);
        }

        #[test]
        fn pre_truncation_is_char_safe(text in "\\PC{0,3000}", max in 1usize..64) {
            let cut = pre_truncate_chars(&text, max);
            prop_assert!(cut.chars().count() <= text.chars().count() + 1);
        }
    }
}
