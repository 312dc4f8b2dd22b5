"""Content-only item kNN: a user's profile is the mean content vector of their training items.

Each modality's features are standardised (per column, with the
catalog's statistics) and L2-normalised per item; an item's content vector
is the concatenation of its available modality blocks divided by
``sqrt(#available)``, with a zero block for a missing modality (excluded,
not mean-filled); see :class:`ContentSpace`. ``score(u, j) = profile_u .
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

from fusionrec.errors import ArtifactError, FeatureShapeError
from fusionrec.models.base import Recommender
from fusionrec.models.baseline_configs import ContentKNNConfig
from fusionrec.models.content import require_features

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class ContentKNN(Recommender):
    """Mean content similarity between a candidate and the user's training items (no learning)."""

    name: ClassVar[str] = "content-knn"
    config_type: ClassVar[type[ContentKNNConfig]] = ContentKNNConfig
    scores_cold_items: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.item_vectors_: np.ndarray | None = None

    def _fit(self, split: Split) -> None:
        require_features(split, self.name)
        dataset = split.dataset
        self.item_vectors_ = content_vectors(dataset.features, dataset.all_feature_masks())

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


class ContentSpace:
    """Fixed content vectors: each modality standardised with the catalog's statistics, then L2-normalised.

    An item's vector is the concatenation of its available modality blocks
    divided by ``sqrt(#available)`` (unit norm); a missing modality's block
    is zero (excluded, not mean-filled) and an item without content is the
    zero vector. Statistics come from the usable catalog rows, so new items
    are placed with the same ones.

    Args:
        features: ``{modality: (n_items, d_m)}`` of the catalog.
        masks: ``{modality: bool (n_items,)}`` usable rows (missing = all usable).
    """

    def __init__(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> None:
        self.modalities = sorted(features)
        self.means: dict[str, np.ndarray] = {}
        self.scales: dict[str, np.ndarray] = {}
        for name in self.modalities:
            values = np.asarray(features[name], dtype=np.float32)
            usable = _usable(values, masks.get(name))
            kept = values[usable] if usable.any() else np.zeros((1, values.shape[1]), np.float32)
            self.means[name], self.scales[name] = kept.mean(axis=0), kept.std(axis=0) + 1e-6

    @property
    def dim(self) -> int:
        """Length of a content vector (the sum of the modality sizes)."""
        return sum(len(self.means[name]) for name in self.modalities)

    def blocks(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{modality: float32 (n, dim)}`` parts, each zero outside its own columns; they sum to :meth:`transform`."""
        total = self.transform(features, masks)
        parts, start = {}, 0
        for name in self.modalities:
            width = len(self.means[name])
            if name in features:
                part = np.zeros_like(total)
                part[:, start : start + width] = total[:, start : start + width]
                parts[name] = part
            start += width
        return parts

    def transform(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
        """float32 (n, dim) unit content vectors of items given by ``features`` (any subset of modalities)."""
        n = len(next(iter(features.values())))
        total, present, start = np.zeros((n, self.dim), dtype=np.float32), np.zeros(n, dtype=np.float32), 0
        for name in self.modalities:
            width = len(self.means[name])
            if name in features:
                unit = self._unit(name, np.asarray(features[name], dtype=np.float32), masks.get(name))
                total[:, start : start + width] = unit
                present += np.any(unit != 0, axis=1)
            start += width
        total *= np.where(present > 0, 1.0 / np.sqrt(np.maximum(present, 1)), 0.0).astype(np.float32)[:, None]
        return total

    def _unit(self, name: str, values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        if values.ndim != 2 or values.shape[1] != len(self.means[name]):
            raise FeatureShapeError(
                f"{name} features have shape {values.shape}; ({len(values)}, {len(self.means[name])}) is expected, "
                "the size the model was fitted with"
            )
        usable = _usable(values, mask)
        block = np.zeros_like(values)
        standard = (values[usable] - self.means[name]) / self.scales[name]
        norms = np.linalg.norm(standard, axis=1, keepdims=True)
        block[usable] = np.divide(standard, norms, out=np.zeros_like(standard), where=norms > 0)
        return block


def content_vectors(features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
    """float32 (n_items, sum d_m) unit-norm content vectors of a catalog (see :class:`ContentSpace`)."""
    return ContentSpace(features, masks).transform(features, masks)


def _usable(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """bool (n,): rows the mask allows whose values are all finite."""
    usable = np.ones(len(values), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    return usable & np.isfinite(values).all(axis=1)
