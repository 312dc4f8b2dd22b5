"""The common base of add-ons that wrap any registered scorer (second stage, EASE and content channels, ensemble).

A wrapper is built from the name of its base model and the base's
parameters, plus its own settings (one pydantic config per add-on). It
fits the base, then itself; it saves the base's arrays under ``base.`` and
its own beside them; ``get_params`` round-trips through the constructor
and an experiment file, so "LightGCN + EASE channel + second stage" is a
configuration::

    [model]
    name = "staged"
    params = { base = "ease-channel", base_params = { base = "lightgcn", weight = 0.005 } }

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("ease-channel", base="itemknn", base_params={"k": 50}, weight=0.01)
    >>> model.get_params()["base"]
    'itemknn'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field, model_validator

from fusionrec.errors import ConfigError
from fusionrec.models import build_model, check_model_params, model_class
from fusionrec.models.base import Recommender
from fusionrec.models.model_config import STRICT, validated_config

if TYPE_CHECKING:
    from typing import Self

    from fusionrec.data.dataset import Split
    from fusionrec.models.training import TrainConfig

BASE_PREFIX = "base."
"""Prefix of the base model's arrays in a wrapper's saved state."""


class WrapperConfig(BaseModel):
    """What every add-on's config holds besides its own settings: the model it wraps and that model's parameters.

    An add-on's ``config_type`` subclasses this and its settings config, and sets ``wrapper_name``
    (its registered name) and the default ``base``; the base and its parameters are checked here too.
    """

    model_config = STRICT

    wrapper_name: ClassVar[str]
    base: str = Field(description="the registered name of the wrapped model (not the add-on's own)")
    base_params: dict[str, Any] = Field(default_factory=dict, description="the base model's hyper-parameters")

    @model_validator(mode="after")
    def _base_is_another_registered_model(self) -> Self:
        if self.base == self.wrapper_name:
            raise ValueError(
                f"a {self.wrapper_name!r} model's base cannot itself be {self.wrapper_name!r}; name the model to wrap"
            )
        check_model_params(self.base, self.base_params)
        return self


class ScorerWrapper(Recommender):
    """A registered base model plus an add-on; subclasses set ``name`` and fit and apply the add-on.

    Args:
        base: the registered name of the wrapped model (not this wrapper's own name).
        base_params: the base model's hyper-parameters.
        train_config: training settings of a base model trained by gradient descent.
        **settings: the add-on's own settings, validated by its pydantic config (``settings_type``).
    """

    takes_train_config: ClassVar[bool] = True

    def __init__(
        self,
        base: str,
        base_params: dict[str, Any] | None,
        train_config: TrainConfig | dict[str, Any] | None,
        settings_type: type[BaseModel],
        **settings: Any,
    ) -> None:
        if base == self.name:
            raise ConfigError(f"a {self.name!r} model's base cannot itself be {self.name!r}; name the model to wrap")
        self.settings = validated_config(self.name, settings_type, settings)
        super().__init__(base=base, base_params=dict(base_params or {}), **self.settings.model_dump())
        check_model_params(base, dict(base_params or {}))
        base_kwargs = dict(base_params or {})
        if getattr(model_class(base), "takes_train_config", False):
            base_kwargs["train_config"] = train_config
        self.base_: Recommender = build_model(base, **base_kwargs)

    @property
    def scores_cold_items(self) -> bool:  # type: ignore[override]
        return self.base_.scores_cold_items

    @property
    def history_(self) -> Any:
        """The base model's training history (None for models that do not train by epochs)."""
        return getattr(self.base_, "history_", None)

    @property
    def train_config(self) -> Any:
        return getattr(self.base_, "train_config", None)

    def get_params(self) -> dict[str, Any]:
        params = dict(self.params)
        config = self.train_config
        if config is not None:
            params["train_config"] = config.model_dump()
        return params

    def base_arrays(self) -> dict[str, np.ndarray]:
        """The base model's arrays, under ``base.``."""
        return {BASE_PREFIX + name: value for name, value in self.base_.state_arrays().items()}

    def load_base(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Restore the base from the ``base.`` arrays and attach ``split`` to this wrapper."""
        self.split_, self.train_matrix_ = split, split.train.to_csr()
        base = {name[len(BASE_PREFIX) :]: value for name, value in arrays.items() if name.startswith(BASE_PREFIX)}
        self.base_.load_state_arrays(split, base)


def own_params(model: Recommender) -> dict[str, Any]:
    """``model``'s hyper-parameters without its training settings."""
    return {k: v for k, v in model.get_params().items() if k != "train_config"}


__all__ = ["BASE_PREFIX", "ScorerWrapper", "WrapperConfig", "own_params"]
