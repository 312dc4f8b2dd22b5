"""Reports of benchmark results: JSON, a Markdown table and a bar plot.

Each function takes the result dicts of
:func:`fusionrec.evaluation.benchmark.run_benchmark` (``dataset``, ``model``
and ``metrics: {"recall@20": {"mean", "std"}}``; :func:`beyond_table` reads
``beyond: {"metrics": {"coverage@20": {"mean", "std"}}, "item_vectors"}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure  # no pyplot: no global figure state, whatever the backend

Result = Mapping[str, Any]

TABLE_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")
PLOT_METRICS = ("recall@20", "ndcg@20")
BEYOND_TABLE_METRICS = ("coverage@20", "gini@20", "popularity@20", "novelty@20", "ild@20")


def results_to_json(results: Sequence[Result], path: str | Path) -> Path:
    """Write ``results`` as a JSON list; returns the path.

    Example:
        >>> results_to_json(run_benchmark_grid(None, ["baby"], ["pop", "bpr"]), "runs/results.json")  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(list(results), indent=2, default=str) + "\n", encoding="utf-8")
    return path


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON list written by :func:`results_to_json` (a single result is wrapped in a list)."""
    loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    return loaded if isinstance(loaded, list) else [loaded]


def markdown_table(results: Sequence[Result], metrics: Sequence[str] = TABLE_METRICS, digits: int = 4) -> str:
    """A Markdown table: one row per dataset x model, cells ``mean ± std``, the best mean per dataset in bold.

    Args:
        results: benchmark result dicts.
        metrics: the columns, e.g. ``("recall@20", "ndcg@20")``.
        digits: decimals shown.

    Example:
        >>> row = {"dataset": "baby", "model": "pop", "metrics": {"recall@20": {"mean": 0.0123, "std": 0.0}}}
        >>> print(markdown_table([row], ["recall@20"]))
        | dataset | model | recall@20 |
        |---|---|---|
        | baby | pop | **0.0123 ± 0.0000** |
    """
    best = _best_means(results, metrics, digits)
    lines = ["| dataset | model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 2) + "|"]
    for result in results:
        cells = [_cell(result, metric, digits, best) for metric in metrics]
        lines.append(f"| {result['dataset']} | {result['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def beyond_table(results: Sequence[Result], metrics: Sequence[str] = BEYOND_TABLE_METRICS, digits: int = 3) -> str:
    """A Markdown table of the beyond-accuracy values: one row per dataset x model, cells ``mean ± std``.

    Nothing is bold: whether more coverage or novelty is better depends on what the service wants.
    The last column says what intra-list diversity was computed from; a result without
    beyond-accuracy values (written before they existed) shows "–".

    Example:
        >>> beyond = {"metrics": {"gini@20": {"mean": 0.81, "std": 0.0}}, "item_vectors": "content: text"}
        >>> print(beyond_table([{"dataset": "ml", "model": "pop", "beyond": beyond}], ["gini@20"]))
        | dataset | model | gini@20 | ILD from |
        |---|---|---|---|
        | ml | pop | 0.810 ± 0.000 | content: text |
    """
    lines = ["| dataset | model | " + " | ".join(metrics) + " | ILD from |", "|---" * (len(metrics) + 3) + "|"]
    for result in results:
        beyond = result.get("beyond") or {}
        values = beyond.get("metrics", {})
        cells = [_mean_std_text(values[m], digits) if m in values else "–" for m in metrics]
        cells.append(str(beyond.get("item_vectors", "–")))
        lines.append(f"| {result['dataset']} | {result['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_results(
    results: Sequence[Result], path: str | Path, metrics: Sequence[str] = PLOT_METRICS, title: str | None = None
) -> Path:
    """Bar chart of ``metrics`` per model (one bar per dataset) with std error bars, saved as PNG.

    Example:
        >>> plot_results(results, "runs/recall_ndcg.png")  # doctest: +SKIP
    """
    models = list(dict.fromkeys(str(r["model"]) for r in results))
    datasets = list(dict.fromkeys(str(r["dataset"]) for r in results))
    figure = Figure(figsize=(max(4.0, 1.2 * len(models)) * len(metrics), 4.0), layout="constrained")
    FigureCanvasAgg(figure)  # attaches the Agg canvas that renders the PNG
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    width = 0.8 / max(len(datasets), 1)
    for axis, metric in zip(axes, metrics, strict=True):
        for offset, dataset in enumerate(datasets):
            means, stds = _series(results, dataset, models, metric)
            positions = np.arange(len(models)) + (offset - (len(datasets) - 1) / 2) * width
            axis.bar(positions, means, width, yerr=stds, capsize=3, label=dataset)
        axis.set_xticks(np.arange(len(models)), models, rotation=30, ha="right")
        axis.set_title(metric)
        axis.set_ylim(bottom=0)
    axes[0].legend(title="dataset")
    if title:
        figure.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def plot_comparison(tests: Sequence[Any], path: str | Path, label_a: str, label_b: str) -> Path:
    """Each metric's mean per-user difference A - B with its 95 % interval (paired), saved as PNG.

    Args:
        tests: :class:`~fusionrec.evaluation.significance.PairedTest` results, one per metric.
        path: the PNG to write.
        label_a: what A is (e.g. its folder name).
        label_b: what B is.
    """
    figure = Figure(figsize=(max(4.0, 0.9 * len(tests) + 2), 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    differences = [t.mean_diff for t in tests]
    errors = [1.96 * abs(t.mean_diff / t.t_statistic) if t.t_statistic not in (0, float("inf")) else 0.0 for t in tests]
    colours = ["tab:green" if t.t_pvalue < 0.05 and t.mean_diff > 0 else "tab:red" if t.t_pvalue < 0.05 else "tab:gray"
               for t in tests]  # fmt: skip
    axis.bar(range(len(tests)), differences, yerr=errors, capsize=4, color=colours)
    axis.axhline(0.0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(tests)), [t.metric for t in tests], rotation=30, ha="right")
    axis.set_ylabel(f"{label_a} - {label_b}")
    axis.set_title("mean per-user difference, 95 % interval (green/red: p < 0.05)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=120)
    return path


def _series(results: Sequence[Result], dataset: str, models: list[str], metric: str) -> tuple[list[float], list[float]]:
    """Means and stds of ``metric`` for each model on ``dataset`` (NaN where absent)."""
    by_model = {str(r["model"]): r for r in results if str(r["dataset"]) == dataset}
    means, stds = [], []
    for model in models:
        value = by_model.get(model, {}).get("metrics", {}).get(metric)
        means.append(float(value["mean"]) if value else float("nan"))
        stds.append(float(value["std"]) if value else 0.0)
    return means, stds


def _best_means(results: Sequence[Result], metrics: Sequence[str], digits: int) -> dict[tuple[str, str], float]:
    """``{(dataset, metric): best mean rounded to digits}``."""
    best: dict[tuple[str, str], float] = {}
    for result in results:
        for metric in metrics:
            value = result.get("metrics", {}).get(metric)
            if value is None:
                continue
            key = (str(result["dataset"]), metric)
            best[key] = max(best.get(key, float("-inf")), round(float(value["mean"]), digits))
    return best


def _cell(result: Result, metric: str, digits: int, best: Mapping[tuple[str, str], float]) -> str:
    value = result.get("metrics", {}).get(metric)
    if value is None:
        return "–"
    text = _mean_std_text(value, digits)
    return f"**{text}**" if round(float(value["mean"]), digits) == best[(str(result["dataset"]), metric)] else text


def _mean_std_text(value: Mapping[str, Any], digits: int) -> str:
    return f"{float(value['mean']):.{digits}f} ± {float(value.get('std', 0.0)):.{digits}f}"


__all__ = [
    "BEYOND_TABLE_METRICS",
    "PLOT_METRICS",
    "TABLE_METRICS",
    "beyond_table",
    "load_results",
    "markdown_table",
    "plot_results",
    "results_to_json",
]
