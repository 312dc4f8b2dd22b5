"""Benchmark runner: fit a model for several seeds and report valid and test at the valid-chosen point.

For each seed the model is built from the registry (torch models get a
``TrainConfig`` carrying the seed), fitted on train (a torch model stops
early on valid inside ``fit`` and restores its best state), then valid and
test are evaluated once. Test is never used to choose anything.

The result is a JSON-ready dict::

    {"dataset", "model", "protocol", "seeds",
     "metrics": {"recall@20": {"mean", "std"}, ...},      # test, over seeds
     "valid":   {"recall@20": {"mean", "std"}, ...},
     "timing":  {"seconds_per_epoch", "epochs", "epochs_run", "train_seconds",
                 "fit_seconds", "eval_seconds", "peak_rss_mb"},
     "config":  {...}, "machine": {"cpu", "cores", "bf16_product", "torch"},
     "per_seed": [...], "n_users": {"valid", "test"},
     "beyond":  {"metrics": {"coverage@20": {"mean", "std"}, "gini@20", "popularity@20",
                             "popularity_share@20", "novelty@20", "ild@20", ...},   # test
                 "valid": {...}, "item_vectors": "content: audio+image ..."}}

``std`` is the sample standard deviation over seeds (0 for one seed). The
beyond-accuracy values (:mod:`fusionrec.evaluation.beyond`) come from the
same top lists as the accuracy metrics; ``item_vectors`` says what ILD was
computed from.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from fusionrec.config import AUTO, ModelSettings, dump_config
from fusionrec.data import read_mmrec
from fusionrec.data.catalog import read_catalog
from fusionrec.data.splits import make_split
from fusionrec.encoders import encode_dataset
from fusionrec.encoders.behaviour import behaviour_tuned_specs
from fusionrec.encoders.config import default_specs
from fusionrec.errors import ConfigError, DataFileError
from fusionrec.evaluation.auto import choose_settings
from fusionrec.evaluation.machine import machine_info
from fusionrec.evaluation.metrics import METRICS
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.evaluation.ranking import DEFAULT_KS, Evaluation
from fusionrec.models import CONTENT_MODELS, build_model, model_class
from fusionrec.models.train_config import TrainConfig

if TYPE_CHECKING:
    from fusionrec.config import DataSettings, ExperimentConfig
    from fusionrec.data.dataset import Protocol, Split
    from fusionrec.encoders.config import EncoderSpec
    from fusionrec.models.base import Recommender
logger = logging.getLogger(__name__)


@dataclass
class SeedRun:
    """What one seed produced: valid and test evaluations and timings."""

    seed: int
    valid: Evaluation
    test: Evaluation
    timing: dict[str, Any]
    best_valid: float | None = None
    train_config: dict[str, Any] | None = None
    """The effective TrainConfig of a torch model (model defaults included), else None."""
    warnings: list[str] = field(default_factory=list)
    """What training warned about (e.g. valid at popularity level), with what to change."""


def run_benchmark(
    data_dir: str | Path | None,
    dataset: str,
    model: str | type[Recommender],
    seeds: Sequence[int] = (0,),
    protocol: Protocol | None = None,
    params: Mapping[str, Any] | None = None,
    train: TrainConfig | Mapping[str, Any] | None = None,
    ks: tuple[int, ...] = DEFAULT_KS,
    out_dir: str | Path | None = None,
    *,
    metrics: tuple[str, ...] = METRICS,
    split: Split | None = None,
) -> dict[str, Any]:
    """Fit and evaluate ``model`` on ``dataset`` once per seed; summarise over seeds.

    Args:
        data_dir: folder of datasets; None means ``$FUSIONREC_DATA``. Unused when ``split`` is given.
        dataset: a folder under ``data_dir`` (``"baby"``) or an ``.inter`` stem inside one
            (``"ml100k-mm-cold"`` lives in ``ml100k-mm/``); with ``split`` just its name.
        model: a registry name or a :class:`~fusionrec.models.base.Recommender` subclass.
        seeds: one fit per seed (torch models: ``TrainConfig.seed``; others: a ``seed``
            argument when their constructor has one).
        protocol: ``"warm"`` or ``"cold"``; None keeps the split's own.
        params: model hyper-parameters.
        train: training settings for torch models (``seed`` is set per run).
        ks: cut-offs.
        out_dir: where per-user values (``<dataset>_<model>_seed<k>_{valid,test}.npz``),
            ``config.json`` and ``result.json`` are written; None writes nothing.
        metrics: metric names.
        split: an already loaded split to use instead of reading ``dataset``.

    Returns:
        The result dict described in the module docstring.

    Example:
        >>> result = run_benchmark(None, "baby", "bpr", seeds=[0, 1], train={"epochs": 50})  # doctest: +SKIP
        >>> result["metrics"]["recall@20"]  # doctest: +SKIP
        {'mean': 0.051, 'std': 0.0007}
    """
    if not seeds:
        raise ConfigError("seeds is empty; give at least one seed, e.g. [0]")
    if split is None:
        split = load_split(data_dir, dataset, protocol)
    elif protocol is not None:
        split = split.with_protocol(protocol)
    name = model if isinstance(model, str) else model.name
    runs = [_run_seed(split, model, params or {}, train, seed, ks, metrics) for seed in seeds]
    config = _run_config(data_dir, dataset, name, split, seeds, params, runs[0].train_config, ks, metrics)
    result = summarise(dataset, name, split.protocol, runs, config)
    if out_dir is not None:
        write_outputs(Path(out_dir), dataset, name, runs, result)
    return result


def run_benchmark_grid(
    data_dir: str | Path | None,
    datasets: Sequence[str],
    models: Sequence[str | type[Recommender]],
    seeds: Sequence[int] = (0,),
    params: Mapping[str, Mapping[str, Any]] | None = None,
    train: TrainConfig | Mapping[str, Any] | None = None,
    ks: tuple[int, ...] = DEFAULT_KS,
    out_dir: str | Path | None = None,
    *,
    protocol: Protocol | None = None,
    metrics: tuple[str, ...] = METRICS,
) -> list[dict[str, Any]]:
    """:func:`run_benchmark` for every dataset x model; ``params`` maps model name -> hyper-parameters.

    Each dataset is read once; results go to ``out_dir/<dataset>/<model>/``.

    Example:
        >>> results = run_benchmark_grid(None, ["baby", "tiktok"], ["pop", "bpr"], seeds=[0, 1, 2])  # doctest: +SKIP
        >>> print(markdown_table(results))  # doctest: +SKIP
    """
    results = []
    for dataset in datasets:
        split = load_split(data_dir, dataset, protocol)
        for model in models:
            name = model if isinstance(model, str) else model.name
            target = None if out_dir is None else Path(out_dir) / dataset / name
            logger.info("benchmark %s on %s, seeds %s", name, dataset, list(seeds))
            run = run_benchmark(
                data_dir,
                dataset,
                model,
                seeds,
                params=(params or {}).get(name),
                train=train,
                ks=ks,
                out_dir=target,
                metrics=metrics,
                split=split,
            )
            results.append(run)
    return results


def run_experiment(config: ExperimentConfig) -> dict[str, Any]:
    """Run the benchmark an :class:`~fusionrec.config.ExperimentConfig` describes.

    The same preparation as ``fusionrec train`` (:func:`prepare_split`: load, encode content from the
    cache, check that a content model gets content); with ``model.name = "auto"`` the model and its
    settings are chosen on valid first (:mod:`fusionrec.evaluation.auto`, evidence in ``auto.json``).
    Writes what :func:`run_benchmark` writes to ``output.dir`` plus the whole resolved experiment
    (the encoders actually used, the chosen model) as ``experiment.json``.

    Example:
        >>> run_experiment(load_config(Path("exp.toml"), {"train.lr": "0.01"}))  # doctest: +SKIP
    """
    split, config = prepare_split(config)
    config = resolve_auto(split, config)
    dataset = config.data.dataset or split.dataset.name
    result = run_benchmark(
        config.data.dir,
        dataset,
        config.model.name,
        config.seeds,
        params=config.model.params,
        train=config.train,
        ks=config.evaluation.ks,
        out_dir=config.output.dir,
        metrics=config.evaluation.metrics,
        split=split,
    )
    result["recipe"] = config.recipe
    dump_config(config, config.output.dir / "experiment.json")
    (config.output.dir / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def prepare_split(config: ExperimentConfig) -> tuple[Split, ExperimentConfig]:
    """The experiment's split with its content encoded (cached), and the config with the encoders used.

    Raises:
        ConfigError: the model reads content but the data has none (naming the fix), never a silent
            ID-only run.
    """
    split = split_from_settings(config.data)
    encoders = attach_encoded_features(split, config)
    require_content(split, config)
    return split, config.model_copy(update={"encoders": encoders})


def require_content(split: Split, config: ExperimentConfig) -> None:
    """Raise when a content model (one of :data:`~fusionrec.models.CONTENT_MODELS`) would train without content.

    FusionGraph trained on behaviour alone on purpose says so with ``modalities = []``.
    """
    name, params = config.model.name, config.model.params
    if name not in CONTENT_MODELS or split.dataset.features or params.get("modalities") == []:
        return
    table = split.dataset.item_table
    columns = [] if table is None else [str(c) for c in table.columns]
    raise ConfigError(
        f"model {name!r} reads item content, but dataset {split.dataset.name!r} has none: no <modality>_feat.npy "
        f"arrays, and {'no item table' if table is None else f'no text or media column known in {columns}'}. "
        "Add content (an items.csv with text or media columns, [[encoders]] tables naming its columns, or feature "
        "arrays), choose an ID-only model (e.g. --model lightgcn), or leave the model out to let fusionrec choose"
    )


def resolve_auto(split: Split, config: ExperimentConfig) -> ExperimentConfig:
    """With ``model.name = "auto"``, the config with the model and settings chosen on valid (else unchanged).

    The evidence is written to ``output.dir/auto.json``.
    """
    if config.model.name != AUTO:
        return config
    user_train = config.train.model_dump(exclude_unset=True, exclude={"seed"})
    choice = choose_settings(split, seed=config.seeds[0], metric=config.evaluation.valid_metric, train=user_train)
    config.output.dir.mkdir(parents=True, exist_ok=True)
    (config.output.dir / "auto.json").write_text(json.dumps(choice.to_dict(), indent=2, default=str) + "\n")
    train = config.train.model_copy(update=choice.train)
    for key in choice.train:  # what the choice set counts as set, so the model's own defaults do not replace it
        train.model_fields_set.add(key)
    return config.model_copy(update={"model": ModelSettings(name=choice.model, params=choice.params), "train": train})


def attach_encoded_features(split: Split, config: ExperimentConfig) -> list[EncoderSpec]:
    """Encode (or read from the cache) the content features of the experiment; returns the specs used.

    The config's ``[[encoders]]`` tables decide. Without any, for a content
    model (:data:`~fusionrec.models.CONTENT_MODELS`, the default model among
    them) a dataset that has no precomputed features but an item table with
    known content columns (text fields, posters, audio...) is encoded with
    the default specs those columns imply, so the model sees the content the
    data has; precomputed features and ID-only models are left as they are.
    """
    dataset = split.dataset
    specs = list(config.encoders)
    wants_content = config.model.name in CONTENT_MODELS or config.model.name == AUTO
    if not specs and wants_content and not dataset.features and dataset.item_table is not None:
        specs = default_specs(list(dataset.item_table.columns), dataset.item_table)
    if not specs:
        return []
    specs = behaviour_tuned_specs(specs, split)  # text encoders tuned on the training interactions, where asked
    report = encode_dataset(dataset, specs)
    logger.info("encoded features:\n%s", report.to_text())
    return specs


def load_split(data_dir: str | Path | None, dataset: str, protocol: Protocol | None = None) -> Split:
    """Read ``dataset`` under ``data_dir`` (None: ``$FUSIONREC_DATA``) with :func:`read_mmrec`."""
    folder, stem = resolve_dataset(_data_dir(data_dir), dataset)
    return read_mmrec(folder, name=stem, protocol=protocol)


def resolve_dataset(data_dir: Path, dataset: str) -> tuple[Path, str]:
    """``(folder, .inter stem)`` of ``dataset``: ``data_dir/dataset/`` or the folder holding ``<dataset>.inter``."""
    if (data_dir / dataset).is_dir():
        return data_dir / dataset, dataset
    matches = sorted(data_dir.glob(f"*/{dataset}.inter"))
    if len(matches) == 1:
        return matches[0].parent, dataset
    if matches:
        raise DataFileError(
            f"{dataset}.inter is in {len(matches)} folders under {data_dir} ({[str(m.parent) for m in matches]}); "
            "name the folder as the dataset"
        )
    known = sorted(p.stem for p in data_dir.glob("*/*.inter"))
    raise DataFileError(
        f"no dataset {dataset!r} under {data_dir}: neither a folder {dataset}/ nor a file */{dataset}.inter; "
        f"available: {known}"
    )


def split_from_settings(data: DataSettings) -> Split:
    """The split a config's ``data`` section describes: a prepared dataset or a split raw catalog."""
    if data.dataset is not None:
        return load_split(data.resolved_dir(), data.dataset, data.protocol)
    if data.interactions is None:
        raise ConfigError("data.dataset or data.interactions must be set; neither was given")
    catalog = read_catalog(
        data.interactions,
        data.items,
        columns=data.columns,
        min_rating=data.min_rating,
        unknown_items=data.unknown_items,
    )
    settings = data.split
    split = make_split(catalog, settings.kind, settings.ratios, settings.seed, settings.min_interactions)
    return split if data.protocol is None else split.with_protocol(data.protocol)


