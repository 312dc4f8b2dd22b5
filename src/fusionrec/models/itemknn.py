"""ItemKNN: item-to-item cosine similarity on the user-item matrix, top-k neighbours per item.

``sim(i, j) = |U_i & U_j| / (sqrt(|U_i|) sqrt(|U_j|) + shrinkage)`` where
``U_i`` is the set of training users of item ``i``. For every item ``j``
only its ``k`` most similar items are kept, so the similarity is a sparse
(n_items, n_items) matrix with at most ``k`` entries per column, built in
chunks of ``chunk_size`` items (memory O(n_items x (k + chunk_size))).
A user's score for ``j`` is the sum of ``sim(i, j)`` over the items ``i``
in their history that are among ``j``'s neighbours.

Example:
    >>> from fusionrec.models import build_model
    >>> build_model("itemknn", k=50, shrinkage=10.0).fit(split).recommend(["0"], k=3)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp

from fusionrec.errors import ArtifactError, ConfigError
from fusionrec.models.base import Recommender
from fusionrec.models.baseline_configs import ItemKNNConfig

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class ItemKNN(Recommender):
    """Item-based nearest neighbours with cosine similarity.

    The defaults were chosen on Baby's valid split (k in 20..500, shrinkage
    in 0..500; valid Recall@20 0.0806 at k=200, shrinkage=500 against 0.0461
    at k=50, shrinkage=10). Large shrinkage moves the score towards raw
    co-occurrence counts, which suits these sparse 5-core data sets.

    Args:
        k: neighbours kept per item.
        shrinkage: added to the cosine denominator; damps similarities
            resting on few common users.
        chunk_size: items whose similarities are computed at once.
    """

    name: ClassVar[str] = "itemknn"
    config_type: ClassVar[type[ItemKNNConfig]] = ItemKNNConfig

    def __init__(self, k: int = 200, shrinkage: float = 500.0, chunk_size: int = 1024) -> None:
        if k < 1 or chunk_size < 1 or shrinkage < 0:
            raise ConfigError(
                f"ItemKNN needs k >= 1, chunk_size >= 1 and shrinkage >= 0; got k={k}, "
                f"chunk_size={chunk_size}, shrinkage={shrinkage}"
            )
        super().__init__(k=k, shrinkage=shrinkage, chunk_size=chunk_size)
        self.k, self.shrinkage, self.chunk_size = k, shrinkage, chunk_size
        self.similarity_: sp.csr_matrix | None = None

    def _fit(self, split: Split) -> None:
        assert self.train_matrix_ is not None
        self.similarity_ = top_k_cosine(self.train_matrix_, self.k, self.shrinkage, self.chunk_size)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): history (n, n_items) @ similarity (n_items, n_items)."""
        self._require_fitted()
        assert self.train_matrix_ is not None and self.similarity_ is not None
        scores = (self.train_matrix_[user_index] @ self.similarity_).toarray()
        return np.asarray(scores, dtype=np.float32)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The similarity as CSR arrays: ``data``, ``indices``, ``indptr``."""
        self._require_fitted()
        assert self.similarity_ is not None
        matrix = self.similarity_
        return {"data": matrix.data, "indices": matrix.indices, "indptr": matrix.indptr}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Restore the similarity saved by :meth:`state_arrays` for ``split``."""
        n = split.n_items
        indptr = np.asarray(arrays["indptr"])
        if indptr.shape != (n + 1,):
            raise ArtifactError(
                f"saved similarity indptr has {len(indptr):,} entries but the split has {n:,} items "
                f"({n + 1:,} expected); load the artifact with the data it was trained on"
            )
        matrix = sp.csr_matrix((arrays["data"], arrays["indices"], indptr), shape=(n, n))
        self.split_, self.train_matrix_, self.similarity_ = split, split.train.to_csr(), matrix


def top_k_cosine(matrix: sp.csr_matrix, k: int, shrinkage: float = 0.0, chunk_size: int = 1024) -> sp.csr_matrix:
    """Column-wise top-``k`` cosine similarity between the columns of a binary matrix.

    Args:
        matrix: (n_users, n_items) interactions (nonzero = interacted).
        k: entries kept per column (an item is never its own neighbour).
        shrinkage: added to the denominator of the cosine.
        chunk_size: columns computed at once.

    Returns:
        float32 CSR (n_items, n_items); column ``j`` holds ``j``'s neighbours.

    Example:
        >>> import scipy.sparse as sp
        >>> top_k_cosine(sp.csr_matrix([[1, 1, 0], [1, 1, 1]]), k=1).toarray().astype(float).round(2).tolist()
        [[0.0, 1.0, 0.71], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    binary = sp.csr_matrix(matrix).astype(np.float32)
    binary.data[:] = 1.0
    items_by_user = binary.T.tocsr()  # (n_items, n_users)
    norms = np.sqrt(np.asarray(items_by_user.sum(axis=1)).ravel())  # (n_items,)
    n_items = binary.shape[1]
    blocks = [
        _top_k_block(items_by_user, binary, norms, start, min(start + chunk_size, n_items), k, shrinkage)
        for start in range(0, n_items, chunk_size)
    ]
    rows = np.concatenate([b[0] for b in blocks])
    cols = np.concatenate([b[1] for b in blocks])
    values = np.concatenate([b[2] for b in blocks])
    similarity = sp.csr_matrix((values, (rows, cols)), shape=(n_items, n_items), dtype=np.float32)
    similarity.eliminate_zeros()
    return similarity


def _top_k_block(
    items_by_user: sp.csr_matrix,
    binary: sp.csr_matrix,
    norms: np.ndarray,
    start: int,
    stop: int,
    k: int,
    shrinkage: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, cols, values)`` of the top-``k`` similarities of columns ``start:stop``."""
    block = np.asarray((items_by_user @ binary[:, start:stop]).toarray(), dtype=np.float32)  # (n_items, width)
    width = stop - start
    block /= np.outer(norms, norms[start:stop]) + shrinkage + 1e-12
    block[np.arange(start, stop), np.arange(width)] = 0.0  # no self-similarity
    keep = min(k, block.shape[0])
    rows = np.argpartition(-block, keep - 1, axis=0)[:keep]  # (keep, width)
    values = np.take_along_axis(block, rows, axis=0)
    cols = np.broadcast_to(np.arange(start, stop), rows.shape)
    return rows.ravel(), cols.ravel(), values.ravel()
