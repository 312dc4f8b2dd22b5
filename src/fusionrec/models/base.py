"""The recommender contract every model follows.

A recommender is built from keyword hyper-parameters only (no I/O, no
work), learns in ``fit(split) -> self`` and then scores users against
items. Learned state ends in ``_``. One user and many users go through the
same code: :meth:`Recommender.score_users` takes an index array.

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("pop")
    >>> model.fit(split).recommend(["u1"], k=5)  # doctest: +SKIP
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from fusionrec.errors import ModelError
from fusionrec.models.model_config import validated_config

if TYPE_CHECKING:
    from typing import Self

    import scipy.sparse as sp
    from pydantic import BaseModel

    from fusionrec.data.dataset import Split


class Recommender(ABC):
    """Base class of every model.

    Subclasses set ``name`` (the registry key), accept their
    hyper-parameters as keyword arguments in ``__init__`` and implement
    :meth:`_fit` and :meth:`score_users`. A model declares its typed config
    as ``config_type`` (fields = those keyword arguments); the parameters are
    validated by it here, so a bad key or value is a ConfigError naming it.
    """

    name: ClassVar[str] = "base"
    #: True when the model can score items that have no training interaction.
    scores_cold_items: ClassVar[bool] = False
    #: True when the constructor takes ``train_config`` (models trained by gradient descent, and wrappers of them).
    takes_train_config: ClassVar[bool] = False
    #: The pydantic config of the keyword hyper-parameters (``extra="forbid"``); None for a plug-in without one.
    config_type: ClassVar[type[BaseModel] | None] = None

    def __init__(self, **params: Any) -> None:
        if self.config_type is not None:
            validated_config(self.name, self.config_type, params)
        self.params: dict[str, Any] = dict(params)
        self.split_: Split | None = None
        self.train_matrix_: sp.csr_matrix | None = None

    def get_params(self) -> dict[str, Any]:
        """The hyper-parameters this model was built with."""
        return dict(self.params)

    def fit(self, split: Split) -> Self:
        """Learn from ``split.train`` (``split.valid`` may drive early stopping; test is never read)."""
        self.split_ = split
        self.train_matrix_ = split.train.to_csr()
        self._fit(split)
        return self

    @abstractmethod
    def _fit(self, split: Split) -> None:
        """Model-specific learning; ``self.train_matrix_`` is ready."""

    @abstractmethod
    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """Scores of every item for each user.

        Args:
            user_index: int64 (n,) user indices.

        Returns:
            float32 (n, n_items); higher is better. Seen items are not masked here.
        """

    def item_embeddings(self) -> np.ndarray | None:
        """float32 (n_items, d) item vectors for retrieval, or None if the model has none."""
        return None

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        """float32 (n, d) user vectors such that score = user @ item.T, or None."""
        return None

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Learned state as named arrays, for saving an artifact (never pickled).

        Together with :meth:`get_params` and the training data this must be
        enough for :meth:`load_state_arrays` to give identical scores.
        """
        raise ModelError(f"{type(self).__name__} cannot be saved yet: it does not implement state_arrays()")

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Restore learned state saved by :meth:`state_arrays` for ``split`` (no training)."""
        raise ModelError(f"{type(self).__name__} cannot be loaded: it does not implement load_state_arrays()")

    def _require_fitted(self) -> Split:
        if self.split_ is None:
            raise ModelError(f"{type(self).__name__} is not fitted; call fit(split) before scoring")
        return self.split_

    def recommend(self, user_ids: list[str], k: int = 10, exclude_seen: bool = True) -> list[list[tuple[str, float]]]:
        """Top-``k`` ``(item_id, score)`` lists for raw ``user_ids``.

        Example:
            >>> model.recommend(["196"], k=3)  # doctest: +SKIP
            [[('50', 4.1), ('181', 3.9), ('100', 3.7)]]
        """
        split = self._require_fitted()
        if k < 1:
            raise ModelError(f"k must be at least 1, got {k}")
        user_index = split.dataset.users.index(user_ids, source="recommend()")
        scores = self.score_users(user_index)
        if exclude_seen and self.train_matrix_ is not None:
            mask_seen(scores, self.train_matrix_, user_index)
        top = top_k(scores, k)
        items = split.dataset.items
        return [[(items.ids[j], float(scores[row, j])) for j in top[row]] for row in range(len(user_index))]


def mask_seen(scores: np.ndarray, matrix: sp.csr_matrix, user_index: np.ndarray) -> None:
    """Set ``scores[row, item] = -inf`` in place for every item ``matrix`` holds for that user."""
    sub = matrix[user_index]
    rows = np.repeat(np.arange(len(user_index)), np.diff(sub.indptr))
    scores[rows, sub.indices] = -np.inf


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of the ``k`` highest scores per row, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


@runtime_checkable
class ContentAware(Protocol):
    """A recommender that can place items in its space from content alone (cold items).

    ``content_item_vectors`` returns vectors in the same space as
    :meth:`Recommender.item_embeddings`, so a new item can be added to a
    retrieval index without retraining; ``modality_item_vectors`` splits
    each item vector into per-modality parts for explanations.
    """

    def content_item_vectors(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
        """float32 (n, d) item vectors from ``{modality: (n, dim)}`` features and bool (n,) masks."""
        ...

    def modality_item_vectors(self) -> dict[str, np.ndarray]:
        """``{modality or "id": float32 (n_items, d)}`` parts whose contributions explain a score."""
        ...


@runtime_checkable
class UserContentAware(Protocol):
    """A recommender whose user vectors read user content (an embedded profile), so a new profile moves a user.

    ``content_user_vectors`` gives trained users' vectors, in the space of
    :meth:`Recommender.user_embeddings`, as if their content were ``content``;
    None when the fitted model has no user content path.
    """

    def content_user_vectors(self, user_index: np.ndarray, content: np.ndarray) -> np.ndarray | None:
        """float32 (m, d) vectors of the users ``user_index`` (int (m,)) with content float32 (m, d_content)."""
        ...
