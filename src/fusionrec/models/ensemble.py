"""An ensemble of any scorer: ``count`` copies trained apart from seeds ``seed_stride`` apart, scored together.

``Ensemble(base="lightgcn", count=2)`` builds two LightGCNs that differ only
in their seed, fits them one after another, each with its own
optimiser and early stopping on valid, and scores by the mean of their
scores. Member ``k`` of a base with seed ``s`` trains with seed
``s + seed_stride * k`` (by default the flagship's
:data:`~fusionrec.models.fusion_graph_apart.MEMBER_SEED_STRIDE`), so member 0 is
exactly the base model alone. The seed moved is the base's
``train_config.seed`` when it trains by gradient descent, otherwise its own
``seed`` parameter; a deterministic base (EASE, ItemKNN) is refused, since
its copies would be identical. Why members pay is in
``docs/decisions/0003-ensemble-members.md``: independently initialised
copies disagree on the items behaviour says little about.

``combine = "mean"`` (the flagship's rule) averages the raw scores, and the
members' vectors joined side by side over sqrt(count) give the same scores
as a product, so vector retrieval serves the ensemble; ``"standardised"``
averages each member's scores standardised per user, for members whose
score scales drift apart (dot-product models), and has no vectors.
In an experiment file, "LightGCN x 2 + second stage" is::

    [model]
    name = "staged"
    params = { base = "ensemble", base_params = { base = "lightgcn", count = 2 } }

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("ensemble", base="random", count=3)
    >>> [member.get_params()["seed"] for member in model.members_]
    [0, 1000, 2000]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np
from pydantic import BaseModel, Field

from fusionrec.errors import ConfigError
from fusionrec.evaluation.ranking import evaluate_scores
from fusionrec.models import build_model, model_parameters
from fusionrec.models.ease_channel import EaseChannel, WithEaseChannel, standardised
from fusionrec.models.fusion_graph_apart import MEMBER_SEED_STRIDE, merged_history
from fusionrec.models.model_config import STRICT
from fusionrec.models.second_stage import WithSecondStage
from fusionrec.models.wrapper import ScorerWrapper, WrapperConfig

if TYPE_CHECKING:
    from collections.abc import Callable

    from fusionrec.data.dataset import Split
    from fusionrec.models.base import Recommender
    from fusionrec.models.train_config import History, TrainConfig

MEMBER_PREFIX = "member."
"""Prefix of member ``k``'s arrays in an ensemble's saved state: ``member.<k>.<name>``."""

Combine = Literal["mean", "standardised"]


class EnsembleSettings(BaseModel):
    """How many copies of the base, how their seeds differ and how their scores combine."""

    model_config = STRICT

    count: int = Field(2, ge=2, description="members (copies of the base, each trained apart)")
    seed_stride: int = Field(MEMBER_SEED_STRIDE, ge=1, description="seed offset between one member and the next")
    combine: Combine = Field(
        "mean", description="'mean' of the raw scores, or 'standardised': the mean of per-user standardised scores"
    )


class EnsembleConfig(WrapperConfig, EnsembleSettings):
    """The whole ``ensemble`` model: the base, its parameters and the ensemble's settings."""

    wrapper_name: ClassVar[str] = "ensemble"
    base: str = Field("lightgcn", description="the registered name of the model copied into members")


