"""Full-ranking evaluation, vectorised and chunked over users.

Scores for a chunk of users are computed, the user's training items are
set to -inf, the top max(K) items are taken with ``torch.topk`` and
compared with the held-out items. Memory is bounded by
``chunk_size x n_items`` floats whatever the number of users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from fusionrec.evaluation.metrics import METRICS, compute_metrics

ScoreFunction = Callable[[np.ndarray], np.ndarray]
"""Maps int64 (n,) user indices to float32 (n, n_items) scores."""

DEFAULT_KS = (10, 20, 50)


@dataclass
class Evaluation:
    """Per-user metric values of one model on one part of a split.

    Attributes:
        users: int64 (n,) indices of the evaluated users (those with held-out items).
        per_user: ``{"recall@20": float64 (n,)}``, aligned with ``users``.
    """

    users: np.ndarray
    per_user: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        """Mean of every metric over the evaluated users."""
        return {name: float(values.mean()) if len(values) else 0.0 for name, values in self.per_user.items()}

    def __getitem__(self, metric: str) -> float:
        return self.summary()[metric]


def evaluate_scores(
    score_users: ScoreFunction,
    train: sp.csr_matrix,
    heldout: sp.csr_matrix,
    ks: tuple[int, ...] = DEFAULT_KS,
    metrics: tuple[str, ...] = METRICS,
    candidates: np.ndarray | None = None,
    chunk_size: int = 4096,
) -> Evaluation:
    """Rank every candidate item for every user with held-out items.

    Args:
        score_users: user indices -> float32 (n, n_items) scores.
        train: (n_users, n_items) CSR of items to exclude (the user's training items).
        heldout: (n_users, n_items) CSR of relevant items.
        ks: cut-offs, all computed in one pass.
        metrics: metric names from :data:`fusionrec.evaluation.metrics.METRICS`.
        candidates: item indices that may be ranked (cold-start protocol); None = all.
        chunk_size: users scored at once; bounds memory.
    """
    import time

    import torch

    started = time.perf_counter()
    heldout = heldout.tocsr()
    if candidates is not None:
        heldout = _restrict_columns(heldout, candidates)
    n_relevant_all = np.diff(heldout.indptr)
    users = np.flatnonzero(n_relevant_all > 0).astype(np.int64)
    k_max = max(ks)
    blocked = None if candidates is None else _blocked_columns(train.shape[1], candidates)
    per_chunk: list[dict[str, np.ndarray]] = []
    for start in range(0, len(users), chunk_size):
        chunk = users[start : start + chunk_size]
        scores = torch.from_numpy(np.ascontiguousarray(score_users(chunk), dtype=np.float32))
        _exclude(scores, train[chunk], blocked)
        top = torch.topk(scores, min(k_max, scores.shape[1]), dim=1, sorted=True).indices.numpy()
        relevant = heldout[chunk]
        hits = _hits(relevant, top, k_max)
        per_chunk.append(compute_metrics(hits, n_relevant_all[chunk], ks, metrics))
    per_user = {
        name: np.concatenate([c[name] for c in per_chunk]) if per_chunk else np.zeros(0) for name in _names(ks, metrics)
    }
    return Evaluation(users=users, per_user=per_user, seconds=time.perf_counter() - started)


def _names(ks: tuple[int, ...], metrics: tuple[str, ...]) -> list[str]:
    return [f"{m}@{k}" for m in metrics for k in ks]


def _exclude(scores: object, seen: sp.csr_matrix, blocked: np.ndarray | None) -> None:
    import torch

    assert isinstance(scores, torch.Tensor)
    rows = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    scores[torch.from_numpy(rows), torch.from_numpy(seen.indices.astype(np.int64))] = -torch.inf
    if blocked is not None:
        scores[:, torch.from_numpy(blocked)] = -torch.inf


def _hits(relevant: sp.csr_matrix, top: np.ndarray, k_max: int) -> np.ndarray:
    """bool (n, k_max): whether each ranked item is in the user's held-out set."""
    n_items = relevant.shape[1]
    keys = (
        np.repeat(np.arange(relevant.shape[0], dtype=np.int64), np.diff(relevant.indptr)) * n_items + relevant.indices
    )
    ranked = np.arange(top.shape[0], dtype=np.int64)[:, None] * n_items + top
    hits = np.isin(ranked, keys)
    if hits.shape[1] < k_max:  # fewer candidates than k: pad with misses
        hits = np.pad(hits, ((0, 0), (0, k_max - hits.shape[1])))
    return hits


def _restrict_columns(matrix: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    mask = np.zeros(matrix.shape[1], dtype=np.float32)
    mask[keep] = 1.0
    restricted = (matrix @ sp.diags(mask)).tocsr()
    restricted.eliminate_zeros()
    return restricted


def _blocked_columns(n_items: int, candidates: np.ndarray) -> np.ndarray:
    allowed = np.zeros(n_items, dtype=bool)
    allowed[candidates] = True
    return np.flatnonzero(~allowed)
