"""A diversity reranker: maximal marginal relevance over each user's best candidates, around any scorer.

:class:`MMRReranker` wraps a recommender. For each user it takes the
``candidates`` best-scored items the user has not trained on, and orders
them greedily: at each step the item that maximises

    relevance_weight * relevance(i) - (1 - relevance_weight) * max_{j chosen} cos(i, j)

where relevance is the wrapped model's score min-max scaled to [0, 1] over
the user's candidates (so one weight means the same for every model) and the
cosine is taken between item vectors (:func:`similarity_vectors`: the items'
content features, or the model's item vectors where the data has no content).
The first pick is the most relevant item. A weight of 1 keeps the model's
order; lower weights trade relevance for lists whose items differ.

:meth:`MMRReranker.score_users` returns the wrapped model's scores with the
candidates lifted above every other item in the reranked order, so any
ranking of its output (evaluation, ``recommend``) lists them first, then the
rest in the model's order.

Example:
    >>> reranker = MMRReranker(fitted_model, relevance_weight=0.8).fit(split)  # doctest: +SKIP
    >>> evaluate_model(reranker, split, "test").beyond["ild@20"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fusionrec.errors import ConfigError, ModelError
from fusionrec.models.base import Recommender

if TYPE_CHECKING:
    import scipy.sparse as sp

    from fusionrec.data.dataset import Dataset, Split

VectorSource = Literal["auto", "content", "model"]

_UNUSABLE = -np.finfo(np.float64).max
"""MMR value of a padding candidate: below any real candidate's, above a chosen one's (-inf)."""


class MMRConfig(BaseModel):
    """Settings of :class:`MMRReranker`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relevance_weight: float = Field(
        0.8, ge=0.0, le=1.0, description="lambda: 1 keeps the model's order, 0 ranks by dissimilarity alone"
    )
    candidates: int = Field(100, ge=1, description="each user's best-scored unseen items that are reordered")
    similarity: VectorSource = Field(
        "auto", description="item vectors for the cosine: content features, the model's item vectors, or auto"
    )
    users_per_block: int = Field(256, ge=1, description="users reranked at once (bounds the c x c cosine blocks)")


def content_vectors(dataset: Dataset) -> np.ndarray | None:
    """float32 (n_items, dim) the dataset's content features as one vector per item, or None without any.

    Each modality (sorted by name) is standardised per column over its usable rows, its
    missing rows set to 0 (the mean) and each row scaled to unit length, so every modality an
    item has counts equally in a cosine whatever its width; the blocks are concatenated.

    Raises:
        ModelError: a feature array holds NaN or infinite values on usable rows.
    """
    if not dataset.features:
        return None
    blocks = []
    for modality in dataset.modalities:
        values = np.asarray(dataset.features[modality], dtype=np.float64)
        usable = dataset.feature_mask(modality)
        bad = int((~np.isfinite(values[usable])).any(axis=1).sum())
        if bad:
            raise ModelError(f"{bad:,} usable rows of the {modality!r} features hold NaN or infinite values")
        block = np.zeros_like(values)
        if usable.any():
            mean, std = values[usable].mean(axis=0), values[usable].std(axis=0)
            block[usable] = (values[usable] - mean) / np.where(std > 0, std, 1.0)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        blocks.append(np.divide(block, norms, out=np.zeros_like(block), where=norms > 0))
    return np.concatenate(blocks, axis=1).astype(np.float32)


def similarity_vectors(model: Recommender, dataset: Dataset, source: VectorSource = "auto") -> tuple[np.ndarray, str]:
    """(vectors, description): item vectors for item-item cosines and what they are.

    ``"content"``: :func:`content_vectors`; ``"model"``: ``model.item_embeddings()``; ``"auto"``:
    content where the dataset has features, else the model's vectors.

    Raises:
        ConfigError: the chosen source has no vectors (the message says which one would).
    """
    if source in ("auto", "content"):
        content = content_vectors(dataset)
        if content is not None:
            return content, f"content: {'+'.join(dataset.modalities)} standardised, unit length per modality"
        if source == "content":
            raise ConfigError(
                f"similarity='content' but dataset {dataset.name!r} has no content features; "
                "encode them first or use similarity='model'"
            )
    vectors = model.item_embeddings()
    if vectors is None:
        raise ConfigError(
            f"model {model.name!r} has no item vectors and dataset {dataset.name!r} "
            f"{'has no content features' if source == 'auto' else 'was not asked for its content'}; "
            "give the data content features (similarity='content') or wrap a model with item vectors"
        )
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape[0] != dataset.n_items:
        raise ModelError(f"model {model.name!r} has {vectors.shape[0]:,} item vectors for {dataset.n_items:,} items")
    return vectors, f"model item vectors ({model.name}, {vectors.shape[1]}-d)"


