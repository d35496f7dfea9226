"""Decision-time-cheap text features for issue 11 part 2: structural counts and hashed 1-2-gram TF-IDF."""
import re
import numpy as np

WORD = re.compile(r"(?u)\b\w\w+\b")
NUM = re.compile(r"\d+(?:[.,]\d+)*")
MC_LINE = re.compile(r"(?m)^\s*\(?[A-Ja-j][.)]\s+\S")
CODE = re.compile(r"```|\bdef |\bclass |\bimport |\breturn\b|\bfunction\b|#include|=>|::|[{};]\s*$|\bSELECT\b|</?\w+>", re.M)
MATH = re.compile(r"\\[a-z]+|\$[^$]+\$|\d\s*[-+*/^=<>]\s*\d|\^|√|∫|∑|≤|≥|≠|±|[xyzn]\s*=|\bf\(x\)")
ASK = re.compile(r"\b(please|write|explain|describe|compare|create|implement|generate|list|give|provide|summari[sz]e|"
                 r"draft|rewrite|translate|design|calculate|solve|find|determine|prove|how|why|what)\b", re.I)
NEG = re.compile(r"\b(NOT|EXCEPT|LEAST|not|except|least|false|incorrect)\b")
STMT = re.compile(r"Statement 1 \|")
LATIN = re.compile(r"[A-Za-z]")
LETTER = re.compile(r"[^\W\d_]")
STRUCT_NAMES = ["log_chars", "log_words", "log_tokens", "log_lines", "code_hits", "code_fence", "math_hits",
                "mc_options", "ends_answer", "n_qmarks", "n_sent", "n_asks", "n_numbers", "digit_share",
                "max_num_log", "n_decimals", "percent", "money", "neg", "stmt", "upper_share", "nonlatin",
                "words_per_sent", "long_words_share", "n_unique_numbers", "newline_share"]


def struct_features(text: str, tokens: int) -> list[float]:
    words = text.split()
    nw = max(len(words), 1)
    nums = NUM.findall(text)
    vals = []
    for s in nums:
        try:
            vals.append(float(s.replace(",", "")))
        except ValueError:
            pass
    letters = LETTER.findall(text)
    latin = LATIN.findall(text)
    sents = max(len(re.findall(r"[.!?](\s|$)", text)), 1)
    return [
        np.log1p(len(text)), np.log1p(len(words)), np.log1p(tokens), np.log1p(text.count("\n")),
        np.log1p(len(CODE.findall(text))), float("```" in text), np.log1p(len(MATH.findall(text))),
        float(len(MC_LINE.findall(text))), float(text.rstrip().endswith("Answer:")),
        float(text.count("?")), np.log1p(sents), np.log1p(len(ASK.findall(text))), np.log1p(len(nums)),
        sum(c.isdigit() for c in text) / max(len(text), 1), np.log1p(max(vals) if vals else 0.0),
        float(sum("." in s for s in nums)), float("%" in text or "percent" in text.lower()),
        float("$" in text), float(len(NEG.findall(text))), float(bool(STMT.search(text))),
        sum(c.isupper() for c in text) / max(len(text), 1),
        1.0 - len(latin) / max(len(letters), 1) if letters else 0.0,
        np.log1p(nw / sents), sum(len(w) > 8 for w in words) / nw, np.log1p(len(set(nums))),
        text.count("\n") / max(len(text), 1) * 100,
    ]


def struct_matrix(texts, tokens):
    return np.asarray([struct_features(t, int(k)) for t, k in zip(texts, tokens)], dtype=np.float64)


def hashed_vectorizer(n_features=2 ** 18):
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.pipeline import make_pipeline
    return make_pipeline(HashingVectorizer(ngram_range=(1, 2), n_features=n_features, alternate_sign=False, norm=None),
                         TfidfTransformer(sublinear_tf=True))
