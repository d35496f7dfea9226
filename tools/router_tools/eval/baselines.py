"""The routers `eval golden` compares the classifier head with, each trained on the training
split only and run on the evaluated file in the same run.

Every baseline gives a tier per item (its own default operating point) and tier
probabilities [p1, p2, p3], so the cost-vs-safety curve (curve.py) sweeps the policy's
risk threshold on each of them exactly as on the head's scores:

- `length`: multinomial logistic regression on log(input tokens); its tier is the argmax.
  The data mixes short intent utterances with long benchmark items, so length alone
  separates much of it: a learned router must beat this to have learnt need, not style.
- `keywords`: fixed rules of the kind people hand-write (short queries and
  classification / extraction / translation asks are cheap; "explain", "compare",
  "analyze", "why", "how does" are expensive), written without looking at any evaluation
  file. Its tier is the rules' own; its probabilities are the tier frequencies of each
  rule score on the training split, so the sweep moves the cut points on that score.
- `tfidf_lr`: TF-IDF on word 1-2-grams (5,000 features) + logistic regression, its
  regularisation chosen by 3-fold cross-validation on the training split; argmax tier.
- `knn`: k nearest training items by the router's own embeddings (cosine), votes weighted
  by similarity; k chosen by leave-one-out log loss on the training split; argmax tier.
- `always_tier2`: the constant most teams start with. Its probabilities put everything
  on tier 2, so no threshold ever routes to tier 3: budgets below its under-routed share
  are out of its reach (null on the curve).

scikit-learn is imported when a baseline is trained, so routing never needs it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from router_py.runtime import RuntimeSetupError
from router_tools.train.dataset import GoldenItem

F64 = NDArray[np.float64]
F32 = NDArray[np.float32]
I64 = NDArray[np.int64]
EmbedFn = Callable[[Sequence[str]], NDArray[Any]]

BASELINES: tuple[str, ...] = ("length", "keywords", "tfidf_lr", "knn", "always_tier2")
TFIDF_FEATURES = 5000
TFIDF_CS = (0.3, 1.0, 3.0, 10.0)
KNN_KS = (5, 10, 20, 40)
KNN_SMOOTHING = 0.1  # pseudo-votes per tier: no tier is ever certain, so every threshold means something
CV_FOLDS = 3
SIM_CHUNK = 1024  # rows of the similarity matrix held at once


@dataclass
class Corpus:
    """The items a baseline sees, with what it may use: text, the router's token counts,
    and (computed only if a baseline asks) the router's embeddings."""

    items: Sequence[GoldenItem]
    tokens: Sequence[int]
    embed: Callable[[], F32] | None = None
    _embedded: F32 | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.items) != len(self.tokens):
            raise ValueError(f"{len(self.tokens)} token counts for {len(self.items)} items")

    @property
    def texts(self) -> list[str]:
        return [it.query for it in self.items]

    @property
    def tiers(self) -> I64:
        return np.asarray([it.ideal_tier for it in self.items], dtype=np.int64)

    def embeddings(self) -> F32:
        if self._embedded is None:
            if self.embed is None:
                raise ValueError("this corpus has no embedder")
            self._embedded = np.asarray(self.embed(), dtype=np.float32)
            if self._embedded.shape[0] != len(self.items):
                raise ValueError(f"{self._embedded.shape[0]} embeddings for {len(self.items)} items")
        return self._embedded


@dataclass(frozen=True)
class Prediction:
    tiers: I64  # (n,) 1..3
    scores: F64  # (n, 3) tier probabilities


class Baseline(Protocol):
    def predict(self, corpus: Corpus) -> Prediction: ...


def argmax_tiers(scores: F64) -> I64:
    """Argmax tier; ties go to the higher (safer) tier."""
    tiers: I64 = (3 - np.argmax(scores[:, ::-1], axis=1)).astype(np.int64)
    return tiers