def mmr_order(relevance: np.ndarray, usable: np.ndarray, similarity: np.ndarray, relevance_weight: float) -> np.ndarray:
    """int64 (n, c) each user's candidate positions in maximal-marginal-relevance order.

    Args:
        relevance: float (n, c) relevance of each candidate.
        usable: bool (n, c) real candidates; the others are placed last, in their given order.
        similarity: float (n, c, c) cosine between each user's candidates.
        relevance_weight: lambda in [0, 1].

    Ties go to the earlier candidate, so with candidates given best first a weight of 1 keeps their order.

    Example:
        >>> cos = np.array([[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])  # items 0 and 1 alike
        >>> mmr_order(np.array([[1.0, 0.9, 0.5]]), np.ones((1, 3), bool), cos, 0.5).tolist()
        [[0, 2, 1]]
    """
    n, c = relevance.shape
    rows = np.arange(n)
    gain = relevance_weight * np.asarray(relevance, dtype=np.float64)
    chosen = np.zeros((n, c), dtype=bool)
    nearest = np.zeros((n, c))  # max cosine to the chosen items; 0 before the first pick
    order = np.empty((n, c), dtype=np.int64)
    for step in range(c):
        value = np.where(usable, gain - (1.0 - relevance_weight) * nearest, _UNUSABLE)
        value[chosen] = -np.inf
        pick = value.argmax(axis=1)  # the first maximum: the earlier candidate wins a tie
        order[:, step] = pick
        chosen[rows, pick] = True
        picked = similarity[rows, pick]  # (n, c)
        nearest = picked if step == 0 else np.maximum(nearest, picked)
    return order


