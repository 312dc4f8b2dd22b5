"""Full-ranking evaluation, vectorised and chunked over users.

For each chunk of users with held-out items the scores of every item are
computed, the user's training items are set to -inf, the candidate columns
are kept (cold protocol), the top max(K) items are taken with
``torch.topk`` and looked up in a dense boolean block of the chunk's
held-out items. Memory is bounded by ``chunk_size x n_items`` (float32
scores plus one bool block) whatever the number of users.

Ties between equal scores are broken arbitrarily (by ``torch.topk``); an
item scored -inf (a training item) is never counted as a hit.

Given :class:`~fusionrec.evaluation.beyond.ItemStatistics`, the same top
lists also give the beyond-accuracy metrics (coverage, Gini of exposure,
popularity, novelty, intra-list diversity) of
:mod:`fusionrec.evaluation.beyond`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch  # ranking runs on torch tensors; `import fusionrec` reaches this module only through lazy names

from fusionrec.errors import ArtifactError, ModelError
from fusionrec.evaluation.beyond import ItemStatistics, beyond_metrics
from fusionrec.evaluation.metrics import METRICS, compute_metrics, metric_names, validate_metrics

ScoreFunction = Callable[[np.ndarray], np.ndarray]
"""Maps int64 (n,) user indices to float32 (n, n_items) scores (a fresh array it may be overwritten)."""

DEFAULT_KS = (10, 20, 50)
MAX_CHUNK_USERS = 4096
CHUNK_SCORES = 2**25
"""Scores held at once when ``chunk_size`` is None: 128 MiB of float32 (plus a 32 MiB bool block)."""
_USERS_KEY = "__users__"
_SECONDS_KEY = "__seconds__"
_BEYOND_PREFIX = "__beyond__"
_VECTORS_KEY = "__item_vectors__"


@dataclass
class Evaluation:
    """Per-user metric values of one model on one part of a split.

    Attributes:
        users: int64 (n,) indices of the evaluated users (those with held-out items), ascending.
        per_user: ``{"recall@20": float64 (n,)}``, aligned with ``users``.
        seconds: wall time of the evaluation, scoring included.
        beyond: beyond-accuracy values of all lists together, ``{"coverage@20": 0.41, ...}``
            (empty when the evaluation was given no item statistics).
        item_vectors: what the intra-list diversity was computed from (``"none"`` without it).
    """

    users: np.ndarray
    per_user: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    beyond: dict[str, float] = field(default_factory=dict)
    item_vectors: str = "none"

    @property
    def metric_names(self) -> list[str]:
        """The metric columns, e.g. ``["recall@10", "recall@20", ...]``."""
        return list(self.per_user)

    def summary(self) -> dict[str, float]:
        """Mean of every metric over the evaluated users (0.0 when no user was evaluated)."""
        return {name: float(values.mean()) if len(values) else 0.0 for name, values in self.per_user.items()}

    def __getitem__(self, metric: str) -> float:
        if metric not in self.per_user:
            raise KeyError(f"metric {metric!r} was not computed; available: {self.metric_names}")
        values = self.per_user[metric]
        return float(values.mean()) if len(values) else 0.0

    def save(self, path: str | Path) -> Path:
        """Write users, per-user values, seconds and beyond values to an ``.npz`` file (no pickle); returns the path.

        Example:
            >>> evaluation.save("runs/bpr-seed0-test.npz")  # doctest: +SKIP
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {_USERS_KEY: self.users, _SECONDS_KEY: np.float64(self.seconds), **self.per_user}
        arrays |= {_BEYOND_PREFIX + name: np.float64(value) for name, value in self.beyond.items()}
        arrays[_VECTORS_KEY] = np.array(self.item_vectors)
        np.savez(path, **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, path: str | Path) -> Evaluation:
        """Read an ``.npz`` written by :meth:`save`."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{path} cannot be read as saved per-user values ({exc})") from exc
        if _USERS_KEY not in arrays:
            raise ArtifactError(f"{path} has no {_USERS_KEY!r} array; it was not written by Evaluation.save")
        users = arrays.pop(_USERS_KEY).astype(np.int64)
        seconds = float(arrays.pop(_SECONDS_KEY, 0.0))
        item_vectors = str(arrays.pop(_VECTORS_KEY, "none"))
        beyond_keys = [name for name in arrays if name.startswith(_BEYOND_PREFIX)]
        beyond = {name.removeprefix(_BEYOND_PREFIX): float(arrays.pop(name)) for name in beyond_keys}
        wrong = {name: values.shape for name, values in arrays.items() if values.shape != users.shape}
        if wrong:
            raise ArtifactError(f"{path}: arrays {wrong} do not match the {len(users):,} users")
        return cls(users=users, per_user=arrays, seconds=seconds, beyond=beyond, item_vectors=item_vectors)


def evaluate_scores(
    score_users: ScoreFunction,
    train: sp.csr_matrix,
    heldout: sp.csr_matrix,
    ks: tuple[int, ...] = DEFAULT_KS,
    metrics: tuple[str, ...] = METRICS,
    candidates: np.ndarray | None = None,
    chunk_size: int | None = None,
    items: ItemStatistics | None = None,
) -> Evaluation:
    """Rank every candidate item for every user with held-out items.

    Args:
        score_users: user indices int64 (n,) -> float32 (n, n_items) scores; the
            returned array may be overwritten, so it must not be model state.
        train: (n_users, n_items) sparse matrix of items to exclude (the user's training items).
        heldout: (n_users, n_items) sparse matrix of relevant items.
        ks: cut-offs, all computed in one pass.
        metrics: metric names from :data:`fusionrec.evaluation.metrics.METRICS`.
        candidates: item indices that may be ranked (cold-start protocol); None = all.
            Held-out items outside the candidates are ignored.
        chunk_size: users scored at once; bounds memory to chunk_size x n_items. None picks
            ``min(4096, 2**25 // n_items)`` (4,096 users for 7,050 items, 33 for a million).
        items: the catalog's training counts and item vectors; when given, the beyond-accuracy
            metrics of the same users' top lists fill :attr:`Evaluation.beyond`. Its ``catalog``
            should be ``candidates``.

    Returns:
        An :class:`Evaluation` over the users with at least one (candidate) held-out item.

    Example:
        >>> evaluation = evaluate_scores(model.score_users, train_csr, test_csr, ks=(20,))  # doctest: +SKIP
        >>> evaluation["recall@20"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    validate_metrics(ks, metrics)
    train_csr, relevant = _check_matrices(train, heldout)
    chunk_size = _chunk_size(chunk_size, relevant.shape[1])
    candidates = _check_candidates(candidates, relevant.shape[1])
    if candidates is not None:
        relevant = _restrict_columns(relevant, candidates)
    n_relevant = np.diff(relevant.indptr)
    users = np.flatnonzero(n_relevant > 0).astype(np.int64)
    lookup = _HeldoutLookup(relevant, min(chunk_size, len(users)))
    per_chunk, lists = [], []
    for chunk in _chunks(users, chunk_size):
        hits, top_items = _chunk_ranking(score_users, chunk, train_csr, lookup, candidates, max(ks))
        per_chunk.append(compute_metrics(hits, n_relevant[chunk], ks, metrics))
        lists.append(top_items)
    per_user = {
        name: np.concatenate([c[name] for c in per_chunk]) if per_chunk else np.zeros(0)
        for name in metric_names(ks, metrics)
    }
    evaluation = Evaluation(users=users, per_user=per_user)
    if items is not None:
        all_lists = np.concatenate(lists) if lists else np.zeros((0, max(ks)), dtype=np.int64)
        evaluation.beyond = beyond_metrics(all_lists, items, ks)
        evaluation.item_vectors = items.vectors_source
    evaluation.seconds = time.perf_counter() - started
    return evaluation


def _chunk_size(chunk_size: int | None, n_items: int) -> int:
    if chunk_size is None:
        return max(1, min(MAX_CHUNK_USERS, CHUNK_SCORES // max(n_items, 1)))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 (or None for automatic), got {chunk_size}")
    return chunk_size


def _chunks(users: np.ndarray, chunk_size: int) -> Iterator[np.ndarray]:
    for start in range(0, len(users), chunk_size):
        yield users[start : start + chunk_size]


def _chunk_ranking(
    score_users: ScoreFunction,
    chunk: np.ndarray,
    train: sp.csr_matrix,
    lookup: _HeldoutLookup,
    candidates: np.ndarray | None,
    k_max: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(hits, lists) of the top ``k_max`` ranked items of each user of ``chunk``.

    ``hits``: bool (len(chunk), k_max) whether each is held out; ``lists``: int64 (len(chunk), k_max)
    the items, -1 where no rankable item is left (an excluded item or a short candidate list).
    """
    scores = _as_score_tensor(score_users(chunk), (len(chunk), train.shape[1]))
    _exclude(scores, train[chunk])
    if candidates is not None:
        scores = scores.index_select(1, torch.from_numpy(candidates))  # (n, n_candidates)
    values, top = torch.topk(scores, min(k_max, scores.shape[1]), dim=1, sorted=True)
    top_values, top_items = values.numpy(), top.numpy()  # (n, k)
    nan_rows = np.flatnonzero(np.isnan(top_values[:, 0]))  # topk ranks NaN first: column 0 shows a row's NaN
    if len(nan_rows):
        raise ModelError(
            f"the model scored NaN for {len(nan_rows):,} of {len(chunk):,} users (e.g. user index "
            f"{chunk[nan_rows[0]]}); scores must be finite or -inf"
        )
    if candidates is not None:
        top_items = candidates[top_items]
    hits = lookup.hits(chunk, top_items)
    ranked = top_values > -np.inf  # excluded items fill the list only when too few remain
    hits &= ranked
    lists = np.where(ranked, top_items, -1).astype(np.int64)
    if hits.shape[1] < k_max:  # fewer candidates than k: the rest are misses and empty slots
        hits = np.pad(hits, ((0, 0), (0, k_max - hits.shape[1])))
        lists = np.pad(lists, ((0, 0), (0, k_max - lists.shape[1])), constant_values=-1)
    return hits, lists


def _as_score_tensor(scores: np.ndarray, expected: tuple[int, int]) -> torch.Tensor:
    """A writable float32 C-contiguous tensor sharing memory with ``scores`` when possible."""
    scores = np.asarray(scores)
    if scores.shape != expected:
        raise ModelError(
            f"score_users returned shape {scores.shape} but {expected} (n_users_in_chunk, n_items) was expected"
        )
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if not scores.flags.writeable:
        scores = scores.copy()
    return torch.from_numpy(scores)


def _exclude(scores: torch.Tensor, seen: sp.csr_matrix) -> None:
    """Set the (row, item) entries of ``seen`` to -inf in place."""
    rows = np.repeat(np.arange(seen.shape[0], dtype=np.int64), np.diff(seen.indptr))
    scores[torch.from_numpy(rows), torch.from_numpy(seen.indices.astype(np.int64))] = -torch.inf


class _HeldoutLookup:
    """Membership of ranked items in held-out sets through one reused dense bool block.

    The block (chunk_size, n_items) is allocated once; each chunk sets its
    held-out entries, reads the ranked positions and clears them again, so
    no per-chunk allocation (and page faulting) is paid.
    """

    def __init__(self, relevant: sp.csr_matrix, chunk_size: int) -> None:
        self.relevant = relevant
        self.block = np.zeros((max(chunk_size, 0), relevant.shape[1]), dtype=bool)

    def hits(self, chunk: np.ndarray, top_items: np.ndarray) -> np.ndarray:
        """bool (len(chunk), k): whether ``top_items[row, r]`` is held out for ``chunk[row]``."""
        sub = self.relevant[chunk]
        rows = np.repeat(np.arange(len(chunk)), np.diff(sub.indptr))
        block = self.block[: len(chunk)]
        block[rows, sub.indices] = True
        try:
            return np.take_along_axis(block, top_items, axis=1)
        finally:
            block[rows, sub.indices] = False


def _check_matrices(train: sp.csr_matrix, heldout: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """CSR train matrix and a canonical boolean held-out matrix of the same shape."""
    if train.shape != heldout.shape:
        raise ValueError(
            f"train has shape {train.shape} but held-out has {heldout.shape}; both must be (n_users, n_items)"
        )
    relevant = heldout.tocsr().astype(np.float32)  # a copy we may canonicalise in place
    relevant.sum_duplicates()
    relevant.eliminate_zeros()
    return train.tocsr(), relevant


def _check_candidates(candidates: np.ndarray | None, n_items: int) -> np.ndarray | None:
    """Sorted unique int64 candidate indices, validated against ``n_items``."""
    if candidates is None:
        return None
    unique = np.unique(np.asarray(candidates, dtype=np.int64))
    if len(unique) and (unique[0] < 0 or unique[-1] >= n_items):
        raise ValueError(
            f"candidates must be item indices in [0, {n_items:,}); got values from {unique[0]} to {unique[-1]}"
        )
    return unique


def _restrict_columns(matrix: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """``matrix`` with every column outside ``keep`` emptied."""
    allowed = np.zeros(matrix.shape[1], dtype=bool)
    allowed[keep] = True
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    inside = allowed[matrix.indices]
    data = np.ones(int(inside.sum()), dtype=bool)
    return sp.csr_matrix((data, (rows[inside], matrix.indices[inside])), shape=matrix.shape)


__all__ = ["DEFAULT_KS", "Evaluation", "ScoreFunction", "evaluate_scores"]