def _sklearn() -> Any:
    try:
        import sklearn
    except ImportError:
        raise RuntimeSetupError("the baselines need scikit-learn: pip install 'llm-router-tools[eval]'") from None
    return sklearn


def _three_columns(classes: Sequence[int], proba: F64) -> F64:
    """Probabilities over tiers 1..3 from a model that saw only `classes`."""
    out = np.zeros((len(proba), 3))
    for j, c in enumerate(classes):
        out[:, int(c) - 1] = proba[:, j]
    return out


class _Constant:
    """What a model trained on one tier predicts: that tier, certainly."""

    def __init__(self, tier: int) -> None:
        self.tier = tier

    def proba(self, n: int) -> F64:
        out = np.zeros((n, 3))
        out[:, self.tier - 1] = 1.0
        return out


# ---- length ---------------------------------------------------------------------------------

def _length_features(tokens: Sequence[int]) -> F64:
    return np.log1p(np.asarray(tokens, dtype=np.float64)).reshape(-1, 1)


@dataclass(frozen=True)
class LengthLR:
    model: Any  # fitted sklearn pipeline, or _Constant

    def predict(self, corpus: Corpus) -> Prediction:
        if isinstance(self.model, _Constant):
            scores = self.model.proba(len(corpus.items))
        else:
            x = _length_features(corpus.tokens)
            scores = _three_columns(self.model.classes_, self.model.predict_proba(x))
        return Prediction(tiers=argmax_tiers(scores), scores=scores)


def fit_length(train: Corpus) -> LengthLR:
    y = train.tiers
    if len(np.unique(y)) < 2:
        return LengthLR(_Constant(int(y[0])))
    _sklearn()
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(_length_features(train.tokens), y)
    return LengthLR(model)


# ---- keywords -------------------------------------------------------------------------------

# Hand-written, as a team would before it had any labelled traffic; fixed, never fitted.
_CHEAP_TASK = re.compile(
    r"\b(classify|classification|categori[sz]e|label|tag|extract|translate|translation|sentiment|"
    r"spell[- ]?check|yes or no|true or false|which category)\b", re.I)
_EXPENSIVE = re.compile(
    r"\b(explain|compare|contrast|analy[sz]e|analysis|why|how does|how do|how would|how can|prove|proof|"
    r"derive|evaluate|critique|design|architect|implement|debug|optimi[sz]e|algorithm|step[- ]by[- ]step|"
    r"pros and cons|trade-?offs?|calculate|solve)\b", re.I)
_MIDDLE = re.compile(
    r"\b(write|draft|summari[sz]e|summary|rewrite|rephrase|paraphrase|email|essay|story|poem|"
    r"brainstorm|outline|recommend)\b", re.I)
_CODE_OR_MATH = re.compile(r"```|\bdef |\bfunction\b|\breturn\b|[{};]\s*$|\\frac|\d\s*[-+*/^=]\s*\d", re.M)
SHORT_WORDS = 12
VERY_SHORT_WORDS = 6
LONG_WORDS = 150
SCORE_MIN, SCORE_MAX = -4, 5


def keyword_score(text: str) -> int:
    """Points towards an expensive tier: expensive cues up; cheap tasks and brevity down
    unless an expensive cue is there."""
    words = len(text.split())
    expensive = {m.lower() for m in _EXPENSIVE.findall(text)}
    score = 0
    if expensive:
        score += 2 + (len(expensive) >= 2)
    if _MIDDLE.search(text):
        score += 1
    if _CHEAP_TASK.search(text) and not expensive:
        score -= 2
    if not expensive:  # "why ...?" is a hard question however short
        score -= (words <= SHORT_WORDS) + (words <= VERY_SHORT_WORDS)
    score += (words > LONG_WORDS) + bool(_CODE_OR_MATH.search(text))
    return max(SCORE_MIN, min(SCORE_MAX, score))


def keyword_tier(score: int) -> int:
    return 1 if score <= -1 else 2 if score <= 1 else 3


