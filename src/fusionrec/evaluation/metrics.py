"""Pure ranking metrics over a boolean hit matrix.

Every function takes ``hits``: bool (n_users, K) where ``hits[u, r]`` says
whether the item at rank ``r`` (0-based) of user ``u``'s list is relevant,
``n_relevant``: int (n_users,) the number of relevant items of each user,
and a cut-off ``k <= K``. They return float64 (n_users,) per-user values in
[0, 1]. Definitions follow MMRec / RecBole full-ranking evaluation:

- recall@k = hits in top k / n_relevant
- precision@k = hits in top k / k
- hr@k = 1 if any hit in top k
- ndcg@k = DCG@k / IDCG@k with binary gains and 1 / log2(rank + 1) discounts,
  IDCG from min(n_relevant, k) hits at the top
- map@k = sum of precision@r over hit ranks r <= k, / min(n_relevant, k)
- mrr@k = 1 / rank of the first hit within the top k (0 if none)

Example:
    >>> import numpy as np
    >>> hits = np.array([[False, True, True]])
    >>> recall(hits, np.array([4]), k=3).tolist()
    [0.5]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

METRICS = ("recall", "ndcg", "precision", "map", "hr", "mrr")
"""Every metric name, in report order."""

MetricFunction = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def _discounts(k: int) -> np.ndarray:
    """float64 (k,) DCG discounts 1 / log2(rank + 1) for ranks 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def _hit_counts(hits: np.ndarray, k: int) -> np.ndarray:
    """float64 (n_users,) number of hits in the top ``k``."""
    return np.count_nonzero(hits[:, :k], axis=1).astype(np.float64)


def recall(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Share of a user's relevant items found in the top ``k``."""
    return _hit_counts(hits, k) / np.maximum(n_relevant, 1)


def precision(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Share of the top ``k`` that is relevant."""
    return _hit_counts(hits, k) / k


def hit_rate(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """1 where at least one relevant item is in the top ``k``."""
    return np.asarray(hits[:, :k].any(axis=1), dtype=np.float64)


def ndcg(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Binary-relevance NDCG: DCG of the list over the DCG of a perfect list."""
    discounts = _discounts(k)
    dcg = hits[:, :k].astype(np.float64) @ discounts[: hits[:, :k].shape[1]]
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cumulative[np.minimum(n_relevant, k)]
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def average_precision(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """MAP@k: sum of precision at each hit rank, over min(n_relevant, k)."""
    top = hits[:, :k].astype(np.float64)
    precision_at_rank = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    denominator = np.maximum(np.minimum(n_relevant, k), 1)
    return (precision_at_rank * top).sum(axis=1) / denominator


def reciprocal_rank(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """1 / rank of the first relevant item in the top ``k`` (0 if none)."""
    top = hits[:, :k]
    first = top.argmax(axis=1)
    return np.where(top.any(axis=1), 1.0 / (first + 1.0), 0.0)


METRIC_FUNCTIONS: dict[str, MetricFunction] = {
    "recall": recall,
    "ndcg": ndcg,
    "precision": precision,
    "map": average_precision,
    "hr": hit_rate,
    "mrr": reciprocal_rank,
}
"""``{metric name: function(hits, n_relevant, k)}``."""


def metric_names(ks: tuple[int, ...], metrics: tuple[str, ...] = METRICS) -> list[str]:
    """Column names ``["recall@10", "recall@20", ...]`` in metric-major order."""
    return [f"{m}@{k}" for m in metrics for k in ks]


def validate_metrics(ks: tuple[int, ...], metrics: tuple[str, ...]) -> None:
    """Raise ``ValueError`` for unknown metric names or cut-offs below 1."""
    unknown = [m for m in metrics if m not in METRIC_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(METRIC_FUNCTIONS)}")
    if not ks or min(ks) < 1:
        raise ValueError(f"cut-offs ks must be positive integers, got {list(ks)}; e.g. (10, 20, 50)")
    if not metrics:
        raise ValueError("no metric requested; pass at least one of " + ", ".join(METRIC_FUNCTIONS))


def compute_metrics(
    hits: np.ndarray, n_relevant: np.ndarray, ks: tuple[int, ...], metrics: tuple[str, ...] = METRICS
) -> dict[str, np.ndarray]:
    """``{"recall@20": float64 (n_users,), ...}`` for every metric and cut-off.

    Args:
        hits: bool (n_users, K) with K >= max(ks).
        n_relevant: int (n_users,) relevant items per user.
        ks: cut-offs.
        metrics: names from :data:`METRICS`.
    """
    validate_metrics(ks, metrics)
    if hits.shape[1] < max(ks):
        raise ValueError(f"hits has {hits.shape[1]} columns but the largest k is {max(ks)}; pad with misses")
    if len(n_relevant) != hits.shape[0]:
        raise ValueError(f"n_relevant has {len(n_relevant):,} entries but hits has {hits.shape[0]:,} rows")
    return {f"{m}@{k}": METRIC_FUNCTIONS[m](hits, n_relevant, k) for m in metrics for k in ks}


__all__ = [
    "METRICS",
    "METRIC_FUNCTIONS",
    "average_precision",
    "compute_metrics",
    "hit_rate",
    "metric_names",
    "ndcg",
    "precision",
    "recall",
    "reciprocal_rank",
    "validate_metrics",
]
