"""Uniform random scores: the floor every model must clear, warm or cold.

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("random", seed=3)
    >>> model.get_params()
    {'seed': 3}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from fusionrec.models.base import Recommender
from fusionrec.models.baseline_configs import RandomConfig

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class RandomRanking(Recommender):
    """Seeded uniform random scores of every item (no learning).

    Args:
        seed: seed of the generator; the same seed gives the same scores for the same calls.
    """

    name: ClassVar[str] = "random"
    config_type: ClassVar[type[RandomConfig]] = RandomConfig
    scores_cold_items: ClassVar[bool] = True

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed=seed)
        self.rng_: np.random.Generator | None = None

    def _fit(self, split: Split) -> None:
        self.rng_ = np.random.default_rng(self.params["seed"])

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items) uniform scores in [0, 1)."""
        split = self._require_fitted()
        assert self.rng_ is not None
        return self.rng_.random((len(user_index), split.n_items), dtype=np.float32)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Nothing is learned: the seed in the parameters rebuilds the generator."""
        return {}

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.split_, self.train_matrix_ = split, split.train.to_csr()
        self._fit(split)
