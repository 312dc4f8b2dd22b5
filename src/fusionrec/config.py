"""Experiment configuration: pydantic sections, TOML files, dotted overrides.

Precedence is defaults < file < overrides::

    config = load_config(Path("exp.toml"), {"train.lr": "0.01", "model.params.n_layers": "3"})

A file looks like::

    seeds = [0, 1, 2]

    [data]
    dataset = "baby"            # a folder (or .inter stem) under data.dir / $FUSIONREC_DATA

    [model]
    name = "lightgcn"
    params = { n_layers = 3, embedding_dim = 64 }

    [train]                     # the fields of fusionrec.models.training.TrainConfig
    lr = 0.001
    epochs = 300

    [evaluation]
    ks = [10, 20, 50]
    valid_metric = "recall@20"

Every section forbids unknown keys, so a typo is an error that names the
key and the keys allowed there. Every invalid value raises
:class:`~fusionrec.errors.ConfigError` with the key, the value received
and what was expected. Relative paths are relative to the working directory.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fusionrec.config_toml import dump_toml, to_toml
from fusionrec.data.catalog import CatalogColumns
from fusionrec.encoders.config import EncoderSpec
from fusionrec.errors import ConfigError
from fusionrec.evaluation.metrics import METRICS
from fusionrec.llm.user_settings import ItemProfileSettings, UserProfileSettings
from fusionrec.models import DEFAULT_MODEL, MODEL_REGISTRY, check_model_params
from fusionrec.models.train_config import TrainConfig
from fusionrec.recipes import read_recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

AUTO = "auto"
"""The model name that chooses a model and its settings from the data."""

DATA_ENV = "FUSIONREC_DATA"
"""Environment variable naming the benchmark data folder when ``data.dir`` is not set."""

_STRICT = ConfigDict(extra="forbid")


class SplitSettings(BaseModel):
    """How a raw catalog is split (ignored for fixed ``.inter`` splits)."""

    model_config = _STRICT

    kind: Literal["random", "temporal", "leave_one_out", "cold"] = "random"
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0
    min_interactions: int = Field(default=3, ge=1)

    @field_validator("ratios")
    @classmethod
    def _shares(cls, ratios: tuple[float, float, float]) -> tuple[float, float, float]:
        if min(ratios) < 0 or ratios[0] <= 0 or abs(sum(ratios) - 1.0) > 1e-6:
            raise ValueError("expected three non-negative shares (train, valid, test) with train > 0 summing to 1")
        return ratios


class DataSettings(BaseModel):
    """Where the data comes from: a prepared dataset, or a raw catalog to split.

    Attributes:
        dir: folder holding the datasets; None means ``$FUSIONREC_DATA``.
        dataset: a dataset folder (``baby``) or ``.inter`` stem (``ml100k-mm-cold``) under ``dir``.
        protocol: ``"warm"`` or ``"cold"``; None takes the split's own.
        interactions: raw interactions file (instead of ``dataset``).
        items: raw item table of the catalog.
        min_rating: keep interactions rated at least this (implicit positives).
        unknown_items: interactions whose item is missing from the item table: ``"error"`` (the default,
            naming them) or ``"drop"`` (counted in the dataset's problems).
        columns: column names of the raw catalog.
        split: how to split the raw catalog.
    """

    model_config = _STRICT

    dir: Path | None = None
    dataset: str | None = None
    protocol: Literal["warm", "cold"] | None = None
    interactions: Path | None = None
    items: Path | None = None
    min_rating: float | None = None
    unknown_items: Literal["error", "drop"] = "error"
    columns: CatalogColumns = Field(default_factory=CatalogColumns)
    split: SplitSettings = Field(default_factory=SplitSettings)

    @model_validator(mode="after")
    def _one_source(self) -> DataSettings:
        if self.dataset is not None and self.interactions is not None:
            raise ValueError("expected either dataset (a prepared split) or interactions (a raw catalog), not both")
        return self

    def resolved_dir(self) -> Path:
        """``dir``, else ``$FUSIONREC_DATA``; ConfigError when neither is set."""
        if self.dir is not None:
            return self.dir
        value = os.environ.get(DATA_ENV)
        if not value:
            raise ConfigError(f"data.dir is not set and ${DATA_ENV} is empty; set one to the data folder")
        return Path(value)


class ModelSettings(BaseModel):
    """Which model to build and its hyper-parameters (passed to ``build_model(name, **params)``).

    ``name = "auto"`` chooses the model and its settings from the data (see
    :mod:`fusionrec.evaluation.auto`); ``params`` must then be empty. The
    parameters of a named model are checked here, before any data is read:
    an unknown key or a value the model refuses is an error naming it.
    """

    model_config = _STRICT

    name: str = DEFAULT_MODEL
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name != AUTO and name not in MODEL_REGISTRY:
            raise ValueError(f"expected {AUTO!r} or a registered model name, one of {sorted(MODEL_REGISTRY)}")
        return name

    @model_validator(mode="after")
    def _params_fit_the_model(self) -> ModelSettings:
        if self.name == AUTO:
            if self.params:
                raise ValueError(
                    f"model.params {sorted(self.params)} were given with model.name = 'auto', which chooses its own "
                    "settings; name the model (--model NAME) to set its parameters"
                )
            return self
        check_model_params(self.name, self.params)
        return self


class EvaluationSettings(BaseModel):
    """Cut-offs, metrics and the valid metric that chooses the epoch."""

    model_config = _STRICT

    ks: tuple[int, ...] = (10, 20, 50)
    metrics: tuple[str, ...] = METRICS
    valid_metric: str = "recall@20"

    @field_validator("ks")
    @classmethod
    def _positive(cls, ks: tuple[int, ...]) -> tuple[int, ...]:
        if not ks or min(ks) < 1:
            raise ValueError("expected a non-empty list of positive cut-offs, e.g. [10, 20, 50]")
        return ks

    @field_validator("metrics")
    @classmethod
    def _known(cls, metrics: tuple[str, ...]) -> tuple[str, ...]:
        if not metrics or any(m not in METRICS for m in metrics):
            raise ValueError(f"expected a non-empty list of metric names from {list(METRICS)}")
        return metrics

    @field_validator("valid_metric")
    @classmethod
    def _metric_at_k(cls, value: str) -> str:
        name, _, k = value.partition("@")
        if name not in METRICS or not k.isdigit() or int(k) < 1:
            raise ValueError(f"expected '<metric>@<k>' with metric in {list(METRICS)}, e.g. 'recall@20'")
        return value


class OutputSettings(BaseModel):
    """Where results, per-user values and the resolved config are written."""

    model_config = _STRICT

    dir: Path = Path("runs")


class ExperimentConfig(BaseModel):
    """One experiment: data, model, training, evaluation, seeds and output.

    ``description`` says what the experiment is (recipes carry one); ``recipe``
    names the recipe it started from, when it did.
    """

    model_config = _STRICT

    description: str = ""
    recipe: str | None = None
    data: DataSettings = Field(default_factory=DataSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    train: TrainConfig = Field(default_factory=lambda: TrainConfig.model_validate({}))
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)
    seeds: list[int] = Field(default_factory=lambda: [0])
    output: OutputSettings = Field(default_factory=OutputSettings)
    encoders: list[EncoderSpec] = Field(
        default_factory=list, description="[[encoders]] tables: content features computed (and cached) before training"
    )
    item_profiles: ItemProfileSettings | None = None  # [item_profiles]: LLM item profiles as modality "profile"
    user_profiles: UserProfileSettings | None = None  # [user_profiles]: summaries of training histories as content

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        if not seeds or len(set(seeds)) != len(seeds):
            raise ValueError("expected a non-empty list of distinct integers, e.g. [0, 1, 2]")
        return seeds

    @model_validator(mode="after")
    def _one_valid_metric(self) -> ExperimentConfig:
        """``evaluation.valid_metric`` and ``train.valid_metric`` name one metric; whichever was set wins."""
        from_evaluation = "valid_metric" in self.evaluation.model_fields_set
        from_train = "valid_metric" in self.train.model_fields_set
        if from_evaluation and from_train and self.evaluation.valid_metric != self.train.valid_metric:
            raise ValueError(
                f"evaluation.valid_metric is {self.evaluation.valid_metric!r} but train.valid_metric is "
                f"{self.train.valid_metric!r}; set only evaluation.valid_metric"
            )
        if from_train and not from_evaluation:
            self.evaluation.valid_metric = self.train.valid_metric
        else:
            self.train.valid_metric = self.evaluation.valid_metric
        return self


def load_config(
    path: Path | None = None, overrides: Mapping[str, str] | None = None, *, recipe: str | None = None
) -> ExperimentConfig:
    """Defaults, then a recipe, then the TOML (or JSON) file at ``path``, then dotted ``overrides``.

    Args:
        path: an experiment file (``.toml``; ``.json`` as written by :func:`dump_config`), or None.
        recipe: the name of a recipe shipped with fusionrec (:mod:`fusionrec.recipes`) to start from.
        overrides: ``{"train.lr": "0.01", "model.params.n_layers": "3"}``; each value is read as
            a TOML value (``3``, ``0.01``, ``true``, ``[1, 2]``, ``"text"``), and as plain text
            when it is not one (``model.name=bpr``).

    Returns:
        The validated configuration; ``data.dir`` falls back to ``$FUSIONREC_DATA`` when set.

    Raises:
        ConfigError: the file is missing or malformed, a key is unknown, or a value is invalid.

    Example:
        >>> config = load_config(None, {"model.name": "pop", "seeds": "[0, 1]"})
        >>> config.seeds
        [0, 1]
    """
    raw: dict[str, Any] = {}
    if recipe is not None:
        raw = _merged(read_recipe(recipe), {"recipe": recipe})
    if path is not None:
        raw = _merged(raw, read_config_file(path))
    for key, text in (overrides or {}).items():
        _set_dotted(raw, key, parse_value(text))
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, set(overrides or {}))) from None
    if config.data.dir is None and os.environ.get(DATA_ENV):
        config.data.dir = Path(os.environ[DATA_ENV])
    return config


def read_config_file(path: Path) -> dict[str, Any]:
    """The nested dict of a ``.toml`` (or ``.json``) experiment file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; pass the path of a .toml experiment file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            loaded = json.loads(text)
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path} holds a JSON {type(loaded).__name__}; an object of sections is expected")
            return loaded
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}") from None


