"""Tune any registered model on **valid** with Optuna; test is never read.

A trial fits the model once (the study's seed) with the trial's settings and
scores the valid metric (for torch models: at the epoch early stopping chose).
The study lives in an Optuna journal file, so a second run with the same
folder resumes it, and several processes (``fusionrec tune --workers N``)
share it. The model's current settings (defaults < the recipe for the data
set, when there is one) are the first trial, so every figure is compared with
them. The best trial is written as an experiment file (``best.toml``) that
``fusionrec train -c`` and ``fusionrec benchmark -c`` run.

Example:
    >>> result = tune(split, "ease", trials=8, folder="runs/tune/ease")  # doctest: +SKIP
    >>> result.best_params  # doctest: +SKIP
    {'l2': 412.3}
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna  # the [tune] extra; this module loads only when tuning (fusionrec.evaluation is lazy)
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from fusionrec.config import ExperimentConfig, dump_toml
from fusionrec.errors import ConfigError, FusionrecError
from fusionrec.evaluation.benchmark import build_for_seed
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.models import build_model, canonical_params, dotted, with_dotted

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split

logger = logging.getLogger(__name__)

TRAIN_KEYS = ("lr", "batch_size", "average_decay", "patience")
"""Keys of a search space that are training settings (``average_decay`` 0 = no averaging)."""

STUDY_FILE = "study.journal"


def search_space(model: str) -> dict[str, Any]:
    """Optuna distributions searched for ``model``: its parameters (``table.key`` for a model whose typed config
    has tables), then training settings (:data:`TRAIN_KEYS`)."""
    spaces: dict[str, dict[str, Any]] = {
        "pop": {},
        "random": {},
        "content-knn": {},
        "ease": {"l2": FloatDistribution(1.0, 1e4, log=True)},
        "itemknn": {"k": IntDistribution(10, 1000, log=True), "shrinkage": FloatDistribution(0.0, 1000.0)},
        "bpr": {"reg_weight": FloatDistribution(1e-5, 1.0, log=True), "lr": FloatDistribution(1e-4, 1e-2, log=True)},
        "vbpr": {"reg_weight": FloatDistribution(1e-5, 1.0, log=True), "lr": FloatDistribution(1e-4, 1e-2, log=True)},
        "lightgcn": {
            "n_layers": IntDistribution(1, 4),
            "reg_weight": FloatDistribution(1e-5, 3.0, log=True),
            "lr": FloatDistribution(1e-3, 2e-2, log=True),
        },
        "freedom": {
            "reg_weight": FloatDistribution(1e-6, 1e-1, log=True),
            "lr": FloatDistribution(1e-4, 1e-2, log=True),
        },
        "bm3": {"lr": FloatDistribution(1e-4, 1e-2, log=True)},
        "fusiongraph": {
            "core.n_layers": IntDistribution(1, 3),
            "item_graph.k": CategoricalDistribution([5, 10, 20]),
            "item_graph.weight": FloatDistribution(0.25, 2.0, log=True),
            "content.dropout": FloatDistribution(0.2, 0.7),
            "loss.temperature": FloatDistribution(0.1, 0.35, log=True),
            "content_channel.weight": FloatDistribution(0.0, 0.5),
            "core.embedding_noise": FloatDistribution(0.0, 0.3),
            "ease_channel.weight": CategoricalDistribution([0.0, 0.002, 0.005, 0.01]),
            "lr": FloatDistribution(3e-3, 3e-2, log=True),
            "average_decay": CategoricalDistribution([0.0, 0.9, 0.94, 0.97]),
        },
    }
    if model not in spaces:
        raise ConfigError(f"no search space for model {model!r}; tunable models: {sorted(spaces)}")
    return spaces[model]


@dataclass
class TuneResult:
    """The best trial (valid only) and every trial of the study."""

    model: str
    metric: str
    best_value: float
    best_params: dict[str, Any]
    best_train: dict[str, Any]
    trials: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "metric": self.metric,
            "best": {"valid": self.best_value, "params": self.best_params, "train": self.best_train},
            "trials": self.trials,
        }


def tune(
    split: Split,
    model: str,
    *,
    trials: int = 20,
    timeout: float | None = None,
    folder: str | Path,
    seed: int = 0,
    metric: str = "recall@20",
    base_params: Mapping[str, Any] | None = None,
    base_train: Mapping[str, Any] | None = None,
) -> TuneResult:
    """Run (or resume) the study in ``folder`` until it holds ``trials`` finished trials or ``timeout`` passes.

    Args:
        split: the data (test is never read).
        model: a registered model name.
        trials: finished trials the study should hold in all (earlier runs count).
        timeout: seconds this call may run (None: no limit).
        folder: where the study's journal and the results go.
        seed: the seed every trial is fitted with (and the sampler's).
        metric: ``"<name>@<k>"`` read on valid.
        base_params: parameters every trial starts from (e.g. a recipe's); the trial's values replace them.
        base_train: training settings every trial starts from.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    space = search_space(model)
    study = _study(folder, model, seed)
    if not study.trials and space:
        study.enqueue_trial(_current_point(model, space, base_params, base_train), skip_if_exists=True)
    base = canonical_params(model, base_params or {})  # nested tables, which the space's dotted keys go into
    objective = _Objective(split, model, space, seed, metric, base, dict(base_train or {}))
    remaining = trials - _finished(study)
    deadline = None if timeout is None else time.monotonic() + timeout
    while remaining > 0 and (deadline is None or time.monotonic() < deadline):
        study.optimize(objective, n_trials=1, catch=(FusionrecError,))
        remaining = trials - _finished(study)
        if not space:  # nothing to search: one trial says it all
            break
    result = _result(study, model, metric, objective)
    (folder / "tune.json").write_text(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    logger.info("tune %s: best valid %s %.4f with %s", model, metric, result.best_value, result.best_params)
    return result


class _Objective:
    def __init__(
        self,
        split: Split,
        model: str,
        space: dict[str, Any],
        seed: int,
        metric: str,
        base_params: dict[str, Any],
        base_train: dict[str, Any],
    ) -> None:
        self.split, self.model, self.space, self.seed, self.metric = split, model, space, seed, metric
        self.base_params, self.base_train = base_params, base_train

    def settings(self, values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(params, train)`` of a point of the space over the base settings."""
        params = with_dotted(self.base_params, {k: v for k, v in values.items() if k not in TRAIN_KEYS})
        train = {**self.base_train, "progress": False, **{k: v for k, v in values.items() if k in TRAIN_KEYS}}
        if "average_decay" in train and not train["average_decay"]:
            train["average_decay"] = None
        return params, train

    def __call__(self, trial: optuna.Trial) -> float:
        values = {name: _suggest(trial, name, distribution) for name, distribution in self.space.items()}
        params, train = self.settings(values)
        started = time.perf_counter()
        model = build_for_seed(self.model, params, train, self.seed).fit(self.split)
        name, _, k = self.metric.partition("@")
        value = evaluate_model(model, self.split, "valid", ks=(int(k),), metrics=(name,))[self.metric]
        trial.set_user_attr("seconds", time.perf_counter() - started)
        if not math.isfinite(value):
            raise ConfigError(f"trial {trial.number} gave a non-finite valid {self.metric}: {value}")
        return value


def _suggest(trial: optuna.Trial, name: str, distribution: Any) -> Any:
    """The trial's value of ``name`` drawn from ``distribution`` (float, int or categorical)."""
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)


def _study(folder: Path, model: str, seed: int) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(folder / STUDY_FILE)))
    return optuna.create_study(
        study_name=model,
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        load_if_exists=True,
    )


def _finished(study: optuna.Study) -> int:
    return sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def _current_point(
    model: str, space: dict[str, Any], base_params: Mapping[str, Any] | None, base_train: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The model's current settings as a point of ``space`` (defaults < base settings)."""
    built = build_model(model, **dict(base_params or {}))
    train_config = getattr(built, "train_config", None)
    trained = train_config.model_dump() if train_config is not None else {}
    own = {key: value for key, value in built.get_params().items() if key != "train_config"}
    current = {**dotted(own), **trained, **dict(base_train or {})}
    current["average_decay"] = current.get("average_decay") or 0.0
    point = {}
    for name, distribution in space.items():
        value = current.get(name)
        if value is not None and _contains(distribution, value):
            point[name] = value
    return point


def _contains(distribution: Any, value: Any) -> bool:
    """Whether ``value`` is a point of ``distribution``."""
    if hasattr(distribution, "choices"):
        return value in distribution.choices
    return isinstance(value, int | float) and distribution.low <= value <= distribution.high


def _result(study: optuna.Study, model: str, metric: str, objective: _Objective) -> TuneResult:
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        failed = [t.user_attrs.get("fail_reason") or str(t.state) for t in study.trials]
        raise ConfigError(f"no trial of {model!r} finished; {len(failed)} failed: {failed[:3]}")
    best = max(complete, key=lambda t: float(t.value if t.value is not None else -np.inf))
    params, train = objective.settings(best.params)
    train.pop("progress", None)
    records = [
        {"number": t.number, "state": t.state.name, "valid": t.value, "params": t.params, **t.user_attrs}
        for t in study.trials
    ]
    return TuneResult(model, metric, float(best.value or 0.0), params, train, records)


def write_experiment(result: TuneResult, data: Mapping[str, Any], path: str | Path) -> Path:
    """The best trial as an experiment file (TOML) that ``fusionrec train -c`` runs."""
    tables: dict[str, Any] = {
        "description": f"{result.model} with the settings `fusionrec tune` chose on valid ({result.metric})",
        "data": {key: str(value) for key, value in data.items() if value is not None},
        "model": {"name": result.model, "params": result.best_params},
        "train": {key: value for key, value in result.best_train.items() if value is not None},
    }
    return dump_toml(ExperimentConfig.model_validate(tables), path)


__all__ = ["STUDY_FILE", "TRAIN_KEYS", "TuneResult", "search_space", "tune", "write_experiment"]
