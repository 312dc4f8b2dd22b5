"""Multimodal benchmark: the FusionGraph flagship against the literature and ID baselines, warm and cold-start.

For every dataset x model, one fresh process (so peak memory is the
model's own) fits the model once per seed with early stopping on valid
Recall@20 (best state restored) and evaluates valid and test once at that
point (:func:`fusionrec.evaluation.benchmark.run_benchmark`). The report
then gives test Recall/NDCG@20 as mean +- std over seeds, valid
Recall@20, seconds per epoch, the chosen epoch, training and fit time and
peak memory; the paired t-test and Wilcoxon test of the flagship against
the strongest other model (chosen by **valid** Recall@20, never test) on
per-user test values averaged over seeds; on TikTok, Recall@20 over the
test users whose held-out item never occurs in training; and every model's
beyond-accuracy values on test (catalog coverage, Gini of exposure, mean
popularity, novelty and intra-list diversity at 20, from the same lists).

Datasets: ``tiktok`` (image + audio, MMRec layout), ``ml100k-mm`` (warm)
and ``ml100k-mm-cold`` (cold-start items; candidates are the cold test
items) with text (MiniLM) and poster (EfficientNet-Lite0) features from
:func:`fusionrec.encoders.loading.read_encoded` (encoded once, then read
from the feature cache). ``baby-synthetic`` is the Baby interaction graph
with *random* features of MMRec's Baby sizes (4,096-d image, 384-d text):
a memory and speed check only, its accuracy means nothing.

Usage::

    python benchmarks/multimodal.py --out runs/multimodal --datasets tiktok --seeds 3
    python benchmarks/multimodal.py --out runs/mm --datasets ml100k-mm ml100k-mm-cold --models fusiongraph pop
    python benchmarks/multimodal.py --out runs/multimodal --report-only   # report of runs made in parts

Writes ``<out>/report.md``, ``<out>/results.json``, ``<out>/recall_ndcg.png`` and per-model folders
with per-user values (``.npz``) for later significance tests.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fusionrec.recipes import recipe_settings
from startup import add_common_arguments, settings, start

FLAGSHIP = "fusiongraph"
MODELS: dict[str, list[str]] = {
    "tiktok": [FLAGSHIP, "freedom", "bm3", "vbpr", "lightgcn", "ease", "bpr", "pop"],
    "ml100k-mm": [FLAGSHIP, "freedom", "bm3", "vbpr", "lightgcn", "ease", "bpr", "itemknn", "pop"],
    "ml100k-mm-cold": [FLAGSHIP, "vbpr", "content-knn", "random"],
    "baby-synthetic": [FLAGSHIP],
}
"""Models run per dataset by default."""

SYNTHETIC_TRAIN = {"max_seconds": 180}
"""baby-synthetic is a memory check on random features: peak memory is reached in the first epochs."""


def tuned(dataset: str, model: str) -> dict[str, dict[str, Any]]:
    """The recipe's settings for ``model`` on ``dataset`` (:func:`fusionrec.recipes.recipe_settings`)."""
    if dataset == "baby-synthetic":
        return {"params": {}, "train": dict(SYNTHETIC_TRAIN)}
    return recipe_settings(dataset, model)


EXTRA_MODELS = {"content-knn": "fusionrec.models.content_knn:ContentKNN", "random": "random"}
KS = (10, 20)


