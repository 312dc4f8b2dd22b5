"""A small content-aware factor model and synthetic catalogs, for demos, tests and load benchmarks.

:class:`ContentFactors` fits in milliseconds: item vectors from a truncated
SVD of the train matrix, plus a ridge map from each modality's features
into the same space, so an item with content but no interactions still gets
a vector (it follows the :class:`~fusionrec.models.base.ContentAware`
protocol). It is a stand-in that exercises every serving path; the models
in :mod:`fusionrec.models` are the ones to deploy.

Example:
    >>> split = synthetic_split(n_users=50, n_items=40)
    >>> model = ContentFactors(dim=8).fit(split)
    >>> len(model.recommend([split.dataset.users.ids[0]], k=3)[0])
    3
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fusionrec.data.dataset import Dataset, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.vocabulary import Vocabulary
from fusionrec.errors import FeatureShapeError
from fusionrec.models.base import Recommender


class ContentFactors(Recommender):
    """Truncated-SVD user and item factors plus a ridge map from content to item factors.

    An item vector is ``id part + sum over modalities of (features @ W_m)``
    (each (n_items, dim)); users are SVD factors, so score = user @ item.T.

    Args:
        dim: factor size ``d``.
        ridge: L2 penalty of the content map.
        seed: random seed of the randomized SVD.
    """

    name: ClassVar[str] = "content-factors"
    scores_cold_items: ClassVar[bool] = True

    def __init__(self, dim: int = 32, ridge: float = 1.0, seed: int = 0) -> None:
        super().__init__(dim=dim, ridge=ridge, seed=seed)
        self.dim, self.ridge, self.seed = dim, ridge, seed
        self.user_vectors_: np.ndarray | None = None
        self.id_vectors_: np.ndarray | None = None
        self.projections_: dict[str, np.ndarray] = {}

    def _fit(self, split: Split) -> None:
        from sklearn.utils.extmath import randomized_svd  # noqa: PLC0415  sklearn loads only when a demo model fits

        matrix = self.train_matrix_
        assert matrix is not None
        rank = max(1, min(self.dim, min(matrix.shape) - 1))
        left, sigma, right = randomized_svd(matrix, n_components=rank, random_state=self.seed)
        root = np.sqrt(sigma)
        users, items = _pad(left * root, self.dim), _pad(right.T * root, self.dim)  # (n_users, d), (n_items, d)
        warm = np.asarray(matrix.sum(axis=0)).ravel() > 0
        self.projections_ = self._fit_projections(split.dataset, items, warm)
        content = np.zeros_like(items)  # (n_items, d) the part content explains
        if self.projections_:
            content = self.content_item_vectors(split.dataset.features, split.dataset.feature_masks)
        self.user_vectors_ = users.astype(np.float32)
        self.id_vectors_ = np.where(warm[:, None], items - content, 0.0).astype(np.float32)

    def _fit_projections(self, dataset: Dataset, targets: np.ndarray, warm: np.ndarray) -> dict[str, np.ndarray]:
        if not dataset.modalities or not warm.any():
            return {}
        blocks = [dataset.features[m] * dataset.feature_mask(m)[:, None] for m in dataset.modalities]
        stacked = np.concatenate(blocks, axis=1)[warm]  # (n_warm, sum of feature dims)
        gram = stacked.T @ stacked + self.ridge * np.eye(stacked.shape[1])
        weights = np.linalg.solve(gram, stacked.T @ targets[warm])  # (sum of feature dims, d)
        bounds = np.cumsum([0] + [block.shape[1] for block in blocks])
        return {m: weights[bounds[i] : bounds[i + 1]].astype(np.float32) for i, m in enumerate(dataset.modalities)}

    def content_item_vectors(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
        """float32 (n, d) item vectors from ``{modality: (n, dim_m)}`` features; masked rows add nothing."""
        n = len(next(iter(features.values()))) if features else 0
        total = np.zeros((n, self.dim), np.float32)
        for modality, projection in self.projections_.items():
            if modality not in features:
                continue
            values = np.asarray(features[modality], np.float32)
            if values.ndim != 2 or values.shape[1] != projection.shape[0]:
                raise FeatureShapeError(
                    f"{modality} features have shape {values.shape}; (n, {projection.shape[0]}) is expected"
                )
            mask = np.asarray(masks.get(modality, np.ones(n, bool)), bool)
            total += (values * mask[:, None]) @ projection
        return total

    def modality_item_vectors(self) -> dict[str, np.ndarray]:
        """``{"id": (n_items, d), modality: (n_items, d)}``; the parts sum to :meth:`item_embeddings`."""
        split = self._require_fitted()
        assert self.id_vectors_ is not None
        dataset = split.dataset
        parts = {"id": self.id_vectors_}
        for modality in self.projections_:
            parts[modality] = self.content_item_vectors(
                {modality: dataset.features[modality]}, {modality: dataset.feature_mask(modality)}
            )
        return parts

    def item_embeddings(self) -> np.ndarray | None:
        if self.id_vectors_ is None:
            return None
        # added in place, part after part (the order np.sum over a stack of them adds in): stacking them first
        # would copy every part into a (parts, n_items, d) array
        first, *rest = self.modality_item_vectors().values()
        total = first.astype(np.float32)
        for part in rest:
            total += part
        return total

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        return None if self.user_vectors_ is None else self.user_vectors_[user_index]

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        self._require_fitted()
        items = self.item_embeddings()
        assert self.user_vectors_ is not None and items is not None
        return self.user_vectors_[user_index] @ items.T

    def state_arrays(self) -> dict[str, np.ndarray]:
        assert self.user_vectors_ is not None and self.id_vectors_ is not None, "fit() first"
        arrays = {"user_vectors": self.user_vectors_, "id_vectors": self.id_vectors_}
        arrays.update({f"projection/{m}": w for m, w in self.projections_.items()})
        return arrays

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.split_, self.train_matrix_ = split, split.train.to_csr()
        self.user_vectors_ = np.asarray(arrays["user_vectors"], np.float32)
        self.id_vectors_ = np.asarray(arrays["id_vectors"], np.float32)
        self.projections_ = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("projection/")}


def _pad(values: np.ndarray, dim: int) -> np.ndarray:
    """Zero-pad (n, r) to (n, dim) when the data has fewer than ``dim`` singular values."""
    return np.pad(values, ((0, 0), (0, dim - values.shape[1]))) if values.shape[1] < dim else values


def synthetic_split(
    n_users: int = 200,
    n_items: int = 120,
    n_topics: int = 6,
    per_user: int = 12,
    modalities: tuple[str, ...] = ("image", "text"),
    feature_dim: int = 16,
    seed: int = 0,
) -> Split:
    """A catalog where each user likes items of one or two topics, and content reveals the topic.

    Every interaction is in train (valid and test are empty): this is data to
    serve, not to evaluate. Items get titles and ``posters/<id>.png`` paths
    in ``item_table`` (the image files are not written).

    Example:
        >>> synthetic_split(n_users=10, n_items=12).n_items
        12
    """
    rng = np.random.default_rng(seed)
    topic = rng.integers(0, n_topics, n_items)
    users, items = [], []
    for user in range(n_users):
        liked = np.flatnonzero(np.isin(topic, rng.choice(n_topics, size=2, replace=False)))
        chosen = rng.choice(liked, size=min(per_user, len(liked)), replace=False)
        users.append(np.full(len(chosen), user))
        items.append(chosen)
    user_ids = [f"u{u}" for u in range(n_users)]
    item_ids = [f"i{i}" for i in range(n_items)]
    train = Interactions(np.concatenate(users), np.concatenate(items), n_users, n_items)
    dataset = Dataset("synthetic", Vocabulary(tuple(user_ids), "user"), Vocabulary(tuple(item_ids), "item"), train)
    dataset.item_table = _item_table(item_ids, topic)
    centres = rng.standard_normal((n_topics, feature_dim))
    for modality in modalities:
        values = centres[topic] + 0.3 * rng.standard_normal((n_items, feature_dim))
        dataset.add_feature(modality, values.astype(np.float32), source=f"synthetic {modality}")
    empty = Interactions.empty(n_users, n_items)
    return Split(dataset, train, empty, empty, description="synthetic serving data (all train)")


def _item_table(item_ids: list[str], topic: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": item_ids,
            "title": [f"Item {raw} (topic {t})" for raw, t in zip(item_ids, topic, strict=True)],
            "poster": [f"posters/{raw}.png" for raw in item_ids],
        }
    )


def random_factor_model(n_users: int, n_items: int, dim: int = 64, per_user: int = 20, seed: int = 0) -> ContentFactors:
    """A :class:`ContentFactors` with random clustered vectors over a large synthetic catalog (no training).

    Used by the load benchmark to serve, e.g., 1,000,000 items without
    fitting anything: item vectors are drawn around 256 random centres and
    each user around one of them.
    """
    rng = np.random.default_rng(seed)
    train = Interactions(
        np.repeat(np.arange(n_users), per_user), rng.integers(0, n_items, n_users * per_user), n_users, n_items
    )
    users = Vocabulary(tuple(f"u{u}" for u in range(n_users)), "user")
    items = Vocabulary(tuple(f"i{i}" for i in range(n_items)), "item")
    empty = Interactions.empty(n_users, n_items)
    split = Split(Dataset("synthetic-large", users, items, train), train, empty, empty)
    centres = rng.standard_normal((256, dim)).astype(np.float32)
    item_vectors = centres[rng.integers(0, 256, n_items)] + 0.5 * rng.standard_normal((n_items, dim), np.float32)
    # users lean towards one cluster, as trained user vectors do; isotropic random users would make the
    # exact top-k a scatter of outliers that no approximate index finds
    user_vectors = centres[rng.integers(0, 256, n_users)] + 0.5 * rng.standard_normal((n_users, dim), np.float32)
    arrays: dict[str, Any] = {"user_vectors": user_vectors, "id_vectors": item_vectors}
    model = ContentFactors(dim=dim, seed=seed)
    model.load_state_arrays(split, arrays)
    return model


__all__ = ["ContentFactors", "random_factor_model", "synthetic_split"]
