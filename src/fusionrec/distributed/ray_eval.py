"""Sharded evaluation: the users are split into shards that Ray tasks rank in parallel.

Each shard is a run of consecutive users with held-out items, cut at
multiples of the evaluation's chunk size, so a task scores exactly the
chunks one process would: the per-user values are concatenated in user
order and are identical to :func:`~fusionrec.evaluation.protocol.evaluate_model`'s.
The beyond-accuracy metrics need every top list in one place and are left
to :func:`~fusionrec.evaluation.protocol.evaluate_model` (``Evaluation.beyond``
stays empty here).

Example:
    >>> connect("local")  # doctest: +SKIP
    >>> evaluation = evaluate_sharded(model, split, "test", ks=(20,), shards=4)  # doctest: +SKIP
    >>> evaluation["recall@20"] == evaluate_model(model, split, "test", ks=(20,))["recall@20"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import ray
import scipy.sparse as sp

from fusionrec.distributed.cluster import cluster_cpus, connect
from fusionrec.errors import ConfigError
from fusionrec.evaluation.metrics import METRICS
from fusionrec.evaluation.protocol import EVALUATED_PARTS, train_matrix
from fusionrec.evaluation.ranking import CHUNK_SCORES, DEFAULT_KS, MAX_CHUNK_USERS, Evaluation, evaluate_scores

if TYPE_CHECKING:
    from fusionrec.data.dataset import Part, Split
    from fusionrec.models.base import Recommender


def evaluate_sharded(
    model: Recommender,
    split: Split,
    part: Part = "test",
    ks: tuple[int, ...] = DEFAULT_KS,
    metrics: tuple[str, ...] = METRICS,
    *,
    shards: int | None = None,
    chunk_size: int | None = None,
    address: str | None = None,
) -> Evaluation:
    """Evaluate a fitted ``model`` on ``split``'s ``part`` with ``shards`` Ray tasks.

    Args:
        model: a fitted recommender (sent to the tasks through Ray's object store).
        split: the split it was fitted on.
        part: ``"valid"`` or ``"test"``.
        ks: cut-offs.
        metrics: metric names.
        shards: tasks; None = the cluster's CPUs.
        chunk_size: users scored at once (None: as :func:`~fusionrec.evaluation.ranking.evaluate_scores`).
        address: cluster to join first (see :func:`~fusionrec.distributed.cluster.connect`); None = connected.

    Returns:
        Per-user values for every ``metric@k`` (``beyond`` empty).
    """
    if part not in EVALUATED_PARTS:
        raise ConfigError(f"part must be one of {EVALUATED_PARTS}, got {part!r}; train is never evaluated")
    for name, value in (("shards", shards), ("chunk_size", chunk_size)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1 (or None for automatic), got {value}")
    started = time.perf_counter()
    if address is not None:
        connect(address)
    train, heldout = train_matrix(split), split.part(part).to_csr()
    candidates = split.candidates(part)
    chunk = chunk_size or max(1, min(MAX_CHUNK_USERS, CHUNK_SCORES // max(heldout.shape[1], 1)))  # evaluate_scores'
    pieces = shard_rows(_evaluated_users(heldout, candidates), chunk, shards or cluster_cpus())
    model_ref, train_ref = ray.put(model), ray.put(train)
    tasks = [
        _evaluate_shard.remote(model_ref, train_ref, _rows_only(heldout, rows), candidates, ks, metrics, chunk)
        for rows in pieces
    ]
    parts = ray.get(tasks)
    evaluation = Evaluation(
        users=np.concatenate([p.users for p in parts]) if parts else np.zeros(0, dtype=np.int64),
        per_user={name: np.concatenate([p.per_user[name] for p in parts]) for name in parts[0].per_user}
        if parts
        else {},
    )
    evaluation.seconds = time.perf_counter() - started
    return evaluation


def shard_rows(users: np.ndarray, chunk_size: int, shards: int) -> list[np.ndarray]:
    """``users`` cut into at most ``shards`` runs of whole chunks (the last may be shorter), none empty."""
    n_chunks = -(-len(users) // chunk_size)
    if n_chunks == 0:
        return []
    per_shard = -(-n_chunks // min(shards, n_chunks))  # chunks per shard
    step = per_shard * chunk_size
    return [users[start : start + step] for start in range(0, len(users), step)]


@ray.remote
def _evaluate_shard(
    model: Recommender,
    train: sp.csr_matrix,
    heldout: sp.csr_matrix,
    candidates: np.ndarray | None,
    ks: tuple[int, ...],
    metrics: tuple[str, ...],
    chunk_size: int,
) -> Evaluation:
    return evaluate_scores(model.score_users, train, heldout, ks, metrics, candidates, chunk_size)


def _evaluated_users(heldout: sp.csr_matrix, candidates: np.ndarray | None) -> np.ndarray:
    """The users evaluate_scores evaluates: those with a held-out (candidate) item, ascending."""
    relevant = heldout if candidates is None else heldout[:, np.unique(np.asarray(candidates, dtype=np.int64))]
    return np.flatnonzero(np.diff(relevant.tocsr().indptr) > 0).astype(np.int64)


def _rows_only(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``matrix`` with every row outside ``rows`` emptied (same shape)."""
    keep = np.zeros(matrix.shape[0], dtype=matrix.dtype)
    keep[rows] = 1
    kept = sp.csr_matrix(matrix.multiply(keep[:, None]))
    kept.eliminate_zeros()
    return kept


__all__ = ["evaluate_sharded", "shard_rows"]
