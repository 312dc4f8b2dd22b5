"""The accuracy-diversity trade-off of the flagship under the MMR reranker, on ml100k-mm and TikTok.

For each dataset, one after the other: the flagship (FusionGraph, with the
settings ``benchmarks/multimodal.py`` tuned for that dataset, seed 0, one
torch thread) is trained once, stopping early on valid; then
:class:`~fusionrec.models.diversity.MMRReranker` reorders each user's 100
best unseen items at every relevance weight (lambda) and valid and test are
evaluated. Nothing is chosen here: valid is reported beside test so a weight
can be chosen on it; test is read once per weight.

On TikTok the flagship's tuned settings include its second stage, which lifts
its own top 100 above the rest in its order; the reranker's candidates are
then exactly those 100, and their relevance is that order (evenly spaced).

Usage::

    python experiments/diversity_tradeoff.py --out runs/diversity --plot docs/diversity-tradeoff.png
    python experiments/diversity_tradeoff.py --out runs/diversity --datasets ml100k-mm --weights 1 0.5

Writes ``<out>/diversity_tradeoff.json`` and ``<out>/diversity_tradeoff.md`` and the PNG plot;
``--replot <out>/diversity_tradeoff.json`` redraws the plot and table of a stored run without training.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from fusionrec.data.dataset import Split
from fusionrec.encoders.loading import read_encoded
from fusionrec.evaluation import Evaluation, evaluate_model
from fusionrec.evaluation.benchmark import build_for_seed, load_split
from fusionrec.models.base import Recommender
from fusionrec.models.diversity import MMRReranker

FLAGSHIP = "fusiongraph"
DATASETS = ("ml100k-mm", "tiktok")
WEIGHTS = (1.0, 0.9, 0.8, 0.7, 0.5, 0.3)
KS = (10, 20)
SHOWN = ("recall@20", "ndcg@20")
BEYOND_SHOWN = ("ild@20", "coverage@20", "gini@20", "novelty@20")
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

logger = logging.getLogger("diversity_tradeoff")


def main() -> int:
    args = _parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.replot:
        stored = json.loads(Path(args.replot).read_text(encoding="utf-8"))
        plot(stored, Path(args.plot))
        print(markdown(stored))
        return 0
    data_dir = Path(args.data_dir or os.environ.get("FUSIONREC_DATA", ""))
    if not data_dir.is_dir():
        print("pass --data-dir or set FUSIONREC_DATA to the benchmark data folder", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for dataset in args.datasets:  # one training at a time
        results.append(sweep(data_dir, dataset, args.weights, args.candidates, args.threads))
        (out / "diversity_tradeoff.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    (out / "diversity_tradeoff.md").write_text(table + "\n", encoding="utf-8")
    plot(results, Path(args.plot))
    print(table)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/diversity", help="folder for the JSON and Markdown results")
    parser.add_argument("--plot", default="docs/diversity-tradeoff.png", help="where the PNG plot goes")
    parser.add_argument("--data-dir", help="benchmark data folder (default: $FUSIONREC_DATA)")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--weights", nargs="+", type=float, default=list(WEIGHTS), help="relevance weights (lambda)")
    parser.add_argument("--candidates", type=int, default=100, help="best unseen items reordered per user")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--replot", metavar="JSON", help="train nothing: write the table and plot of a stored run")
    return parser


def sweep(data_dir: Path, dataset: str, weights: list[float], candidates: int, threads: int) -> dict[str, Any]:
    """Train the flagship once on ``dataset`` and evaluate it, then its reranking at every weight."""
    split = load(data_dir, dataset)
    tuned = tuned_settings(dataset)
    train = {"progress": False, "threads": threads, **tuned.get("train", {})}
    model = build_for_seed(FLAGSHIP, tuned.get("params", {}), train, seed=0)
    started = time.perf_counter()
    model.fit(split)
    fit_seconds = time.perf_counter() - started
    logger.info("%s: %s fitted in %.0f s", dataset, FLAGSHIP, fit_seconds)
    rows = [{"weight": None, **evaluate(model, split)}]
    for weight in weights:
        reranker = MMRReranker(model, relevance_weight=weight, candidates=candidates).fit(split)
        rows.append({"weight": weight, **evaluate(reranker, split)})
        logger.info("%s: lambda %.2f test %s", dataset, weight, rows[-1]["test"])
    return {
        "dataset": dataset,
        "model": FLAGSHIP,
        "seed": 0,
        "params": tuned.get("params", {}),
        "train": train,
        "candidates": candidates,
        "fit_seconds": fit_seconds,
        "item_vectors": rows[0]["item_vectors"],
        "rows": rows,
    }


def load(data_dir: Path, dataset: str) -> Split:
    """TikTok as released; ml100k-mm with its text and poster content encoded (cached after the first run)."""
    if dataset == "ml100k-mm":
        split, report = read_encoded(data_dir / "ml100k-mm", name=dataset)
        logger.info("ml100k-mm features: %s", report.to_text())
        return split
    return load_split(data_dir, dataset)


def tuned_settings(dataset: str) -> dict[str, Any]:
    """The flagship's settings for ``dataset`` as the multimodal benchmark runs them (its ``TUNED`` table)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        multimodal = importlib.import_module("multimodal")
    finally:
        sys.path.remove(str(BENCHMARKS))
    settings: dict[str, Any] = multimodal.TUNED.get((dataset, FLAGSHIP), {})
    return settings


