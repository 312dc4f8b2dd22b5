"""A fresh model for one seed: what every fit of a benchmark, a tuning trial and an automatic candidate builds.

Models trained by gradient descent get ``train_config`` with the seed (only the training keys that were
set, so a model's own ``train_defaults`` fill the rest); other models get ``seed=`` when they take it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fusionrec.errors import ConfigError
from fusionrec.models import build_model, model_class
from fusionrec.models.train_config import TrainConfig

if TYPE_CHECKING:
    from fusionrec.models.base import Recommender


def build_for_seed(
    model: str | type[Recommender],
    params: Mapping[str, Any],
    train: TrainConfig | Mapping[str, Any] | None,
    seed: int,
) -> Recommender:
    """A fresh model; torch models get ``train_config`` with ``seed``, others ``seed=`` if they take it.

    Torch models receive only the training keys that were set (see :func:`train_values_for_seed`),
    so a model's own ``train_defaults`` fill the rest.
    """
    cls = _model_class(model)
    kwargs = dict(params)
    if cls.takes_train_config:
        kwargs["train_config"] = train_values_for_seed(train, seed)
    elif "seed" in inspect.signature(cls.__init__).parameters and "seed" not in kwargs:
        kwargs["seed"] = seed
    try:
        return build_model(model, **kwargs) if isinstance(model, str) else cls(**kwargs)
    except TypeError as exc:
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise ConfigError(
            f"model {cls.name!r} rejected parameters {sorted(kwargs)} ({exc}); it accepts {accepted}"
        ) from None


def train_values_for_seed(train: TrainConfig | Mapping[str, Any] | None, seed: int) -> dict[str, Any]:
    """The training keys that were set (for a TrainConfig: set explicitly) plus ``seed``, validated.

    Raises:
        ConfigError: a key is unknown or a value invalid, naming key, value and expectation.
    """
    values = train.model_dump(exclude_unset=True) if isinstance(train, TrainConfig) else dict(train or {})
    values["seed"] = seed
    train_config_for_seed(values, seed)
    return values


def train_config_for_seed(train: TrainConfig | Mapping[str, Any] | None, seed: int) -> TrainConfig:
    """``train`` as a validated :class:`TrainConfig` with ``seed`` set; ConfigError on bad values."""
    values = train.model_dump() if isinstance(train, TrainConfig) else dict(train or {})
    try:
        return TrainConfig(**{**values, "seed": seed})
    except ValidationError as exc:
        problems = "; ".join(
            f"train.{'.'.join(map(str, e['loc']))}: got {e.get('input')!r}, {e['msg']}" for e in exc.errors()
        )
        allowed = sorted(TrainConfig.model_fields)
        raise ConfigError(f"invalid training settings: {problems}; allowed keys: {allowed}") from None


def _model_class(model: str | type[Recommender]) -> type[Recommender]:
    return model if not isinstance(model, str) else model_class(model)


__all__ = ["build_for_seed", "train_config_for_seed", "train_values_for_seed"]
