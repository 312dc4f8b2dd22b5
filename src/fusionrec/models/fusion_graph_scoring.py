"""What the flagship adds to its vectors' product once trained: the EASE channel and the second stage.

:class:`ScoreAddOns` holds both, fitted after training (early stopping
scores without them), and applies them wherever the flagship scores: a
batch of known users (:meth:`ScoreAddOns.apply`) and one query vector over
the catalog as served (:meth:`ScoreAddOns.query`). The second stage here
reads the parts of the flagship's score (each member's cosine, the content
channel, the EASE channel, :class:`~fusionrec.models.second_stage.ScoreParts`);
:class:`~fusionrec.models.staged.Staged` is the same stage around any scorer.

Example:
    >>> addons = ScoreAddOns(members=1, embedding_dim=128)  # doctest: +SKIP
    >>> addons.fit_ease(train, EaseChannelConfig(weight=0.005))  # doctest: +SKIP
    >>> addons.fit_stage(split, train, user_vectors, item_vectors)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from fusionrec.errors import ConfigError
from fusionrec.models.ease_channel import EaseChannel
from fusionrec.models.second_stage import BoostedTrees, Candidates, ScoreParts, fit_trees, reranked_scores

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.fusion_graph_config import EaseChannelConfig

STAGE_PREFIX = "second_stage."
"""Prefix of the second stage's arrays in the flagship's saved state."""

_STAGE_ROWS = 512  # users whose candidates are built at once: bounds the stage's (rows x n_items) temporaries


class ScoreAddOns:
    """The EASE channel and the second stage of one fitted flagship.

    Args:
        members, embedding_dim: the layout of the flagship's vectors: ``members`` unit blocks of
            ``embedding_dim`` columns (over sqrt(members)), then the content channel's columns.
    """

    def __init__(self, members: int, embedding_dim: int) -> None:
        self.members, self.embedding_dim = members, embedding_dim
        self.ease: EaseChannel | None = None
        self.stage: BoostedTrees | None = None

    @property
    def active(self) -> bool:
        """Whether anything is added to the vectors' product."""
        return self.ease is not None or self.stage is not None

    def fit_ease(self, train: sp.csr_matrix, settings: EaseChannelConfig) -> None:
        """Fit the EASE channel on the training matrix when ``settings.weight`` > 0."""
        self.ease = EaseChannel.fit(train, settings.l2, settings.weight) if settings.weight else None

    def fit_stage(self, split: Split, train: sp.csr_matrix, users: np.ndarray, items: np.ndarray) -> None:
        """The second stage, fitted on the held-out items of ``split.valid``'s users from the vectors
        ``users`` (n_users, D) and ``items`` (n_items, D)."""
        valid = split.valid.to_csr()
        rows = np.flatnonzero(np.diff(valid.indptr) > 0)
        if not len(rows):
            raise ConfigError(
                "second_stage=True needs valid interactions to learn from, but the split's valid part is empty; "
                "split with a valid part or set second_stage=False"
            )
        degree, features, labels = item_degree(train, split.n_items), [], []
        for chunk in _chunks(len(rows)):
            chosen = rows[chunk]
            history = train[chosen]
            ease = None if self.ease is None else self.ease.scores(history)
            candidates = self._candidates(users[chosen], items, ease, history, history, degree)
            features.append(candidates.features)
            labels.append(candidates.labels(valid[chosen]))
        self.stage = fit_trees(np.vstack(features), np.concatenate(labels))

    def first_stage(self, scores: np.ndarray, history: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray | None]:
        """``(scores + the EASE channel, the channel's part or None)`` for users' training rows ``history``."""
        ease = None if self.ease is None else self.ease.scores(history)
        if ease is not None:
            scores += ease
        return scores, ease

    def apply(
        self,
        scores: np.ndarray,
        users: np.ndarray,
        items: np.ndarray,
        history: sp.csr_matrix,
        train: sp.csr_matrix,
    ) -> np.ndarray:
        """float32 (n, n_items): vector ``scores`` with the EASE channel and each row's candidates reordered."""
        scores, ease = self.first_stage(scores, history)
        if self.stage is None:
            return scores
        return self._staged(scores, users, items, ease, history, history, item_degree(train, len(items)))

    def query(
        self,
        scores: np.ndarray,
        query: np.ndarray,
        items: np.ndarray,
        history: np.ndarray,
        seen: np.ndarray,
        train: sp.csr_matrix,
    ) -> np.ndarray:
        """float32 (n_items,): one query's vector ``scores`` (1, n_items) with the add-ons of ``history``
        (item indices; the stage never picks ``seen`` items) over ``items`` (the catalog as served)."""
        n_items = len(items)
        ease = None
        if self.ease is not None:
            ease = self.ease.history_scores(np.asarray(history, dtype=np.int64), n_items)[None, :]
            scores += ease
        if self.stage is not None:
            degree = item_degree(train, n_items)
            scores = self._staged(
                scores, query[None, :], items, ease, _row(history, n_items), _row(seen, n_items), degree
            )
        return np.asarray(scores[0])

    def arrays(self) -> dict[str, np.ndarray]:
        """The second stage's trees (``second_stage.*``); the EASE channel is refitted from the data."""
        return {} if self.stage is None else self.stage.arrays(STAGE_PREFIX)

    def load_stage(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the trees saved by :meth:`arrays` (none saved = no stage)."""
        stage = {k: v for k, v in arrays.items() if k.startswith(STAGE_PREFIX)}
        self.stage = BoostedTrees.from_arrays(stage, STAGE_PREFIX) if stage else None

    def _staged(
        self,
        scores: np.ndarray,
        users: np.ndarray,
        items: np.ndarray,
        ease: np.ndarray | None,
        history: sp.csr_matrix,
        seen: sp.csr_matrix,
        degree: np.ndarray,
    ) -> np.ndarray:
        """``scores`` (n, n_items) with each row's candidates reordered by the second stage, in row chunks."""
        assert self.stage is not None
        result = np.empty_like(scores)
        for rows in _chunks(len(scores)):
            part = None if ease is None else ease[rows]
            candidates = self._candidates(users[rows], items, part, history[rows], seen[rows], degree)
            result[rows] = reranked_scores(scores[rows], candidates, self.stage)
        return result

    def _candidates(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ease: np.ndarray | None,
        history: sp.csr_matrix,
        seen: sp.csr_matrix,
        degree: np.ndarray,
    ) -> Candidates:
        """The second stage's candidates of ``users`` (n, D) and their features."""
        parts = self._score_parts(users, items, ease)
        return Candidates.build(parts, seen, degree, np.diff(history.indptr).astype(np.float64))

    def _score_parts(self, users: np.ndarray, items: np.ndarray, ease: np.ndarray | None) -> ScoreParts:
        """The first stage's score of ``users`` (n, D) over ``items`` by part: members, content, EASE."""
        members, dim = self.members, self.embedding_dim
        blocks = [slice(m * dim, (m + 1) * dim) for m in range(members)]
        cosines = tuple(members * (users[:, b] @ items[:, b].T) for b in blocks)
        learned = members * dim
        content = users[:, learned:] @ items[:, learned:].T if users.shape[1] > learned else np.zeros_like(cosines[0])
        return ScoreParts(cosines, content, np.zeros_like(cosines[0]) if ease is None else ease)


def item_degree(train: sp.csr_matrix, n_items: int) -> np.ndarray:
    """float64 (n_items,) training interactions of each item (0 for items added after training)."""
    counts = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64)
    return np.pad(counts, (0, max(0, n_items - len(counts))))[:n_items]


def _chunks(n: int, size: int = _STAGE_ROWS) -> Iterator[slice]:
    """Consecutive row slices of at most ``size`` covering ``range(n)``."""
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


def _row(items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """A (1, n_items) binary row of ``items``."""
    items = np.unique(np.asarray(items, dtype=np.int64))
    items = items[(items >= 0) & (items < n_items)]
    return sp.csr_matrix((np.ones(len(items), np.float32), (np.zeros(len(items), np.int64), items)), (1, n_items))


__all__ = ["STAGE_PREFIX", "ScoreAddOns", "item_degree"]