@dataclass(frozen=True)
class KeywordRules:
    table: F64  # (SCORE_MAX - SCORE_MIN + 1, 3): P(tier | score), from the training split

    def predict(self, corpus: Corpus) -> Prediction:
        scores = np.asarray([keyword_score(t) for t in corpus.texts], dtype=np.int64)
        return Prediction(tiers=np.asarray([keyword_tier(int(s)) for s in scores], dtype=np.int64),
                          scores=self.table[scores - SCORE_MIN])


def fit_keywords(train: Corpus) -> KeywordRules:
    """The rules stay fixed; only what each score means in probability is read off the
    training split (Laplace-smoothed, so a score never seen there is uniform)."""
    counts = np.ones((SCORE_MAX - SCORE_MIN + 1, 3))
    for text, tier in zip(train.texts, train.tiers):
        counts[keyword_score(text) - SCORE_MIN, tier - 1] += 1
    return KeywordRules(counts / counts.sum(axis=1, keepdims=True))


# ---- tf-idf + logistic regression -----------------------------------------------------------

@dataclass(frozen=True)
class TfidfLR:
    vectorizer: Any
    model: Any
    c: float

    def predict(self, corpus: Corpus) -> Prediction:
        if isinstance(self.model, _Constant):
            scores = self.model.proba(len(corpus.items))
        else:
            x = self.vectorizer.transform(corpus.texts)
            scores = _three_columns(self.model.classes_, self.model.predict_proba(x))
        return Prediction(tiers=argmax_tiers(scores), scores=scores)


def fit_tfidf_lr(train: Corpus) -> TfidfLR:
    y = train.tiers
    if len(np.unique(y)) < 2:
        return TfidfLR(None, _Constant(int(y[0])), 0.0)
    _sklearn()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), max_features=TFIDF_FEATURES, sublinear_tf=True)
    x = vectorizer.fit_transform(train.texts)
    counts = np.bincount(y, minlength=4)[1:]
    # Too few items per tier to cross-validate: the library default.
    c = _cross_validated_c(x, y) if counts[counts > 0].min() >= CV_FOLDS else 1.0
    return TfidfLR(vectorizer, LogisticRegression(C=c, max_iter=2000).fit(x, y), c)


def _cross_validated_c(x: Any, y: I64) -> float:
    """The regularisation with the lowest held-out log loss over stratified folds of the
    training split (by hand rather than LogisticRegressionCV, whose attributes are changing
    across scikit-learn releases)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=0).split(x, y))
    labels = np.unique(y)
    losses = []
    for c in TFIDF_CS:
        loss = 0.0
        for fit_idx, val_idx in folds:
            model = LogisticRegression(C=c, max_iter=2000).fit(x[fit_idx], y[fit_idx])
            loss += log_loss(y[val_idx], model.predict_proba(x[val_idx]), labels=labels) * len(val_idx)
        losses.append(loss)
    return float(TFIDF_CS[int(np.argmin(losses))])


# ---- k nearest neighbours on the router's embeddings ----------------------------------------

def _normalised(x: NDArray[Any]) -> F32:
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norm > 0, norm, np.float32(1.0))).astype(np.float32)


def _neighbours(queries: F32, base: F32, k: int, exclude_self: bool) -> tuple[I64, F32]:
    """Indices and cosine similarities of each query's k nearest rows of `base`, nearest first."""
    k = min(k, len(base) - int(exclude_self))
    idx = np.empty((len(queries), k), dtype=np.int64)
    sim = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), SIM_CHUNK):
        s = queries[start:start + SIM_CHUNK] @ base.T
        if exclude_self:
            rows = np.arange(len(s))
            s[rows, start + rows] = -np.inf
        top = np.argpartition(-s, k - 1, axis=1)[:, :k]
        top_sim = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-top_sim, axis=1, kind="stable")
        idx[start:start + len(s)] = np.take_along_axis(top, order, axis=1)
        sim[start:start + len(s)] = np.take_along_axis(top_sim, order, axis=1)
    return idx, sim


