"""Benchmark results: what one seed produced, the summary over seeds, and the files written beside them.

The result dict of :func:`summarise` is what ``fusionrec benchmark`` writes as
``result.json`` (see :mod:`fusionrec.evaluation.benchmark`); :func:`write_outputs`
adds every seed's per-user values (``.npz``) for paired tests later.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.evaluation.machine import machine_info
from fusionrec.evaluation.ranking import Evaluation

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split

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


def seed_timing(history: Any, fit_seconds: float, eval_seconds: float) -> dict[str, Any]:
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


def run_config_record(
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


def short_summary(summary: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in summary.items() if k.endswith("@20"))


__all__ = ["SeedRun", "peak_rss_mb", "run_config_record", "seed_timing", "short_summary", "summarise", "write_outputs"]