def main() -> int:
    args = _parser().parse_args()
    data_dir = start(args)
    out = Path(args.out)
    if args.one:
        run_one(data_dir, args.one[0], args.one[1], args.seeds, out, args.threads, settings(args.param))
        return 0
    if args.prepare:
        load_dataset(data_dir, args.prepare)
        return 0
    results = []
    for dataset in args.datasets:
        if not args.report_only:
            _prepare_in_subprocess(data_dir, dataset)
        for model in args.models or MODELS[dataset]:
            results.append(
                _stored(out, dataset, model) if args.report_only else _in_subprocess(data_dir, dataset, model, args)
            )
    write_report(results, out, args.datasets)
    print((out / "report.md").read_text(encoding="utf-8"))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="results folder (report.md, results.json, plot, per-user values)")
    parser.add_argument(
        "--datasets", nargs="+", default=["tiktok", "ml100k-mm", "ml100k-mm-cold"], choices=list(MODELS)
    )
    parser.add_argument("--models", nargs="+", help="models to run (default: every model listed for the dataset)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--param", action="append", default=[], help="extra model parameter name=value (all runs)")
    parser.add_argument("--one", nargs=2, metavar=("DATASET", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--prepare", metavar="DATASET", help=argparse.SUPPRESS)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="train nothing: write the report from the result.json files already under --out (runs made in parts)",
    )
    add_common_arguments(parser)
    return parser


def _prepare_in_subprocess(data_dir: Path, dataset: str) -> None:
    """Load ``dataset`` once in its own interpreter, so that content is encoded (and cached) before any model runs.

    Without it the first model's process would load the encoders and report their memory as its own peak.
    """
    print(f"preparing {dataset} (features encoded once, then read from the cache)", flush=True)
    subprocess.run(
        [sys.executable, __file__, "--data-dir", str(data_dir), "--out", "-", "--prepare", dataset], check=True
    )


def _in_subprocess(data_dir: Path, dataset: str, model: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one dataset x model in a fresh interpreter (own peak memory); returns its result dict."""
    command = [sys.executable, __file__, "--data-dir", str(data_dir), "--out", args.out, "--one", dataset, model]
    command += ["--seeds", str(args.seeds), "--threads", str(args.threads)]
    command += [f"--param={p}" for p in args.param] + (["--verbose"] if args.verbose else [])
    print(f"running {model} on {dataset} ({args.seeds} seeds)", flush=True)
    subprocess.run(command, check=True)
    result: dict[str, Any] = json.loads((Path(args.out) / dataset / model / "result.json").read_text())
    return result


def _stored(out: Path, dataset: str, model: str) -> dict[str, Any]:
    path = out / dataset / model / "result.json"
    if not path.is_file():
        raise SystemExit(f"no {path}: run the benchmark for {dataset} x {model} first (without --report-only)")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def run_one(
    data_dir: Path, dataset: str, model: str, n_seeds: int, out: Path, threads: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """Fit ``model`` on ``dataset`` for seeds 0..n_seeds-1 and write its result folder."""
    import torch

    from fusionrec.evaluation.benchmark import run_benchmark
    from fusionrec.models.fusion_graph_config import merge_params

    torch.set_num_threads(threads)
    split = load_dataset(data_dir, dataset)
    chosen = tuned(dataset, model)
    params = merge_params(chosen.get("params", {}), extra) if model == FLAGSHIP else chosen.get("params", {})
    train = {"progress": False, "threads": threads, **chosen.get("train", {})}
    result = run_benchmark(
        None,
        dataset,
        model_spec(model),
        list(range(n_seeds)),
        params=params,
        train=train,
        ks=KS,
        out_dir=out / dataset / model,
        metrics=("recall", "ndcg"),
        split=split,
    )
    result["model"] = model
    result["cold_items"] = cold_item_recall(split, out / dataset / model, dataset, model, n_seeds)
    (out / dataset / model / "result.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def load_dataset(data_dir: Path, dataset: str) -> Any:
    """TikTok as released; ml100k-mm splits with encoded text + poster features attached.

    A data folder that already holds feature arrays (MMRec layout, e.g. written by
    ``benchmarks/tune.py export``) is read as it is, without the encoders.
    """
    from fusionrec.data.mmrec import find_features
    from fusionrec.evaluation.benchmark import load_split, resolve_dataset

    if dataset == "baby-synthetic":
        split = load_split(data_dir, "baby")
        rng = np.random.default_rng(0)
        for modality, dim in (("image", 4096), ("text", 384)):
            split.dataset.add_feature(modality, rng.normal(size=(split.n_items, dim)).astype(np.float32))
        return split
    if not dataset.startswith("ml100k-mm") or find_features(resolve_dataset(data_dir, dataset)[0]):
        return load_split(data_dir, dataset)
    from fusionrec.encoders.loading import read_encoded

    split, report = read_encoded(data_dir / "ml100k-mm", name=dataset)
    logging.getLogger(__name__).info("features: %s", report.to_dict() if hasattr(report, "to_dict") else report)
    return split


def model_spec(model: str) -> Any:
    """A registry name, or a class for the benchmark-only baselines (content kNN, random ranking)."""
    if model == "random":
        return RandomRanking
    if model in EXTRA_MODELS:
        import importlib

        module_name, class_name = EXTRA_MODELS[model].split(":")
        return getattr(importlib.import_module(module_name), class_name)
    return model


def cold_item_recall(split: Any, folder: Path, dataset: str, model: str, n_seeds: int) -> dict[str, Any] | None:
    """Warm protocol: Recall@20 over the test users whose held-out items never occur in train (mean over seeds)."""
    if split.protocol == "cold":
        return None
    from fusionrec.evaluation.ranking import Evaluation

    cold_items = np.setdiff1d(np.arange(split.n_items), split.train.item_index)
    heldout = split.test.to_csr()
    values = []
    for seed in range(n_seeds):
        evaluation = Evaluation.load(folder / f"{dataset}_{model}_seed{seed}_test.npz")
        rows = heldout[evaluation.users]
        only_cold = np.array([np.isin(rows[i].indices, cold_items).all() for i in range(rows.shape[0])])
        values.append(float(evaluation.per_user["recall@20"][only_cold].mean()) if only_cold.any() else 0.0)
    return {
        "recall@20": float(np.mean(values)),
        "std": float(np.std(values, ddof=1)) if n_seeds > 1 else 0.0,
        "n_users": int(only_cold.sum()),
        "n_cold_items": len(cold_items),
    }


def write_report(results: list[dict[str, Any]], out: Path, datasets: list[str]) -> None:
    """report.md (tables, significance, cold items), results.json and recall_ndcg.png."""
    from fusionrec.evaluation.report import beyond_table, plot_results, results_to_json

    results_to_json(results, out / "results.json")
    plot_results(results, out / "recall_ndcg.png", title="test at the valid-chosen epoch, mean ± std over seeds")
    lines = ["# Multimodal benchmark", "", "Test metrics at the valid-chosen point; mean ± std over seeds.", ""]
    lines += machine_lines(results)
    for dataset in datasets:
        rows = [r for r in results if r["dataset"] == dataset]
        if rows:
            lines += [f"## {dataset}", "", results_table(rows), "", *significance_lines(rows, out)]
            lines += ["Beyond accuracy, test lists at 20 (mean ± std over seeds):", "", beyond_table(rows), ""]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def machine_lines(results: list[dict[str, Any]]) -> list[str]:
    """The machine line(s) of the report: one per kind of machine the results ran on (timings compare within one)."""
    kinds = {json.dumps(r["machine"], sort_keys=True) for r in results if r.get("machine")}
    lines = []
    for kind in sorted(kinds):
        m = json.loads(kind)
        product = "bfloat16" if m["bf16_product"] else "float32"
        lines.append(f"Machine: {m['cpu']}, {m['cores']} logical CPUs, {product} training product, torch {m['torch']}.")
    if len(lines) > 1:
        lines.insert(0, "These results ran on more than one kind of machine: compare timings within one.")
    return [*lines, ""] if lines else []


def results_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: test R@20, N@20, valid R@20, cold-item R@20, timings and peak memory per model."""
    header = (
        "| model | test R@20 | test N@20 | valid R@20 | cold-item R@20 | s/epoch | chosen/run epochs "
        "| train s | fit s | peak MiB |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header]
    for r in rows:
        timing, cold = r["timing"], r.get("cold_items")
        cells = [r["model"], _ms(r["metrics"]["recall@20"]), _ms(r["metrics"]["ndcg@20"]), _ms(r["valid"]["recall@20"])]
        cells.append("-" if not cold else f"{cold['recall@20']:.4f} ({cold['n_users']} users)")
        cells += [f"{timing['seconds_per_epoch']:.2f}", f"{timing['epochs']:.0f}/{timing['epochs_run']:.0f}"]
        cells += [f"{timing['train_seconds']:.0f}", f"{timing['fit_seconds']:.0f}", f"{timing['peak_rss_mb']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def significance_lines(rows: list[dict[str, Any]], out: Path) -> list[str]:
    """Paired tests of the flagship against the strongest other model and the strongest ID-only model (by valid)."""
    from fusionrec.models import CONTENT_MODELS

    flagship = next((r for r in rows if r["model"] == FLAGSHIP), None)
    others = [r for r in rows if r["model"] != FLAGSHIP]
    if flagship is None or not others:
        return []
    id_only = [r for r in others if r["model"] not in CONTENT_MODELS | set(EXTRA_MODELS)]
    rivals: dict[str, list[str]] = {}  # rival model -> what it is the strongest of
    for label, pool in (("strongest other model", others), ("strongest ID-only model", id_only)):
        if pool:
            rival = max(pool, key=lambda r: r["valid"]["recall@20"]["mean"])
            rivals.setdefault(rival["model"], []).append(label)
    lines: list[str] = []
    for model, labels in rivals.items():
        rival = next(r for r in others if r["model"] == model)
        lines += paired_test_lines(flagship, rival, out, f"{model} ({' and '.join(labels)} on valid)")
    return lines


def paired_test_lines(flagship: dict[str, Any], rival: dict[str, Any], out: Path, label: str) -> list[str]:
    """Paired t-test and Wilcoxon on per-user test values averaged over seeds, as Markdown lines."""
    from fusionrec.evaluation.significance import compare_files

    dataset = flagship["dataset"]

    def files(model: str, result: dict[str, Any]) -> list[Path]:
        return [out / dataset / model / f"{dataset}_{model}_seed{s}_test.npz" for s in result["seeds"]]

    tests = compare_files(files(FLAGSHIP, flagship), files(rival["model"], rival), ["recall@20", "ndcg@20"])
    lines = [f"Paired tests, {FLAGSHIP} vs {label}, per-user test values averaged over seeds:", ""]
    for t in tests:
        lines.append(
            f"- {t.metric}: {t.mean_a:.4f} vs {t.mean_b:.4f} (diff {t.mean_diff:+.4f}, {t.n_users} users); "
            f"paired t p = {t.t_pvalue:.2g}, Wilcoxon p = {t.wilcoxon_pvalue:.2g}"
        )
    return [*lines, ""]


def _ms(value: dict[str, float]) -> str:
    return f"{value['mean']:.4f} ± {value['std']:.4f}"


def _random_ranking() -> type:
    from fusionrec.models.base import Recommender

    class RandomRanking(Recommender):
        """Uniform random scores (seeded): the floor every model must clear, warm or cold."""

        name = "random"
        scores_cold_items = True

        def __init__(self, seed: int = 0) -> None:
            super().__init__(seed=seed)

        def _fit(self, split: Any) -> None:
            self.rng_ = np.random.default_rng(self.params["seed"])

        def score_users(self, user_index: np.ndarray) -> np.ndarray:
            assert self.split_ is not None
            return self.rng_.random((len(user_index), self.split_.n_items), dtype=np.float32)

    return RandomRanking


RandomRanking = _random_ranking()

if __name__ == "__main__":
    sys.exit(main())