def _votes(idx: I64, sim: F32, tiers: I64, k: int) -> F64:
    w = np.clip(sim[:, :k], 0.0, None).astype(np.float64)
    votes = np.full((len(idx), 3), KNN_SMOOTHING)
    for t in (1, 2, 3):
        votes[:, t - 1] += (w * (tiers[idx[:, :k]] == t)).sum(axis=1)
    proba: F64 = votes / votes.sum(axis=1, keepdims=True)
    return proba


@dataclass(frozen=True)
class Knn:
    base: F32
    tiers: I64
    k: int

    def predict(self, corpus: Corpus) -> Prediction:
        idx, sim = _neighbours(_normalised(corpus.embeddings()), self.base, self.k, exclude_self=False)
        scores = _votes(idx, sim, self.tiers, self.k)
        return Prediction(tiers=argmax_tiers(scores), scores=scores)


def fit_knn(train: Corpus, ks: Sequence[int] = KNN_KS) -> Knn:
    """k by leave-one-out log loss on the training split (each item scored by the others)."""
    base = _normalised(train.embeddings())
    tiers = train.tiers
    if len(base) < 2:
        return Knn(base, tiers, 1)
    idx, sim = _neighbours(base, base, max(ks), exclude_self=True)
    best_k, best_loss = 1, np.inf
    for k in ks:
        k = min(k, idx.shape[1])
        p = _votes(idx, sim, tiers, k)
        loss = -np.log(p[np.arange(len(tiers)), tiers - 1]).mean()
        if loss < best_loss - 1e-12:
            best_k, best_loss = k, loss
    return Knn(base, tiers, best_k)


# ---- always tier 2 --------------------------------------------------------------------------

class AlwaysTier2:
    def predict(self, corpus: Corpus) -> Prediction:
        n = len(corpus.items)
        return Prediction(tiers=np.full(n, 2, dtype=np.int64), scores=_Constant(2).proba(n))


def fit_always_tier2(_train: Corpus) -> AlwaysTier2:
    return AlwaysTier2()


TRAINERS: dict[str, Callable[[Corpus], Baseline]] = {
    "length": fit_length,
    "keywords": fit_keywords,
    "tfidf_lr": fit_tfidf_lr,
    "knn": fit_knn,
    "always_tier2": fit_always_tier2,
}


def run_baselines(train: Corpus, test: Corpus, names: Sequence[str] = BASELINES) -> dict[str, Prediction]:
    """Train each named baseline on `train`, predict `test`; in `names` order."""
    unknown = [n for n in names if n not in TRAINERS]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; known: {list(TRAINERS)}")
    if not train.items:
        raise ValueError("the baselines' training set is empty")
    return {name: TRAINERS[name](train).predict(test) for name in names}


# ---- embedding cache ------------------------------------------------------------------------

def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cached_embeddings(path: Path, texts: Sequence[str], embed: EmbedFn, cache_dir: Path | None,
                      embedder_key: str) -> F32:
    """The embeddings of the items of the file at `path`, from `cache_dir` when there.

    Keyed by the file's hash and the embedder's (its manifest's hash), so an edited file or
    a rebuilt embedder is embedded afresh. A cache that cannot be read or written is
    skipped, never fatal: it only saves time.
    """
    target = None
    if cache_dir is not None:
        target = cache_dir / f"embeddings-{file_digest(path)[:20]}-{embedder_key[:12]}.npy"
        try:
            cached = np.load(target)
            if cached.shape[0] == len(texts):
                return np.asarray(cached, dtype=np.float32)
        except (OSError, ValueError):
            pass
    vectors = np.asarray(embed(list(texts)), dtype=np.float32)
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                np.save(fh, vectors)
            tmp.replace(target)  # atomic: a concurrent run never reads half a file
        except OSError:
            pass
    return vectors