def evaluate(model: Recommender, split: Split) -> dict[str, Any]:
    """Valid and test summaries (accuracy and beyond-accuracy) of one model or reranking."""
    valid, test = (evaluate_model(model, split, part, ks=KS, metrics=("recall", "ndcg")) for part in ("valid", "test"))
    return {"valid": _values(valid), "test": _values(test), "item_vectors": test.item_vectors}


def _values(evaluation: Evaluation) -> dict[str, float]:
    return {**evaluation.summary(), **evaluation.beyond}


def markdown(results: list[dict[str, Any]]) -> str:
    """One table per dataset: the flagship alone, then each weight; test values, valid Recall@20 beside them."""
    lines: list[str] = []
    for result in results:
        lines += [f"## {result['dataset']}", "", f"ILD from {result['item_vectors']}.", ""]
        columns = [*SHOWN, *BEYOND_SHOWN]
        lines += ["| lambda | valid recall@20 | " + " | ".join(f"test {c}" for c in columns) + " |"]
        lines += ["|---" * (len(columns) + 2) + "|"]
        for row in result["rows"]:
            label = "flagship alone" if row["weight"] is None else f"{row['weight']:g}"
            cells = [f"{row['valid']['recall@20']:.4f}", *(f"{row['test'][c]:.4f}" for c in columns)]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], path: Path) -> Path:
    """One column per dataset: Recall@20 against ILD@20 (top), each value's change from the flagship alone (bottom)."""
    figure = Figure(figsize=(5.5 * len(results), 8.0), layout="constrained")
    FigureCanvasAgg(figure)  # attaches the Agg canvas that renders the PNG
    axes = figure.subplots(2, len(results), squeeze=False)
    for column, result in enumerate(results):
        rows = [r for r in result["rows"] if r["weight"] is not None]
        _plot_tradeoff(axes[0][column], rows)
        _plot_changes(axes[1][column], rows, next(r for r in result["rows"] if r["weight"] is None))
        axes[0][column].set_title(f"{result['dataset']}: {FLAGSHIP} + MMR over its top {result['candidates']}")
    figure.suptitle("Accuracy and diversity as the relevance weight λ falls (seed 0)")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=110)
    return path


def _plot_tradeoff(axis: Any, rows: list[dict[str, Any]]) -> None:
    """Recall@20 against ILD@20 on test and on valid, each test point labelled with its weight."""
    for part, style in (("test", "-o"), ("valid", "--s")):
        axis.plot([r[part]["ild@20"] for r in rows], [r[part]["recall@20"] for r in rows], style, label=part)
    for row in rows:
        point = (row["test"]["ild@20"], row["test"]["recall@20"])
        axis.annotate(f"λ={row['weight']:g}", point, textcoords="offset points", xytext=(4, 4), fontsize=8)
    axis.set_xlabel("ILD@20 (mean cosine distance within a list)")
    axis.set_ylabel("recall@20")
    axis.legend(fontsize=8)


def _plot_changes(axis: Any, rows: list[dict[str, Any]], alone: dict[str, Any]) -> None:
    """Relative change (%) of test accuracy and beyond-accuracy values from the flagship alone, against λ."""
    weights = [r["weight"] for r in rows]
    for metric in (*SHOWN, *BEYOND_SHOWN):
        change = [100.0 * (r["test"][metric] / alone["test"][metric] - 1.0) for r in rows]
        axis.plot(weights, change, marker="o", label=metric)
    axis.axhline(0.0, color="grey", linewidth=0.8)
    axis.invert_xaxis()  # lambda falls from left to right
    axis.set_xlabel("relevance weight λ")
    axis.set_ylabel("test change from the flagship alone (%)")
    axis.legend(fontsize=8)


if __name__ == "__main__":
    sys.exit(main())
