"""EASE: the closed-form linear item-item model (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019).

A user's score for item ``j`` is ``x_u . B[:, j]``, ``x_u`` the user's binary
training row. ``B`` minimises ``||X - X B||^2 + l2 ||B||^2`` subject to
``diag(B) = 0``, which has a closed form: with
``P = (X^T X + l2 I)^-1``, ``B = I - P diag(1 / diag(P))``, i.e.
``B_ij = -P_ij / P_jj`` off the diagonal.

It is the strong linear baseline of the literature: one matrix inverse, no
epochs, often level with graph models on sparse data. ``B`` is dense, so
memory is ``O(n_items^2)`` (about 3 x 4 bytes x n_items^2 while fitting);
``max_items`` refuses catalogs where that would not fit, with the figure.

Example:
    >>> from fusionrec.models import build_model
    >>> build_model("ease", l2=200.0).fit(split).recommend(["0"], k=3)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.linalg

from fusionrec.errors import ArtifactError, ConfigError
from fusionrec.models.base import Recommender
from fusionrec.models.baseline_configs import DEFAULT_MAX_ITEMS, EASEConfig

if TYPE_CHECKING:
    import scipy.sparse as sp

    from fusionrec.data.dataset import Split


class EASE(Recommender):
    """Linear item-item autoencoder with a zero diagonal, fitted in closed form.

    Args:
        l2: ridge penalty ``lambda``; larger values shrink ``B`` towards zero and damp
            weights resting on few co-occurrences. Chosen on valid (e.g. 20-1,000).
        max_items: the largest catalog fitted (``B`` is a dense n_items x n_items matrix).
    """

    name: ClassVar[str] = "ease"
    config_type: ClassVar[type[EASEConfig]] = EASEConfig

    def __init__(self, l2: float = 200.0, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        if l2 <= 0 or max_items < 1:
            raise ConfigError(f"EASE needs l2 > 0 and max_items >= 1; got l2={l2}, max_items={max_items}")
        super().__init__(l2=l2, max_items=max_items)
        self.l2, self.max_items = l2, max_items
        self.weights_: np.ndarray | None = None

    def _fit(self, split: Split) -> None:
        assert self.train_matrix_ is not None
        check_catalog_size(
            split.n_items,
            self.max_items,
            "raise max_items if the memory is there, or use itemknn, whose similarity is sparse",
        )
        self.weights_ = ease_weights(self.train_matrix_, self.l2)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): binary history (n, n_items) @ B."""
        self._require_fitted()
        assert self.train_matrix_ is not None and self.weights_ is not None
        return ease_scores(self.train_matrix_[user_index], self.weights_)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """``{"weights": B}``, float32 (n_items, n_items)."""
        self._require_fitted()
        assert self.weights_ is not None
        return {"weights": self.weights_}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Restore ``B`` saved by :meth:`state_arrays` for ``split``."""
        weights = np.asarray(arrays["weights"], dtype=np.float32)
        n = split.n_items
        if weights.shape != (n, n):
            raise ArtifactError(
                f"saved EASE weights are {weights.shape[0]:,} x {weights.shape[1]:,} but the split has {n:,} items; "
                "load the artifact with the data it was trained on"
            )
        self.split_, self.train_matrix_, self.weights_ = split, split.train.to_csr(), weights


def check_catalog_size(n_items: int, max_items: int, fix: str) -> None:
    """Raise ``ConfigError`` naming the memory when a dense ``n_items`` x ``n_items`` B would exceed ``max_items``."""
    if n_items > max_items:
        raise ConfigError(
            f"EASE holds a dense {n_items:,} x {n_items:,} item matrix (about {3 * 4 * n_items**2 / 2**30:.1f} GiB "
            f"while fitting) and max_items is {max_items:,}; {fix}"
        )


def ease_scores(history: sp.csr_matrix, weights: np.ndarray) -> np.ndarray:
    """float32 (n, n_items): users' rows (n, n_items; nonzero = interacted), made binary, times ``B``."""
    return np.asarray(history.astype(bool).astype(np.float32) @ weights, dtype=np.float32)


def ease_weights(train: sp.csr_matrix, l2: float) -> np.ndarray:
    """EASE's ``B`` (float32 (n_items, n_items), zero diagonal) of a user-item matrix (nonzero = interacted).

    Example:
        >>> import scipy.sparse as sp
        >>> b = ease_weights(sp.csr_matrix([[1, 1, 0], [1, 1, 1], [0, 1, 1]]), l2=1.0)
        >>> bool(abs(b.diagonal()).max() == 0), b.shape
        (True, (3, 3))
    """
    binary = train.astype(bool).astype(np.float64)
    gram = np.asarray((binary.T @ binary).todense())  # (n_items, n_items)
    gram[np.diag_indices_from(gram)] += l2
    weights = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)  # P; gram is symmetric positive definite
    weights /= -np.diag(weights)  # column j divided by -P_jj, in place
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)
