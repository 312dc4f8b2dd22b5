"""Content-only item kNN: a user's profile is the mean content vector of their training items.

Each modality's features are standardised (per column) and L2-normalised
per item; an item's content vector is the concatenation of its available
modality blocks divided by ``sqrt(#available)``, with a zero block for a
missing modality (excluded, not mean-filled). ``score(u, j) = profile_u .
c_j``, the mean cosine-like similarity between ``j`` and the user's
history. No interaction is needed to score an item, so this is the
baseline for the cold-start protocol. Learned state: ``item_vectors_``.

Example:
    >>> from fusionrec.models.content_knn import ContentKNN
    >>> model = ContentKNN().fit(cold_split)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp

from fusionrec.errors import ArtifactError
from fusionrec.models.base import Recommender
from fusionrec.models.content import require_features

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class ContentKNN(Recommender):
    """Mean content similarity between a candidate and the user's training items (no learning)."""

    name: ClassVar[str] = "content-knn"
    scores_cold_items: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.item_vectors_: np.ndarray | None = None

    def _fit(self, split: Split) -> None:
        require_features(split, self.name)
        dataset = split.dataset
        self.item_vectors_ = content_vectors(dataset.features, {m: dataset.feature_mask(m) for m in dataset.features})

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items) scores: user profile (n, D) @ item vectors (D, n_items)."""
        profiles = self.user_embeddings(user_index)
        assert profiles is not None and self.item_vectors_ is not None
        return np.asarray(profiles @ self.item_vectors_.T, dtype=np.float32)

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        """float32 (n, D) mean content vectors of each user's training items (zeros without history)."""
        self._require_fitted()
        assert self.train_matrix_ is not None and self.item_vectors_ is not None
        history: sp.csr_matrix = self.train_matrix_[user_index]
        counts = np.maximum(np.diff(history.indptr), 1).astype(np.float32)
        return np.asarray(history @ self.item_vectors_, dtype=np.float32) / counts[:, None]

    def item_embeddings(self) -> np.ndarray | None:
        return self.item_vectors_

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The item content vectors, float32 (n_items, D)."""
        self._require_fitted()
        assert self.item_vectors_ is not None
        return {"item_vectors": self.item_vectors_}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Restore the vectors saved by :meth:`state_arrays` for ``split``."""
        vectors = np.asarray(arrays["item_vectors"], dtype=np.float32)
        if vectors.shape[0] != split.n_items:
            raise ArtifactError(
                f"saved content vectors have {vectors.shape[0]:,} rows but the split has {split.n_items:,} items; "
                "load the artifact with the data it was fitted on"
            )
        self.split_, self.train_matrix_, self.item_vectors_ = split, split.train.to_csr(), vectors


def content_vectors(features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
    """float32 (n_items, sum d_m) unit-norm content vectors (zero rows for items without content).

    Args:
        features: ``{modality: (n_items, d_m)}``.
        masks: ``{modality: bool (n_items,)}`` usable rows.
    """
    blocks, present = [], []
    for name in sorted(features):
        values = np.asarray(features[name], dtype=np.float32)
        usable = np.asarray(masks.get(name, np.ones(len(values), bool)), dtype=bool)
        blocks.append(_unit_block(values, usable))
        present.append(usable & np.any(blocks[-1] != 0, axis=1))
    count = np.sum(present, axis=0).astype(np.float32)  # (n_items,) modalities each item has
    scale = np.where(count > 0, 1.0 / np.sqrt(np.maximum(count, 1)), 0.0).astype(np.float32)
    return np.hstack(blocks) * scale[:, None]


def _unit_block(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Columns standardised over usable rows, rows L2-normalised; unusable rows are zero."""
    block = np.zeros_like(values)
    if not usable.any():
        return block
    kept = values[usable]
    kept = (kept - kept.mean(axis=0)) / (kept.std(axis=0) + 1e-6)
    norms = np.linalg.norm(kept, axis=1, keepdims=True)
    block[usable] = np.divide(kept, norms, out=np.zeros_like(kept), where=norms > 0)
    return block
