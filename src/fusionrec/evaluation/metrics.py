"""Pure ranking metrics over a boolean hit matrix.

Every function takes ``hits``: bool (n_users, K) where ``hits[u, r]`` says
whether the item at rank ``r`` (0-based) of user ``u``'s list is relevant,
and ``n_relevant``: int (n_users,) the number of relevant items of each
user. They return float64 (n_users,) per-user values at cut-off ``k``.
"""

from __future__ import annotations

import numpy as np

METRICS = ("recall", "ndcg", "precision", "map", "hr", "mrr")


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def recall(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Share of a user's relevant items found in the top ``k``."""
    found: np.ndarray = hits[:, :k].sum(axis=1) / np.maximum(n_relevant, 1)
    return found


def precision(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Share of the top ``k`` that is relevant."""
    return hits[:, :k].sum(axis=1) / k


def hit_rate(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """1 where at least one relevant item is in the top ``k``."""
    return hits[:, :k].any(axis=1).astype(np.float64)


def ndcg(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Binary-relevance NDCG: DCG of the list over the DCG of a perfect list."""
    discounts = _discounts(k)
    dcg = hits[:, :k] @ discounts
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cumulative[np.minimum(n_relevant, k)]
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def average_precision(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """MAP@k: mean of precision at each relevant rank, over min(n_relevant, k)."""
    top = hits[:, :k].astype(np.float64)
    precision_at_rank = np.cumsum(top, axis=1) / np.arange(1, k + 1)
    return (precision_at_rank * top).sum(axis=1) / np.maximum(np.minimum(n_relevant, k), 1)


def reciprocal_rank(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """1 / rank of the first relevant item in the top ``k`` (0 if none)."""
    top = hits[:, :k]
    first = top.argmax(axis=1)
    found = top.any(axis=1)
    return np.where(found, 1.0 / (first + 1), 0.0)


METRIC_FUNCTIONS = {
    "recall": recall,
    "ndcg": ndcg,
    "precision": precision,
    "map": average_precision,
    "hr": hit_rate,
    "mrr": reciprocal_rank,
}


def compute_metrics(
    hits: np.ndarray, n_relevant: np.ndarray, ks: tuple[int, ...], metrics: tuple[str, ...] = METRICS
) -> dict[str, np.ndarray]:
    """``{"recall@20": per-user values, ...}`` for every metric and cut-off."""
    unknown = [m for m in metrics if m not in METRIC_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(METRIC_FUNCTIONS)}")
    if hits.shape[1] < max(ks):
        raise ValueError(f"hits has {hits.shape[1]} columns but the largest k is {max(ks)}")
    return {f"{m}@{k}": METRIC_FUNCTIONS[m](hits, n_relevant, k) for m in metrics for k in ks}
