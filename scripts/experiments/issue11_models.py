"""Candidate routers for issue 11 part 2: each is fit(train_idx) -> predict(test_idx) -> (n, 3) tier probabilities.

`d` is the dict from issue11_common.load plus 'struct'. Everything here could run per request in
well under 0.5 ms except where noted (the head and kNN already use the embedding the router computes).
"""
import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from router_tools.eval import baselines as B
from router_tools.train.head import HeadConfig, fit_head, fit_temperature, forward, softmax
from router_tools.train.train import validation_split
from issue11_feats import hashed_vectorizer


class _Item:  # minimal GoldenItem stand-in for baselines.Corpus
    def __init__(self, q, t):
        self.query, self.ideal_tier = q, int(t)


def corpus(d, idx):
    items = [_Item(d["texts"][i], d["ideal"][i]) for i in idx]
    e = d["emb"][idx]
    return B.Corpus(items=items, tokens=[int(d["tokens"][i]) for i in idx], embed=lambda: e)


def p3(model, x):
    return B._three_columns(model.classes_, model.predict_proba(x))


def m_head(d, tr, te, seed=0):
    """The router's head exactly as `train` fits it (MLP, 15% validation part for temperature)."""
    x, y = d["emb"], d["ideal"] - 1
    dom = d["domain_idx"]
    a, b = validation_split(y[tr], seed)
    a, b = tr[a], tr[b]
    params = fit_head(x[a], y[a], dom[a], 6, HeadConfig(), seed)
    tl, _ = forward(params, x[b])
    t = fit_temperature(tl, y[b])
    tl_te, _ = forward(params, x[te])
    return softmax(tl_te.astype(np.float64) / t)


def m_tfidf(d, tr, te):
    return B.fit_tfidf_lr(corpus(d, tr)).predict(corpus(d, te)).scores


def m_knn(d, tr, te):
    return B.fit_knn(corpus(d, tr)).predict(corpus(d, te)).scores


def m_length(d, tr, te):
    return B.fit_length(corpus(d, tr)).predict(corpus(d, te)).scores


def _texts(d, idx):
    return [d["texts"][i] for i in idx]


def m_hash(d, tr, te, C=10.0):
    v = hashed_vectorizer()
    xtr = v.fit_transform(_texts(d, tr))
    m = LogisticRegression(C=C, max_iter=3000).fit(xtr, d["ideal"][tr])
    return p3(m, v.transform(_texts(d, te)))


def m_struct(d, tr, te, C=1.0):
    s = StandardScaler().fit(d["struct"][tr])
    m = LogisticRegression(C=C, max_iter=3000).fit(s.transform(d["struct"][tr]), d["ideal"][tr])
    return p3(m, s.transform(d["struct"][te]))


def m_emb_lr(d, tr, te, C=3.0):
    m = LogisticRegression(C=C, max_iter=3000).fit(d["emb"][tr], d["ideal"][tr])
    return p3(m, d["emb"][te])


def lin_all_x(d, idx, v, s, w_emb=1.0, w_struct=0.3):
    return sp.hstack([sp.csr_matrix(d["emb"][idx] * w_emb), v.transform(_texts(d, idx)),
                      sp.csr_matrix(s.transform(d["struct"][idx]) * w_struct)]).tocsr()


def m_lin_all(d, tr, te, C=3.0, w_emb=1.0, w_struct=0.3):
    """One multinomial LR over [embedding, hashed 1-2-gram tf-idf, standardised structure]."""
    v = hashed_vectorizer().fit(_texts(d, tr))
    s = StandardScaler().fit(d["struct"][tr])
    m = LogisticRegression(C=C, max_iter=5000).fit(lin_all_x(d, tr, v, s, w_emb, w_struct), d["ideal"][tr])
    return p3(m, lin_all_x(d, te, v, s, w_emb, w_struct))


BASE = {"head": m_head, "tfidf_lr": m_tfidf, "knn": m_knn, "length": m_length, "hash_lr": m_hash,
        "struct_lr": m_struct, "emb_lr": m_emb_lr, "lin_all": m_lin_all}


def m_head_struct(d, tr, te, seed=0, w=0.3):
    """The head's MLP on [embedding, standardised structure * w] (an ONNX head with 26 more inputs)."""
    s = StandardScaler().fit(d["struct"][tr])
    x = np.hstack([d["emb"], s.transform(d["struct"]) * w]).astype(np.float32)
    y, dom = d["ideal"] - 1, d["domain_idx"]
    a, b = validation_split(y[tr], seed)
    a, b = tr[a], tr[b]
    params = fit_head(x[a], y[a], dom[a], 6, HeadConfig(), seed)
    tl, _ = forward(params, x[b])
    t = fit_temperature(tl, y[b])
    tl_te, _ = forward(params, x[te])
    return softmax(tl_te.astype(np.float64) / t)


BASE["head_struct"] = m_head_struct


def m_outcome_lr(d, tr, te, C=0.3):
    """Binary 'did the tier-2 model fail' LR trained only on outcome-labelled items of the training part,
    over [embedding, hashed tf-idf, structure]; applied to every item as [0, 1-q, q]."""
    tr_o = tr[d["outcome"][tr] > 0]
    v = hashed_vectorizer().fit(_texts(d, tr_o))
    s = StandardScaler().fit(d["struct"][tr_o])
    m = LogisticRegression(C=C, max_iter=5000).fit(lin_all_x(d, tr_o, v, s), d["ideal"][tr_o] == 3)
    q = m.predict_proba(lin_all_x(d, te, v, s))[:, 1]
    return np.stack([np.zeros_like(q), 1 - q, q], axis=1)


BASE["outcome_lr"] = m_outcome_lr
