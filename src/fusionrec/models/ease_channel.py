"""EASE's item-item scores as a fixed channel added to a model's score after training.

For user ``u`` with binary training row ``x_u`` the channel adds
``w * z_u(x_u B)``, where ``B`` is EASE's item-item weight matrix
(:func:`~fusionrec.models.ease.ease_weights`) and ``z_u`` standardises the
row over the catalog (minus its mean, over its standard deviation), so the
channel speaks with the same weight for a user with one item as for one
with three hundred. Nothing is learned with the model: ``B`` is fitted in
closed form on the same training matrix once the model has trained.

Why: a linear item-item model holds co-occurrence the graph model misses
(the evidence is in ``docs/decisions/0004-ease-channel.md``).

The channel is not a dot product of fixed vectors, so vector retrieval
alone leaves it out: :meth:`EaseChannel.history_scores` gives the full
catalog row for one history, which the service adds to the exact vector
scores (see :mod:`fusionrec.serve.ranking`).

Example:
    >>> channel = EaseChannel.fit(train_matrix, l2=200.0, weight=0.005)  # doctest: +SKIP
    >>> scores = model_scores + channel.scores(train_matrix[users])  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from fusionrec.models.ease import DEFAULT_MAX_ITEMS, check_catalog_size, ease_scores, ease_weights

if TYPE_CHECKING:
    import scipy.sparse as sp


@dataclass(frozen=True)
class EaseChannel:
    """``weight`` times EASE's standardised scores of a history.

    Attributes:
        weights: float32 (n_items, n_items) EASE's ``B`` (zero diagonal).
        weight: the channel's weight in the score.
    """

    weights: np.ndarray
    weight: float

    @classmethod
    def fit(cls, train: sp.csr_matrix, l2: float, weight: float, max_items: int = DEFAULT_MAX_ITEMS) -> EaseChannel:
        """Fit ``B`` on a user-item training matrix (nonzero = interacted)."""
        check_catalog_size(train.shape[1], max_items, "set ease_channel.weight=0 to train without the EASE channel")
        return cls(ease_weights(train, l2), weight)

    @property
    def n_items(self) -> int:
        return len(self.weights)

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        """float32 (n, n_items): the channel for n users' training rows (n, n_items), nonzero = interacted."""
        return self.weight * standardised(ease_scores(history, self.weights))

    def history_scores(self, items: np.ndarray, n_items: int) -> np.ndarray:
        """float32 (n_items,) channel of one history of item indices, over a catalog of ``n_items``.

        Items outside ``B`` (added to the catalog after training) have no
        co-occurrences: in the history they are left out, and in the row they
        score what an item without training interactions scores.
        """
        known = np.unique(items[(items >= 0) & (items < self.n_items)])
        raw = self.weights[known].sum(axis=0, dtype=np.float32)[None]  # (1, n_items of B)
        centred = raw - raw.mean()
        spread = float(centred.std())
        row = np.zeros((1, max(n_items, self.n_items)), np.float32)
        if spread > 0:
            row[:, : self.n_items] = centred / spread
            row[:, self.n_items :] = -raw.mean() / spread
        return self.weight * row[0, :n_items]


@runtime_checkable
class WithEaseChannel(Protocol):
    """A model whose score adds an EASE channel to its vectors' product (the service must add it too)."""

    def ease_channel(self) -> EaseChannel | None:
        """The fitted channel, or None when the model scores by its vectors alone."""
        ...


def standardised(scores: np.ndarray) -> np.ndarray:
    """Each row minus its mean, over its standard deviation (rows without spread are all zero).

    Example:
        >>> standardised(np.array([[1.0, 3.0], [2.0, 2.0]], np.float32)).tolist()
        [[-1.0, 1.0], [0.0, 0.0]]
    """
    centred = scores - scores.mean(1, keepdims=True)
    spread = centred.std(1, keepdims=True)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 0)
