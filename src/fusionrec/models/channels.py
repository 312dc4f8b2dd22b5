"""Score channels around any scorer: the EASE channel and the fixed content channel as add-ons.

``EaseChanneled(base="lightgcn", weight=0.005)`` adds ``weight`` times EASE's
standardised item-item scores of the user's training items
(:class:`~fusionrec.models.ease_channel.EaseChannel`) to the base model's
score; ``ContentChanneled(base="itemknn", weight=0.2, prior=10)`` adds the
faded mean content similarity between an item and the user's history
(:class:`~fusionrec.models.content_channel.ContentChannel`). Both are fitted
in closed form after the base, from the training data alone, and refitted
on load (nothing of theirs is saved). Their settings are the same configs
the flagship's tables use (:class:`~fusionrec.models.fusion_graph_config.EaseChannelConfig`,
:class:`~fusionrec.models.fusion_graph_config.ContentChannelConfig`), and the
flagship composes the same channel classes. In an experiment file::

    [model]
    name = "ease-channel"
    params = { base = "lightgcn", base_params = { reg_weight = 0.3 }, weight = 0.005, l2 = 200.0 }

Example:
    >>> from fusionrec.models import build_model
    >>> build_model("content-channel", base="pop", weight=0.5).get_params()["prior"]
    10.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import Field

from fusionrec.errors import ModelError
from fusionrec.models.content_channel import ContentChannel
from fusionrec.models.ease_channel import EaseChannel
from fusionrec.models.fusion_graph_config import ContentChannelConfig, EaseChannelConfig
from fusionrec.models.wrapper import ScorerWrapper, WrapperConfig

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.training import TrainConfig


class EaseChanneledConfig(WrapperConfig, EaseChannelConfig):
    """The whole ``ease-channel`` model: the base, its parameters and the channel's settings."""

    wrapper_name: ClassVar[str] = "ease-channel"
    base: str = Field("lightgcn", description="the registered name of the model whose score the channel adds to")
    weight: float = Field(default=0.005, ge=0, description="weight of the channel (0 = off)")


class ContentChanneledConfig(WrapperConfig, ContentChannelConfig):
    """The whole ``content-channel`` model: the base, its parameters and the channel's settings."""

    wrapper_name: ClassVar[str] = "content-channel"
    base: str = Field("lightgcn", description="the registered name of the model whose score the channel adds to")


class EaseChanneled(ScorerWrapper):
    """Any registered model plus the EASE channel.

    Args:
        base: the registered name of the model whose score the channel adds to.
        base_params: the base model's hyper-parameters.
        weight, l2: the channel's settings (:class:`~fusionrec.models.fusion_graph_config.EaseChannelConfig`).
        train_config: training settings of a base model trained by gradient descent.
    """

    name: ClassVar[str] = "ease-channel"
    config_type: ClassVar[type[EaseChanneledConfig]] = EaseChanneledConfig

    def __init__(
        self,
        base: str = "lightgcn",
        base_params: dict[str, Any] | None = None,
        weight: float = 0.005,
        l2: float = 200.0,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(base, base_params, train_config, EaseChannelConfig, weight=weight, l2=l2)
        self.channel_: EaseChannel | None = None

    def _fit(self, split: Split) -> None:
        self.base_.fit(split)
        self._fit_channel(split)

    def _fit_channel(self, split: Split) -> None:
        self.channel_ = EaseChannel.fit(split.train.to_csr(), self.params["l2"], self.params["weight"])

    def ease_channel(self) -> EaseChannel | None:
        """The fitted channel (a service adds it to the base's vector scores)."""
        return self.channel_

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the base scores plus the channel of each user's training items."""
        self._require_fitted()
        assert self.channel_ is not None and self.train_matrix_ is not None
        scores = self.base_.score_users(user_index)
        return (scores + self.channel_.scores(self.train_matrix_[user_index])).astype(np.float32)

    def item_embeddings(self) -> np.ndarray | None:
        return self.base_.item_embeddings()

    def user_embeddings(self, user_index: np.ndarray) -> np.ndarray | None:
        return self.base_.user_embeddings(user_index)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The base model's arrays (``base.*``); the channel is refitted from the training data on load."""
        return self.base_arrays()

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.load_base(split, arrays)
        self._fit_channel(split)


class ContentChanneled(ScorerWrapper):
    """Any registered model plus the fixed content-similarity channel (the data must have content features).

    Args:
        base: the registered name of the model whose score the channel adds to.
        base_params: the base model's hyper-parameters.
        weight, prior: the channel's settings (:class:`~fusionrec.models.fusion_graph_config.ContentChannelConfig`).
        train_config: training settings of a base model trained by gradient descent.
    """

    name: ClassVar[str] = "content-channel"
    config_type: ClassVar[type[ContentChanneledConfig]] = ContentChanneledConfig

    def __init__(
        self,
        base: str = "lightgcn",
        base_params: dict[str, Any] | None = None,
        weight: float = 0.2,
        prior: float = 10.0,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(base, base_params, train_config, ContentChannelConfig, weight=weight, prior=prior)
        self.channel_: ContentChannel | None = None

    def _fit(self, split: Split) -> None:
        self.base_.fit(split)
        self._fit_channel(split)

    def _fit_channel(self, split: Split) -> None:
        if not split.dataset.features:
            raise ModelError(
                f"content-channel needs item content features, but dataset {split.dataset.name!r} has none; "
                "add features with Dataset.add_feature (or encode them) or use the base model alone"
            )
        self.channel_ = ContentChannel.build(split, self.params["weight"], self.params["prior"])

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the base scores plus ``weight`` x the faded mean content similarity."""
        self._require_fitted()
        assert self.channel_ is not None
        channel = self.channel_.user_columns()[user_index] @ self.channel_.items.T  # (n, n_items)
        return (self.base_.score_users(user_index) + channel).astype(np.float32)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The base model's arrays (``base.*``); the channel is rebuilt from the data on load."""
        return self.base_arrays()

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.load_base(split, arrays)
        self._fit_channel(split)


__all__ = ["ContentChanneled", "ContentChanneledConfig", "EaseChanneled", "EaseChanneledConfig"]
