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

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrec.config import dump_config
from fusionrec.errors import ConfigError
from fusionrec.evaluation.metrics import METRICS
from fusionrec.evaluation.preparation import (
    choose_for_experiment,
    load_split,
    prepare_split,
    require_content,
    resolve_auto,
    resolve_dataset,
    split_from_settings,
)
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.evaluation.ranking import DEFAULT_KS
from fusionrec.evaluation.results import (
    SeedRun,
    peak_rss_mb,
    run_config_record,
    seed_timing,
    short_summary,
    summarise,
    write_outputs,
)
from fusionrec.evaluation.seeded import build_for_seed, train_config_for_seed, train_values_for_seed
from fusionrec.models.train_config import TrainConfig

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig
    from fusionrec.data.dataset import Protocol, Split
    from fusionrec.models.base import Recommender
logger = logging.getLogger(__name__)


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
    fitted: Mapping[int, tuple[Recommender, float]] | None = None,
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
        fitted: ``{seed: (model, fit seconds)}`` already fitted with these settings on ``split``
            (automatic settings keep the winner's fit); those seeds are evaluated without fitting again.

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
    done = fitted or {}
    runs = [
        fit_and_evaluate(split, model, params or {}, train, seed, ks, metrics, fitted=done.get(seed))[1]
        for seed in seeds
    ]
    config = run_config_record(data_dir, dataset, name, split, seeds, params, runs[0].train_config, ks, metrics)
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
    config, choice = choose_for_experiment(split, config)
    first_fit = choice.first_fit(config.seeds[0]) if choice is not None else None
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
        fitted=None if first_fit is None else {config.seeds[0]: first_fit},
    )
    result["recipe"] = config.recipe
    dump_config(config, config.output.dir / "experiment.json")
    (config.output.dir / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def fit_and_evaluate(
    split: Split,
    model: str | type[Recommender],
    params: Mapping[str, Any],
    train: TrainConfig | Mapping[str, Any] | None,
    seed: int,
    ks: tuple[int, ...] = DEFAULT_KS,
    metrics: tuple[str, ...] = METRICS,
    *,
    fitted: tuple[Recommender, float] | None = None,
) -> tuple[Recommender, SeedRun]:
    """Fit one model for ``seed`` (early stopping on valid), then evaluate valid and test once at that point.

    What ``fusionrec train`` and every seed of ``fusionrec benchmark`` run. ``fitted`` is ``(model, fit
    seconds)`` already fitted on ``split`` with exactly these settings and seed: it is evaluated, not fitted again.
    """
    recommender = build_for_seed(model, params, train, seed)
    if fitted is None:
        started = time.perf_counter()
        recommender.fit(split)
        fit_seconds = time.perf_counter() - started
    else:
        logger.info("seed %d: the fit made while choosing the settings is reused", seed)
        if type(recommender).takes_train_config:  # record these settings, not the choosing run's time budget
            fitted[0].train_config = recommender.train_config  # type: ignore[attr-defined]
        recommender, fit_seconds = fitted
    valid = evaluate_model(recommender, split, "valid", ks, metrics)
    test = evaluate_model(recommender, split, "test", ks, metrics)
    history = getattr(recommender, "history_", None)
    timing = seed_timing(history, fit_seconds, test.seconds)
    logger.info("seed %d: fitted in %.1fs, test %s", seed, fit_seconds, short_summary(test.summary()))
    best = None if history is None else float(history.best_valid)
    used = getattr(recommender, "train_config", None)
    train_config = used.model_dump() if used is not None and type(recommender).takes_train_config else None
    run = SeedRun(seed, valid, test, timing, best_valid=best, train_config=train_config)
    if history is not None:
        run.timing["stop_reason"] = history.stop_reason
        run.warnings = list(history.warnings)
    return recommender, run


__all__ = [
    "SeedRun",
    "build_for_seed",
    "choose_for_experiment",
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