def lift_candidates(scores: np.ndarray, ordered: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """``scores`` (n, n_items) with the ``ordered`` (n, c) items, where ``usable``, above every other item in order.

    The last of the c gets ``row max + gap`` and each earlier one ``gap`` more, with ``gap`` at least 1 and
    at least ``|row max| / 2**20`` (several float32 steps), so the order survives float32.
    """
    row_max = np.where(np.isfinite(scores), scores, -np.inf).max(axis=1, keepdims=True).astype(np.float64)
    top = np.where(np.isfinite(row_max), row_max, 0.0)  # a row without a finite score lifts from 0
    gap = np.maximum(1.0, np.abs(top) * 2.0**-20)
    lift = top + gap * np.arange(ordered.shape[1], 0, -1)[None, :]  # (n, c)
    result = scores.copy()
    kept = np.take_along_axis(scores, ordered, axis=1)
    np.put_along_axis(result, ordered, np.where(usable, lift, kept).astype(scores.dtype), axis=1)
    return result


def best_unseen(scores: np.ndarray, seen: sp.csr_matrix, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(items, values, usable) of each row's ``count`` best-scored unseen items, best first.

    ``items`` int64 (n, c), ``values`` float64 (n, c) their scores (-inf for a seen item filling a short
    row), ``usable`` bool (n, c) whether each is a real candidate.
    """
    masked = np.array(scores, dtype=np.float64)
    masked[seen.nonzero()] = -np.inf
    count = min(count, masked.shape[1])
    top = np.argpartition(-masked, count - 1, axis=1)[:, :count]
    order = np.argsort(-np.take_along_axis(masked, top, axis=1), axis=1, kind="stable")
    items = np.take_along_axis(top, order, axis=1).astype(np.int64)
    values = np.take_along_axis(masked, items, axis=1)
    return items, values, np.isfinite(values)


def scaled_relevance(values: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """float64 (n, c) ``values`` min-max scaled to [0, 1] over each row's usable entries (0 where all equal)."""
    low = np.where(usable, values, np.inf).min(axis=1, keepdims=True)
    high = np.where(usable, values, -np.inf).max(axis=1, keepdims=True)
    span = high - low
    shifted = np.where(usable, values - np.where(np.isfinite(low), low, 0.0), 0.0)
    return np.divide(shifted, span, out=np.zeros_like(shifted), where=np.isfinite(span) & (span > 0))


class MMRReranker(Recommender):
    """Maximal marginal relevance over the best candidates of any fitted recommender (see the module docstring).

    Args:
        base: the recommender whose scores are reranked. Fitted on the split given to :meth:`fit`,
            it is kept as it is (one model can be reranked at several weights); unfitted, ``fit``
            fits it first.
        config: an :class:`MMRConfig` or its fields as a mapping; keyword arguments override it.
    """

    name: ClassVar[str] = "mmr"

    def __init__(self, base: Recommender, config: MMRConfig | Mapping[str, Any] | None = None, **settings: Any) -> None:
        values = config.model_dump() if isinstance(config, MMRConfig) else dict(config or {})
        try:
            self.config = MMRConfig(**{**values, **settings})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: got {e.get('input')!r}, {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(
                f"invalid MMR settings: {problems}; allowed keys: {sorted(MMRConfig.model_fields)}"
            ) from None
        super().__init__(**self.config.model_dump())
        self.base = base
        self.vectors_: np.ndarray | None = None
        self.vectors_source_: str = "none"

    def _fit(self, split: Split) -> None:
        fitted = self.base.split_
        if fitted is None:
            self.base.fit(split)
        elif fitted is not split:
            raise ModelError(
                f"the wrapped {self.base.name!r} was fitted on another split ({fitted.n_users:,} x "
                f"{fitted.n_items:,}); fit the reranker on the split the model was fitted on"
            )
        vectors, self.vectors_source_ = similarity_vectors(self.base, split.dataset, self.config.similarity)
        self.vectors_ = _unit(vectors)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items) the base's scores with each user's candidates lifted in MMR order."""
        self._require_fitted()
        assert self.train_matrix_ is not None and self.vectors_ is not None
        user_index = np.asarray(user_index, dtype=np.int64)
        scores = np.asarray(self.base.score_users(user_index), dtype=np.float32)
        if np.isnan(scores).any():
            bad = int(np.isnan(scores).any(axis=1).sum())
            raise ModelError(f"the wrapped {self.base.name!r} scored NaN for {bad:,} of {len(scores):,} users")
        block = self.config.users_per_block
        parts = [
            self._rerank(scores[start : start + block], user_index[start : start + block])
            for start in range(0, len(user_index), block)
        ]
        return np.concatenate(parts) if parts else scores

    def _rerank(self, scores: np.ndarray, user_index: np.ndarray) -> np.ndarray:
        """One block of users: candidates, their cosines (n, c, c), the MMR order, the lifted scores."""
        assert self.train_matrix_ is not None and self.vectors_ is not None
        items, values, usable = best_unseen(scores, self.train_matrix_[user_index], self.config.candidates)
        gathered = self.vectors_[items]  # (n, c, dim)
        similarity = gathered @ gathered.transpose(0, 2, 1)  # (n, c, c)
        positions = mmr_order(scaled_relevance(values, usable), usable, similarity, self.config.relevance_weight)
        ordered = np.take_along_axis(items, positions, axis=1)
        return lift_candidates(scores, ordered, np.take_along_axis(usable, positions, axis=1))


def _unit(vectors: np.ndarray) -> np.ndarray:
    """float32 rows of unit length (zero rows stay zero); ModelError for non-finite values."""
    if not np.isfinite(vectors).all():
        raise ModelError("item vectors for the MMR cosine hold NaN or infinite values; they must be finite")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0).astype(np.float32)


__all__ = [
    "MMRConfig",
    "MMRReranker",
    "best_unseen",
    "content_vectors",
    "lift_candidates",
    "mmr_order",
    "scaled_relevance",
    "similarity_vectors",
]
