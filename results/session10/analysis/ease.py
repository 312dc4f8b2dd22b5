"""Linear item-item baselines on TikTok valid (EASE for several lambdas; GF-CF's linear filter): ease.py."""

import numpy as np
import scipy.sparse as sp
from common import tiktok

from fusionrec.evaluation.ranking import evaluate_scores

split = tiktok()
train, valid = split.train.to_csr().astype(np.float64), split.valid.to_csr()
gram = (train.T @ train).toarray()


def report(name, score):
    result = evaluate_scores(lambda u: np.asarray(score(u), np.float32), train, valid, ks=(20,), metrics=("recall", "ndcg"))
    print(name, {k: round(float(v), 5) for k, v in result.summary().items()}, flush=True)


for lam in (5, 20, 50, 200):
    inverse = np.linalg.inv(gram + lam * np.eye(len(gram)))
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0)
    report(f"EASE lambda={lam}", lambda u, w=weights: train[u] @ w)
user_degree, item_degree = np.asarray(train.sum(1)).ravel(), np.asarray(train.sum(0)).ravel()
normalised = sp.diags(1 / np.sqrt(np.maximum(user_degree, 1))) @ train @ sp.diags(1 / np.sqrt(np.maximum(item_degree, 1)))
item_item = (normalised.T @ normalised).toarray()
report("GF-CF linear filter", lambda u: train[u] @ item_item)