def parse_value(text: str) -> Any:
    """A command-line value as TOML (``3`` -> int, ``[1, 2]`` -> list), else the text itself."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def dump_config(config: ExperimentConfig, path: str | Path) -> Path:
    """Write the resolved ``config`` as JSON (readable again by :func:`load_config`); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config.model_dump(mode="json"), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _merged(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it, table by table (``model.params`` keys merge too)."""
    result = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merged(dict(result[key]), value)
        else:
            result[key] = value
    return result


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set ``tree["a"]["b"]["c"] = value`` for ``key = "a.b.c"``, creating tables on the way."""
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"override key {key!r} is malformed; use dotted names such as 'train.lr'")
    node = tree
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            prefix = ".".join(parts[: depth + 1])
            raise ConfigError(f"override {key!r}: {prefix} is a value ({child!r}), not a section with keys")
        node = child
    node[parts[-1]] = value


def _describe(exc: ValidationError, path: Path | None, overridden: set[str]) -> str:
    """One line per problem: key, where it came from, the value received and what was expected."""
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        where = _origin(key, path, overridden)
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(error["loc"][:-1]))
            lines.append(f"{key} ({where}): unknown key; allowed keys here: {allowed}")
            continue
        message = error["msg"].removeprefix("Value error, ")
        if isinstance(error.get("ctx", {}).get("error"), ConfigError):  # a model's own message names its values
            lines.append(f"{key or '(whole config)'} ({where}): {message}")
            continue
        lines.append(f"{key or '(whole config)'} ({where}): got {error.get('input')!r}; {message}")
    count = len(lines)
    return f"invalid experiment configuration ({count} problem{'s' * (count != 1)}):\n  " + "\n  ".join(lines)


def _origin(key: str, path: Path | None, overridden: set[str]) -> str:
    """``"override"`` when an override set this key (or a key inside it), else the file, else defaults."""
    if any(o == key or o.startswith(key + ".") or key.startswith(o + ".") for o in overridden if key):
        return "override"
    return f"from {path}" if path is not None else "defaults"


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """Field names of the section at ``loc`` (e.g. ``("train",)``) of :class:`ExperimentConfig`."""
    section: type[BaseModel] = ExperimentConfig
    for part in loc:
        annotation = section.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        section = annotation
    return sorted(section.model_fields)


__all__ = [
    "AUTO",
    "DATA_ENV",
    "DataSettings",
    "EvaluationSettings",
    "ExperimentConfig",
    "ModelSettings",
    "OutputSettings",
    "SplitSettings",
    "dump_config",
    "dump_toml",
    "load_config",
    "parse_value",
    "read_config_file",
    "to_toml",
]
