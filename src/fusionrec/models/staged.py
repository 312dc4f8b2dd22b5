"""A second stage for any scorer: gradient-boosted trees, fitted on valid, reorder each user's best candidates.

``Staged(base="lightgcn")`` fits the base model, then describes each valid
user's ``candidates`` best unseen items by four features (the base score,
its position, log(1 + the item's training interactions) and log(1 + the
user's)) and fits small gradient-boosted trees (:mod:`fusionrec.models.second_stage`)
on which candidate was the user's held-out item. Scoring lifts each user's
candidates above every other item in the trees' order; items past the last
candidate keep the base order. Valid figures read afterwards are in-sample
for the stage (it was fitted there). Why and when it helps:
``docs/decisions/0005-second-stage.md``.

In an experiment file::

    [model]
    name = "staged"
    params = { base = "lightgcn", base_params = { reg_weight = 3.0 }, candidates = 100 }

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("staged", base="pop")
    >>> model.get_params()["base"]
    'pop'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionrec.errors import ConfigError
from fusionrec.models.base import Recommender
from fusionrec.models.second_stage import BoostedTrees, Candidates, fit_trees, reranked_scores
from fusionrec.models.wrapper import ScorerWrapper, WrapperConfig, own_params

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.training import TrainConfig

_STAGE = "stage."
_ROWS = 512  # users whose candidates are built at once: bounds the (rows x n_items) temporaries


class StageConfig(BaseModel):
    """Settings of the second stage (fixed defaults, not tuned on any test set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidates: int = Field(100, ge=2, le=1000, description="each user's best base items the stage reorders")
    trees: int = Field(100, ge=1, le=1000, description="boosting iterations")
    learning_rate: float = Field(0.05, gt=0, le=1)
    leaves: int = Field(8, ge=2, le=256, description="leaves per tree")
    min_leaf: int = Field(200, ge=1, description="fewest candidates per leaf")


class StagedConfig(WrapperConfig, StageConfig):
    """The whole ``staged`` model: the base whose scores the stage reorders, its parameters and the stage."""

    wrapper_name: ClassVar[str] = "staged"
    base: str = Field("fusiongraph", description="the registered name of the model whose scores are reordered")


class Staged(ScorerWrapper):
    """Any registered model with a second stage fitted on valid.

    Args:
        base: the registered name of the model whose scores the stage reorders (not ``staged``).
        base_params: the base model's hyper-parameters.
        candidates, trees, learning_rate, leaves, min_leaf: the stage's settings (:class:`StageConfig`).
        train_config: training settings of a base model trained by gradient descent.
    """

    name: ClassVar[str] = "staged"
    config_type: ClassVar[type[StagedConfig]] = StagedConfig

    def __init__(
        self,
        base: str = "fusiongraph",
        base_params: dict[str, Any] | None = None,
        candidates: int = 100,
        trees: int = 100,
        learning_rate: float = 0.05,
        leaves: int = 8,
        min_leaf: int = 200,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        stage = {"candidates": candidates, "trees": trees, "learning_rate": learning_rate, "leaves": leaves}
        super().__init__(base, base_params, train_config, StageConfig, **stage, min_leaf=min_leaf)
        self.stage = cast(StageConfig, self.settings)
        self.trees_: BoostedTrees | None = None

    @classmethod
    def around(cls, fitted: Recommender, split: Split, **stage: Any) -> Staged:
        """A stage fitted on ``split.valid`` around an already fitted ``fitted`` model (no retraining)."""
        staged = cls(base=fitted.name, base_params=own_params(fitted), **stage)
        staged.base_ = fitted
        staged.split_, staged.train_matrix_ = split, split.train.to_csr()
        staged._fit_stage(split)
        return staged

    def _fit(self, split: Split) -> None:
        self.base_.fit(split)
        self._fit_stage(split)

    def _fit_stage(self, split: Split) -> None:
        valid = split.valid.to_csr()
        users = np.flatnonzero(np.diff(valid.indptr) > 0)
        if not len(users):
            raise ConfigError(
                "a second stage learns from valid's held-out items, but the split's valid part is empty; "
                "split with a valid part or run the base model alone"
            )
        features, labels = [], []
        for start in range(0, len(users), _ROWS):
            chunk = users[start : start + _ROWS]
            candidates = self._candidates(chunk, self.base_.score_users(chunk))
            features.append(candidates.features)
            labels.append(candidates.labels(valid[chunk]))
        self.trees_ = fit_trees(np.vstack(features), np.concatenate(labels), self._boosting())

    def _boosting(self) -> dict[str, Any]:
        stage = self.stage
        return {
            "max_iter": stage.trees,
            "learning_rate": stage.learning_rate,
            "max_leaf_nodes": stage.leaves,
            "min_samples_leaf": stage.min_leaf,
        }

    def _candidates(self, user_index: np.ndarray, scores: np.ndarray) -> Candidates:
        """The candidates of ``user_index`` from their base ``scores`` (n, n_items), computed once by the caller."""
        assert self.train_matrix_ is not None
        seen = self.train_matrix_[user_index]
        item_degree = np.bincount(self.train_matrix_.indices, minlength=scores.shape[1]).astype(np.float64)
        user_degree = np.diff(seen.indptr).astype(np.float64)
        return Candidates.generic(scores, seen, item_degree, user_degree, self.stage.candidates)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the base scores with each user's candidates lifted in the stage's order."""
        self._require_fitted()
        assert self.trees_ is not None
        result = []
        for start in range(0, len(user_index), _ROWS):
            chunk = np.asarray(user_index[start : start + _ROWS])
            scores = self.base_.score_users(chunk)
            result.append(reranked_scores(scores, self._candidates(chunk, scores), self.trees_))
        return np.vstack(result) if result else np.zeros((0, self._require_fitted().n_items), np.float32)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The base model's arrays (``base.*``) and the trees (``stage.*``)."""
        assert self.trees_ is not None
        return self.base_arrays() | self.trees_.arrays(_STAGE)

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.load_base(split, arrays)
        self.trees_ = BoostedTrees.from_arrays(arrays, _STAGE)


__all__ = ["StageConfig", "Staged"]
