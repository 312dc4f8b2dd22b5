"""Ray against one process: encoding a catalog, and training + evaluating a recipe.

``encode``: the catalog's default encoders (MiniLM text, EfficientNet-Lite0
posters for ml100k-mm) in this process without a cache, then on the cluster
(an actor pool per encoder) into a fresh cache; prints the seconds of each,
whether every feature array, mask and reason is identical, the largest
difference and whether the features agree within the documented tolerance
(``TOLERANCE``; see docs/scale.md). ``--threads`` sets the one-process torch
threads (each actor runs one per CPU it has).

``train``: for each seed, the recipe fitted in this process and with
``--workers`` Ray Train workers (``--split``: each batch split across them,
the default, or whole batches in turn); test evaluated in this process and sharded
on the cluster. Prints test Recall@20 / NDCG@20, the valid-chosen epoch,
seconds per training epoch and whether the sharded test values equal the
single-process ones; with the load average, since the machine may be shared.

Usage::

    ray start --head --num-cpus=1 ... ; ray start --address=HEAD:PORT --num-cpus=1   # a cluster
    FUSIONREC_DATA=../shared/data python benchmarks/ray_scale.py encode --address auto --dataset ml100k-mm
    FUSIONREC_DATA=../shared/data python benchmarks/ray_scale.py train --address auto --recipe tiktok \
        --set model.params.second_stage=false --workers 2 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# How far Ray's features may be from one process's: float sums in another order (thread count, batch size).
TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", choices=["encode", "train"])
    parser.add_argument("--address", default="auto", help="Ray cluster ('local' starts one in this process)")
    parser.add_argument("--dataset", default="ml100k-mm", help="encode: MMRec folder under $FUSIONREC_DATA")
    parser.add_argument("--actors", type=int, default=2, help="encode: actors per encoder")
    parser.add_argument("--modality", action="append", default=None, help="encode: only this modality (repeatable)")
    parser.add_argument("--threads", type=int, default=None, help="encode: torch threads of the one-process pass")
    parser.add_argument("--recipe", default="tiktok", help="train: a recipe (fusionrec recipes)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="train: key=value")
    parser.add_argument("--workers", type=int, default=2, help="train: Ray Train workers")
    parser.add_argument("--split", choices=["batch", "alternate"], default="batch", help="train: RayTrainConfig.split")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--modes", nargs="+", choices=["one", "ray"], default=["one", "ray"], help="train: which")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    data = os.environ.get("FUSIONREC_DATA")
    if not data:
        print("set FUSIONREC_DATA to the shared benchmark data folder", file=sys.stderr)
        return 2
    from fusionrec.distributed import connect

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("fusionrec").setLevel(logging.INFO)  # training's per-epoch lines show progress
    connect(args.address)
    if args.job == "encode":
        figures = encode(Path(data) / args.dataset, args.actors, args.modality, args.threads)
    else:
        figures = train(args)
    figures["load_average"] = [round(value, 2) for value in os.getloadavg()]
    print(json.dumps(figures, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def encode(folder: Path, actors: int, modalities: list[str] | None, threads: int | None) -> dict[str, Any]:
    import numpy as np
    import torch

    from fusionrec.distributed import encode_dataset_on_ray
    from fusionrec.encoders import encode_dataset, resolve_specs
    from fusionrec.encoders.loading import read_items

    alone, on_ray = read_items(folder), read_items(folder)
    specs = resolve_specs(alone, None, modalities)
    if threads:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    single = encode_dataset(alone, specs, use_cache=False)
    single_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="fr-ray-encode-") as cache:
        started = time.perf_counter()
        ray_report = encode_dataset_on_ray(on_ray, specs, cache, actors=actors)
        ray_seconds = time.perf_counter() - started
    modalities = {}
    for part in single.modalities:
        name = part.modality
        left, right = alone.features[name], on_ray.features[name]
        modalities[name] = {
            "encoder": part.encoder,
            "items": part.n_items,
            "encoded_on_ray": ray_report[name].n_encoded,
            "identical": bool(np.array_equal(left, right))
            and bool(np.array_equal(alone.feature_mask(name), on_ray.feature_mask(name)))
            and part.masked == ray_report[name].masked,
            "max_abs_difference": float(np.abs(left - right).max()) if left.size else 0.0,
            "within_tolerance": bool(np.allclose(right, left, **TOLERANCE)),
        }
    return {
        "dataset": folder.name,
        "actors": actors,
        "one_process_threads": torch.get_num_threads(),
        "one_process_seconds": round(single_seconds, 1),
        "ray_seconds": round(ray_seconds, 1),
        "modalities": modalities,
    }


def train(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from fusionrec.config import load_config
    from fusionrec.distributed import RayTrainingLoop, evaluate_sharded
    from fusionrec.evaluation import fit_and_evaluate, prepare_split
    from fusionrec.models.training_loop import use_training_loop

    overrides = dict(text.split("=", 1) for text in args.overrides)
    config = load_config(None, overrides, recipe=args.recipe)
    split, config = prepare_split(config)
    runs = []
    for seed in args.seeds:
        for mode in [{"one": "one process", "ray": f"{args.workers} Ray workers"}[m] for m in args.modes]:
            fit = (config.model.name, config.model.params, config.train, seed, config.evaluation.ks)
            if mode == "one process":
                model, run = fit_and_evaluate(split, *fit, config.evaluation.metrics)
            else:
                with use_training_loop(RayTrainingLoop(workers=args.workers, split=args.split)):
                    model, run = fit_and_evaluate(split, *fit, config.evaluation.metrics)
            started = time.perf_counter()
            sharded = evaluate_sharded(model, split, "test", config.evaluation.ks, config.evaluation.metrics)
            sharded_seconds = time.perf_counter() - started
            same = all(np.array_equal(sharded.per_user[n], run.test.per_user[n]) for n in run.test.per_user)
            runs.append(
                {
                    "mode": mode,
                    "seed": seed,
                    "test_recall@20": round(run.test["recall@20"], 4),
                    "test_ndcg@20": round(run.test["ndcg@20"], 4),
                    "best_epoch": run.timing.get("epochs"),
                    "epochs_run": run.timing.get("epochs_run"),
                    "seconds_per_epoch": round(run.timing.get("seconds_per_epoch", 0.0), 2),
                    "fit_seconds": round(run.timing.get("fit_seconds", 0.0), 1),
                    "test_seconds_one_process": round(run.test.seconds, 2),
                    "test_seconds_sharded": round(sharded_seconds, 2),
                    "sharded_test_identical": bool(same),
                    "load_average": [round(value, 2) for value in os.getloadavg()],
                }
            )
            print(json.dumps(runs[-1]), flush=True)
    return {"recipe": args.recipe, "overrides": overrides, "workers": args.workers, "split": args.split, "runs": runs}


if __name__ == "__main__":
    sys.exit(main())