def summarise(
    dataset: str, model: str, protocol: str, runs: Sequence[SeedRun], config: Mapping[str, Any]
) -> dict[str, Any]:
    """The result dict of several seed runs (see the module docstring)."""
    return {
        "dataset": dataset,
        "model": model,
        "protocol": protocol,
        "seeds": [run.seed for run in runs],
        "metrics": _mean_std([run.test.summary() for run in runs]),
        "valid": _mean_std([run.valid.summary() for run in runs]),
        "timing": {**_mean_of([run.timing for run in runs]), "peak_rss_mb": peak_rss_mb()},
        "n_users": {"valid": len(runs[0].valid.users), "test": len(runs[0].test.users)},
        "config": dict(config),
        "machine": machine_info(),
        "per_seed": [_seed_record(run) for run in runs],
        "warnings": [f"seed {run.seed}: {text}" for run in runs for text in run.warnings],
        "beyond": {
            "metrics": _mean_std([run.test.beyond for run in runs]),
            "valid": _mean_std([run.valid.beyond for run in runs]),
            "item_vectors": runs[0].test.item_vectors,
        },
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _run_seed(
    split: Split,
    model: str | type[Recommender],
    params: Mapping[str, Any],
    train: TrainConfig | Mapping[str, Any] | None,
    seed: int,
    ks: tuple[int, ...],
    metrics: tuple[str, ...],
) -> SeedRun:
    return fit_and_evaluate(split, model, params, train, seed, ks, metrics)[1]


def fit_and_evaluate(
    split: Split,
    model: str | type[Recommender],
    params: Mapping[str, Any],
    train: TrainConfig | Mapping[str, Any] | None,
    seed: int,
    ks: tuple[int, ...] = DEFAULT_KS,
    metrics: tuple[str, ...] = METRICS,
) -> tuple[Recommender, SeedRun]:
    """Fit one model for ``seed`` (early stopping on valid), then evaluate valid and test once at that point.

    What ``fusionrec train`` and every seed of ``fusionrec benchmark`` run.
    """
    recommender = build_for_seed(model, params, train, seed)
    started = time.perf_counter()
    recommender.fit(split)
    fit_seconds = time.perf_counter() - started
    valid = evaluate_model(recommender, split, "valid", ks, metrics)
    test = evaluate_model(recommender, split, "test", ks, metrics)
    history = getattr(recommender, "history_", None)
    timing = _timing(history, fit_seconds, test.seconds)
    logger.info("seed %d: fitted in %.1fs, test %s", seed, fit_seconds, _short(test.summary()))
    best = None if history is None else float(history.best_valid)
    used = getattr(recommender, "train_config", None)
    train_config = used.model_dump() if used is not None and type(recommender).takes_train_config else None
    run = SeedRun(seed, valid, test, timing, best_valid=best, train_config=train_config)
    if history is not None:
        run.timing["stop_reason"] = history.stop_reason
        run.warnings = list(history.warnings)
    return recommender, run


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


def _timing(history: Any, fit_seconds: float, eval_seconds: float) -> dict[str, Any]:
    """Seconds and epochs of one fit; non-torch models (no ``history_``) have 0 epochs."""
    if history is None:
        return {
            "seconds_per_epoch": 0.0,
            "epochs": 0,
            "epochs_run": 0,
            "train_seconds": fit_seconds,
            "fit_seconds": fit_seconds,
            "eval_seconds": eval_seconds,
        }
    return {
        "seconds_per_epoch": float(history.seconds_per_epoch),
        "epochs": int(history.best_epoch),
        "epochs_run": int(history.epochs_run),
        "train_seconds": float(history.train_seconds),
        "fit_seconds": fit_seconds,
        "eval_seconds": eval_seconds,
    }


def _mean_std(summaries: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``{metric: {"mean", "std"}}`` over seeds; std is the sample std (ddof=1), 0 for one seed."""
    result: dict[str, dict[str, float]] = {}
    for name in summaries[0] if summaries else ():
        values = np.array([s[name] for s in summaries], dtype=np.float64)
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        result[name] = {"mean": float(values.mean()), "std": std}
    return result


def _mean_of(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean of each numeric entry over seeds; a text entry (the stop reason) is kept when all seeds agree."""
    result: dict[str, Any] = {}
    for key in records[0]:
        values = [r[key] for r in records if key in r]
        if all(isinstance(v, int | float) for v in values):
            result[key] = float(np.mean(values))
        else:
            result[key] = values[0] if len(set(map(str, values))) == 1 else ", ".join(map(str, values))
    return result


def _seed_record(run: SeedRun) -> dict[str, Any]:
    return {
        "seed": run.seed,
        "test": run.test.summary(),
        "valid": run.valid.summary(),
        "timing": run.timing,
        "best_valid": run.best_valid,
        "beyond": {"test": run.test.beyond, "valid": run.valid.beyond},
    }


def _run_config(
    data_dir: str | Path | None,
    dataset: str,
    model: str,
    split: Split,
    seeds: Sequence[int],
    params: Mapping[str, Any] | None,
    train_config: Mapping[str, Any] | None,
    ks: tuple[int, ...],
    metrics: tuple[str, ...],
) -> dict[str, Any]:
    """The resolved settings of a run, JSON-ready; ``train`` is what the model used (seed aside)."""
    return {
        "data_dir": None if data_dir is None else str(data_dir),
        "dataset": dataset,
        "split": split.description,
        "protocol": split.protocol,
        "model": model,
        "params": dict(params or {}),
        "train": None if train_config is None else {k: v for k, v in train_config.items() if k != "seed"},
        "seeds": list(seeds),
        "ks": list(ks),
        "metrics": list(metrics),
    }


def write_outputs(out_dir: Path, dataset: str, model: str, runs: Sequence[SeedRun], result: Mapping[str, Any]) -> None:
    """Per-user values of every seed and part (``.npz``), ``config.json`` and ``result.json`` in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:
        for part, evaluation in (("valid", run.valid), ("test", run.test)):
            evaluation.save(out_dir / f"{dataset}_{model}_seed{run.seed}_{part}.npz")
    (out_dir / "config.json").write_text(json.dumps(result["config"], indent=2, default=str) + "\n")
    (out_dir / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    logger.info("wrote per-user values, config.json and result.json to %s", out_dir)


def _data_dir(data_dir: str | Path | None) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    value = os.environ.get("FUSIONREC_DATA")
    if not value:
        raise ConfigError("no data folder: pass data_dir or set $FUSIONREC_DATA to the benchmark data folder")
    return Path(value)


def _short(summary: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in summary.items() if k.endswith("@20"))


__all__ = [
    "SeedRun",
    "build_for_seed",
    "fit_and_evaluate",
    "load_split",
    "peak_rss_mb",
    "prepare_split",
    "require_content",
    "resolve_auto",
    "resolve_dataset",
    "run_benchmark",
    "run_benchmark_grid",
    "run_experiment",
    "split_from_settings",
    "summarise",
    "train_config_for_seed",
    "train_values_for_seed",
    "write_outputs",
]
