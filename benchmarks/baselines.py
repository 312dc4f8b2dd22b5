"""Train and evaluate the ID baselines (pop, itemknn, ease, bpr, lightgcn) and print a table.

Each model is fitted once per seed (torch models stop early on valid
Recall@20 and restore their best epoch), then valid and test are ranked
once against every item, training items excluded; the table shows test
Recall/NDCG@10/20 as mean +- std over seeds, valid Recall@20, seconds per
training epoch, the valid-chosen and run epochs, the training time
(epochs only) and the fit time (epochs plus valid evaluations), all
averaged over seeds.

``--grid name=v1,v2`` first fits every combination with seed 0 and keeps
the one with the best **valid** Recall@20 (test is never looked at), then
runs the seeds with it. Without ``--grid`` the settings are the tuned ones
in the data set's recipe (``fusionrec recipes``; chosen that way) overridden by ``--param``.

Usage::

    python benchmarks/baselines.py --data-dir "$FUSIONREC_DATA" --dataset baby --model lightgcn --seeds 3
    python benchmarks/baselines.py --dataset tiktok --model bpr --grid reg_weight=1e-2,1e-3 --train lr=5e-3
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

from fusionrec.recipes import recipe_settings
from startup import add_common_arguments, setting_value, settings, start

MODELS = ("pop", "itemknn", "ease", "bpr", "lightgcn")


def main() -> int:
    args = _parser().parse_args()
    data_dir = start(args)
    import torch

    from fusionrec.evaluation.benchmark import load_split

    torch.set_num_threads(args.threads)
    split = load_split(data_dir, args.dataset)
    results = []
    for model in args.model:
        params, train = _settings(args, model)
        if args.grid:
            params, train = _grid_search(split, args, model, params, train)
        seeds = args.seed_list or list(range(args.seeds))
        results.append(_run(split, args, model, params, train, seeds=seeds))
    print(_table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="baby", help="MMRec folder under the data folder")
    parser.add_argument("--model", nargs="+", default=["lightgcn"], choices=MODELS)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--seed-list", type=int, nargs="+", help="exactly these seeds (overrides --seeds)")
    parser.add_argument("--param", action="append", default=[], help="model hyper-parameter name=value")
    parser.add_argument("--train", action="append", default=[], help="TrainConfig field name=value (e.g. lr=5e-3)")
    parser.add_argument("--grid", action="append", default=[], help="name=v1,v2: choose on valid (train.lr=... too)")
    parser.add_argument("--json", help="write the full results here")
    add_common_arguments(parser)
    return parser


def _settings(args: argparse.Namespace, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Model params and train settings: model defaults < the data set's recipe < command-line flags."""
    preferred = _train_defaults(model)  # run_benchmark builds a full TrainConfig, so merge them here
    tuned = recipe_settings(args.dataset, model)
    params = {**tuned["params"], **settings(args.param)}
    train = {**preferred, "progress": False, "threads": args.threads, **tuned["train"], **settings(args.train)}
    return params, train


def _train_defaults(model: str) -> dict[str, Any]:
    """The model class's ``train_defaults`` (its preferred TrainConfig values), if any."""
    import importlib

    from fusionrec.models import MODEL_REGISTRY

    module_name, class_name = MODEL_REGISTRY[model].split(":")
    return dict(getattr(getattr(importlib.import_module(module_name), class_name), "train_defaults", {}))


def _grid_search(
    split: Any, args: argparse.Namespace, model: str, params: dict[str, Any], train: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The grid point with the best valid Recall@20 (seed 0); logs every point's valid figure."""
    named_values = (g.split("=", 1) for g in args.grid)
    axes = {name: [setting_value(v) for v in values.split(",")] for name, values in named_values}
    best: tuple[float, dict[str, Any], dict[str, Any]] | None = None
    for combination in itertools.product(*axes.values()):
        point = dict(zip(axes, combination, strict=True))
        point_params = {**params, **{k: v for k, v in point.items() if not k.startswith("train.")}}
        point_train = {**train, **{k[6:]: v for k, v in point.items() if k.startswith("train.")}}
        result = _run(split, args, model, point_params, point_train, seeds=[0])
        valid = result["valid"]["recall@20"]["mean"]
        print(f"grid {model} {point}: valid recall@20 {valid:.4f}, epoch {result['timing']['epochs']:.0f}", flush=True)
        if best is None or valid > best[0]:
            best = (valid, point_params, point_train)
    assert best is not None
    print(f"chosen on valid: {best[1]} train {best[2]} (valid recall@20 {best[0]:.4f})", flush=True)
    return best[1], best[2]


def _run(
    split: Any, args: argparse.Namespace, model: str, params: dict[str, Any], train: dict[str, Any], seeds: list[int]
) -> dict[str, Any]:
    from fusionrec.evaluation.benchmark import run_benchmark

    return run_benchmark(
        None,
        args.dataset,
        model,
        seeds,
        params=params,
        train=train,
        ks=(10, 20),
        split=split,
        metrics=("recall", "ndcg"),
    )


def _table(results: list[dict[str, Any]]) -> str:
    header = (
        "| dataset | model | params | R@10 | R@20 | N@10 | N@20 | valid R@20 | s/epoch | best/run epochs "
        "| train s | fit s |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = [header]
    for result in results:
        test, timing = result["metrics"], result["timing"]
        cells = [result["dataset"], result["model"], json.dumps(result["config"]["params"], sort_keys=True)]
        cells += [_mean_std(test[m]) for m in ("recall@10", "recall@20", "ndcg@10", "ndcg@20")]
        cells += [_mean_std(result["valid"]["recall@20"])]
        cells += [f"{timing['seconds_per_epoch']:.2f}", f"{timing['epochs']:.0f}/{timing['epochs_run']:.0f}"]
        cells += [f"{timing['train_seconds']:.0f}", f"{timing['fit_seconds']:.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _mean_std(value: dict[str, float]) -> str:
    return f"{value['mean']:.4f} ± {value['std']:.4f}"


if __name__ == "__main__":
    sys.exit(main())
