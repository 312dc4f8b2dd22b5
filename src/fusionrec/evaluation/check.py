"""A check anyone can run on unseen data: automatic settings against baselines tuned on valid.

:func:`run_check` prepares a data set once (content encoded and cached), tunes
each baseline on valid (:func:`~fusionrec.evaluation.tuning.tune`), runs it
and the automatic settings (:mod:`fusionrec.evaluation.auto`) for every seed,
reads test once at the valid-chosen point, and compares automatic settings with
each baseline by paired tests over users (seeds averaged per user). The report
(``report.md``, ``check.json``, ``check.png``) says whether the automatic
settings lose to the best baseline on Recall@20 or NDCG@20.

Example:
    >>> report = run_check(load_config(None, {"data.dir": "data", "data.dataset": "mine"}), trials=10)  # doctest: +SKIP
    >>> report.verdict  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrec.config import AUTO, ModelSettings
from fusionrec.evaluation.benchmark import choose_for_experiment, prepare_split, run_benchmark
from fusionrec.evaluation.report import markdown_table, plot_results
from fusionrec.evaluation.significance import compare_results
from fusionrec.evaluation.tuning import tune

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig

logger = logging.getLogger(__name__)

WARM_BASELINES = ("ease", "lightgcn", "itemknn", "pop")
COLD_BASELINES = ("content-knn", "random")
CHECKED = ("recall@20", "ndcg@20")


@dataclass
class CheckReport:
    """Every run's result, the paired tests of auto against each baseline, and the verdict."""

    results: list[dict[str, Any]]
    tests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"results": self.results, "tests": self.tests, "verdict": self.verdict}


def run_check(
    config: ExperimentConfig,
    *,
    trials: int = 15,
    timeout: float | None = None,
    baselines: tuple[str, ...] | None = None,
) -> CheckReport:
    """Auto against baselines tuned on valid, ``config.seeds``, paired tests; writes the report to ``output.dir``.

    Args:
        config: the data (``data``), seeds, cut-offs and output folder; ``model`` is ignored.
        trials: valid trials per baseline (their study is resumed when the folder holds one).
        timeout: seconds each baseline's tuning may take (None: no limit).
        baselines: models to tune (default: EASE, LightGCN, ItemKNN and popularity; cold-start:
            content-kNN and random).
    """
    out = Path(config.output.dir)
    split, prepared = prepare_split(config.model_copy(update={"model": ModelSettings(name=AUTO)}))
    chosen = baselines or (COLD_BASELINES if split.protocol == "cold" else WARM_BASELINES)
    user_train = prepared.train.model_dump(exclude_unset=True, exclude={"seed"})
    results = []
    for model in chosen:
        folder, seed = out / "tune" / model, config.seeds[0]
        tuned = tune(split, model, trials=trials, timeout=timeout, folder=folder, seed=seed, base_train=user_train)
        results.append(_run(split, model, tuned.best_params, tuned.best_train, prepared, out / model))
    auto, choice = choose_for_experiment(
        split, prepared.model_copy(update={"output": prepared.output.model_copy(update={"dir": out / "auto"})})
    )
    train = auto.train.model_dump(exclude_unset=True)
    first_fit = choice.first_fit(config.seeds[0]) if choice is not None else None
    fitted = None if first_fit is None else {config.seeds[0]: first_fit}
    run = _run(split, auto.model.name, auto.model.params, train, prepared, out / "auto", fitted)
    results.append({**run, "model": "auto"})
    report = CheckReport(results)
    for model in chosen:
        tests = compare_results(out / "auto", out / model)
        report.tests[model] = [t.to_dict() for t in tests if t.metric in CHECKED]
    report.verdict = _verdict(results)
    _write(report, out)
    return report


def _run(
    split: Any,
    model: str,
    params: dict[str, Any],
    train: dict[str, Any],
    config: Any,
    folder: Path,
    fitted: dict[int, Any] | None = None,
) -> dict[str, Any]:
    logger.info("check: %s with %s", model, params)
    return run_benchmark(
        None,
        split.dataset.name,
        model,
        config.seeds,
        params=params,
        train={**train, "progress": False} if train else None,
        ks=config.evaluation.ks,
        out_dir=folder,
        metrics=config.evaluation.metrics,
        split=split,
        fitted=fitted,
    )


def _verdict(results: list[dict[str, Any]]) -> str:
    """Whether auto is below the best baseline on any checked metric (test means over seeds)."""
    auto = next(r for r in results if r["model"] == "auto")
    lines = []
    for metric in CHECKED:
        others = [r for r in results if r["model"] != "auto" and metric in r["metrics"]]
        best = max(others, key=lambda r: r["metrics"][metric]["mean"])
        mine, theirs = auto["metrics"][metric]["mean"], best["metrics"][metric]["mean"]
        verb = "at or above" if mine >= theirs else "below"
        lines.append(f"{metric}: auto {mine:.4f} is {verb} the best baseline, {best['model']} {theirs:.4f}")
    return "\n".join(lines)


def _write(report: CheckReport, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "check.json").write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    lines = ["# auto against baselines tuned on valid", "", markdown_table(report.results), "", "## paired tests", ""]
    for model, tests in report.tests.items():
        for test in tests:
            lines.append(
                f"- auto vs {model}, {test['metric']}: {test['mean_diff']:+.4f} "
                f"(t-test p {test['t_pvalue']:.2g}, Wilcoxon p {test['wilcoxon_pvalue']:.2g})"
            )
    lines += ["", "## verdict", "", report.verdict, ""]
    (out / "report.md").write_text("\n".join(lines))
    plot_results(report.results, out / "check.png", title="auto against tuned baselines (test)")


__all__ = ["COLD_BASELINES", "WARM_BASELINES", "CheckReport", "run_check"]