class Ensemble(ScorerWrapper):
    """``count`` copies of any registered model that trains from a seed, trained apart and scored together.

    Args:
        base: the registered name of the model to copy (it must train from a seed).
        base_params: the base model's hyper-parameters, shared by every member.
        count, seed_stride, combine: the ensemble's settings (:class:`EnsembleSettings`).
        train_config: training settings of a base trained by gradient descent (member 0's; the others
            differ only in ``seed``).
    """

    name: ClassVar[str] = "ensemble"
    config_type: ClassVar[type[EnsembleConfig]] = EnsembleConfig

    def __init__(
        self,
        base: str = "lightgcn",
        base_params: dict[str, Any] | None = None,
        count: int = 2,
        seed_stride: int = MEMBER_SEED_STRIDE,
        combine: Combine = "mean",
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        settings = {"count": count, "seed_stride": seed_stride, "combine": combine}
        super().__init__(base, base_params, train_config, EnsembleSettings, **settings)
        self.ensemble = cast(EnsembleSettings, self.settings)
        copies = [build_member(self.base_, base, dict(base_params or {}), seed_stride * k) for k in range(1, count)]
        #: member 0 is the base itself; member k differs only in its seed (models built, not fitted)
        self.members_: list[Recommender] = [self.base_, *copies]
        self._history: History | None = None

    @property
    def scores_cold_items(self) -> bool:  # type: ignore[override]
        return all(member.scores_cold_items for member in self.members_)

    @property
    def history_(self) -> History | None:
        """The members' training histories run on one after another, with the ensemble's own valid figure
        as ``best_valid`` (None when the base does not train by epochs)."""
        return self._history

    def _fit(self, split: Split) -> None:
        for member in self.members_:
            member.fit(split)
        self._history = self._merged_history(split)

    def _merged_history(self, split: Split) -> History | None:
        histories = [getattr(member, "history_", None) for member in self.members_]
        if any(history is None for history in histories):
            return None
        merged = merged_history(cast("list[History]", histories))
        config = self.train_config
        if len(split.valid) and config is not None:  # the whole's valid figure, unread by any member's training
            merged.best_valid = valid_figure(self.score_users, split, config.valid_metric)
        return merged

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the mean of the members' scores (``"standardised"``: of each member's
        scores standardised per user)."""
        self._require_fitted()
        total: np.ndarray | None = None
        for member in self.members_:
            scores = member.score_users(user_index)  # (n, n_items)
            if self.ensemble.combine == "standardised":
                scores = standardised(scores)
            total = scores.astype(np.float32, copy=True) if total is None else total + scores
        assert total is not None
        return (total / len(self.members_)).astype(np.float32)

    def item_embeddings(self) -> np.ndarray | None:
        """float32 (n_items, count x d) the members' item vectors side by side over sqrt(count), or None."""
        return joined([member.item_embeddings() for member in self.members_]) if self._vectors_score() else None

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        """float32 (n, count x d): their product with :meth:`item_embeddings` is the mean of the members'."""
        if not self._vectors_score():
            return None
        return joined([member.user_embeddings(user_index) for member in self.members_])

    def ease_channel(self) -> EaseChannel | None:
        """The members' EASE channel when their score adds one (one fit for all: the same training data
        and settings), so a service adds it once to the joined vectors' product; None otherwise."""
        first = self.members_[0]
        if self.ensemble.combine != "mean" or not isinstance(first, WithEaseChannel):
            return None
        return first.ease_channel()

    def _vectors_score(self) -> bool:
        """Whether the joined vectors (plus :meth:`ease_channel`) give the ensemble's score: a mean, and no
        member reorders by a second stage."""
        staged = any(isinstance(m, WithSecondStage) and m.second_stage() is not None for m in self.members_)
        return self.ensemble.combine == "mean" and not staged

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Each member's arrays, under ``member.<k>.``."""
        return {
            f"{MEMBER_PREFIX}{k}.{name}": value
            for k, member in enumerate(self.members_)
            for name, value in member.state_arrays().items()
        }

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Restore every member from its ``member.<k>.`` arrays (no training)."""
        self.split_, self.train_matrix_ = split, split.train.to_csr()
        for k, member in enumerate(self.members_):
            prefix = f"{MEMBER_PREFIX}{k}."
            member.load_state_arrays(split, {n[len(prefix) :]: v for n, v in arrays.items() if n.startswith(prefix)})


def build_member(base_model: Recommender, base: str, base_params: dict[str, Any], offset: int) -> Recommender:
    """A fresh copy of ``base_model`` (registered as ``base`` with ``base_params``) whose seed is ``offset`` more.

    The seed moved is ``train_config.seed`` for a model trained by gradient descent (or a wrapper of one),
    otherwise the model's own ``seed`` parameter. A model with neither is deterministic: a ConfigError.
    """
    config: TrainConfig | None = getattr(base_model, "train_config", None)
    if config is not None:
        moved = config.model_copy(update={"seed": config.seed + offset})
        return build_model(base, **base_params, train_config=moved)
    if "seed" in model_parameters(base):
        seed = int(base_model.get_params()["seed"])
        return build_model(base, **{**base_params, "seed": seed + offset})
    raise ConfigError(
        f"model 'ensemble' cannot copy {base!r}: it has no seed to vary (no train_config and no 'seed' "
        f"parameter), so every member would give the same scores. Wrap a model that trains from a seed "
        f'(e.g. base = "lightgcn", "bpr" or "fusiongraph"), or use {base!r} alone'
    )


def joined(vectors: list[np.ndarray | None]) -> np.ndarray | None:
    """float32 (n, count x d) vectors side by side over sqrt(count): the product of two joined
    sets is the mean of the members' products (None when a member has no vectors)."""
    if any(v is None for v in vectors):
        return None
    blocks = cast("list[np.ndarray]", vectors)
    return (np.hstack(blocks) / np.sqrt(len(blocks))).astype(np.float32)


def valid_figure(score_users: Callable[[np.ndarray], np.ndarray], split: Split, valid_metric: str) -> float:
    """``valid_metric`` (e.g. ``"recall@20"``) of ``score_users`` on ``split.valid``, as early stopping reads it."""
    name, _, cutoff = valid_metric.partition("@")
    if not cutoff.isdigit():
        raise ConfigError(f"valid_metric must look like 'recall@20', got {valid_metric!r}")
    evaluation = evaluate_scores(
        score_users,
        split.train.to_csr(),
        split.valid.to_csr(),
        ks=(int(cutoff),),
        metrics=(name,),
        candidates=split.candidates("valid"),
    )
    return float(evaluation[valid_metric])


__all__ = ["MEMBER_PREFIX", "Ensemble", "EnsembleConfig", "EnsembleSettings", "build_member", "joined"]
