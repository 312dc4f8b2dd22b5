"""Popularity: every user gets the items with the most training interactions.

The floor any personalised model must clear, and the fallback for users
with no history.

Example:
    >>> from fusionrec.models import build_model
    >>> build_model("pop").fit(split).recommend(["0"], k=3)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from fusionrec.errors import ArtifactError
from fusionrec.models.base import Recommender
from fusionrec.models.baseline_configs import PopularityConfig

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class Popularity(Recommender):
    """Scores every item by its number of training interactions (the same list for every user)."""

    name: ClassVar[str] = "pop"
    config_type: ClassVar[type[PopularityConfig]] = PopularityConfig

    def __init__(self) -> None:
        super().__init__()
        self.item_counts_: np.ndarray | None = None

    def _fit(self, split: Split) -> None:
        assert self.train_matrix_ is not None
        counts = np.asarray(self.train_matrix_.sum(axis=0)).ravel()  # (n_items,)
        self.item_counts_ = counts.astype(np.float32)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): each row is the item counts."""
        self._require_fitted()
        assert self.item_counts_ is not None
        return np.tile(self.item_counts_, (len(user_index), 1))

    def state_arrays(self) -> dict[str, np.ndarray]:
        """``{"item_counts": float32 (n_items,)}``."""
        self._require_fitted()
        assert self.item_counts_ is not None
        return {"item_counts": self.item_counts_}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Restore the counts saved by :meth:`state_arrays` for ``split``."""
        counts = np.asarray(arrays["item_counts"], dtype=np.float32)
        if counts.shape != (split.n_items,):
            raise ArtifactError(
                f"saved item_counts has shape {counts.shape} but the split has {split.n_items:,} items; "
                "load the artifact with the data it was trained on"
            )
        self.split_, self.train_matrix_, self.item_counts_ = split, split.train.to_csr(), counts
