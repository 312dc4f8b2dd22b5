"""Time and peak memory of every stage of the pipeline on a synthetic catalog of a chosen size.

Each stage runs in its own process, so its peak resident memory (which only
grows within a process) is its own: the process reports its RSS once its
inputs are loaded and its peak at the end, and ``stage MiB`` is the
difference (what the stage itself added). Stages:

* ``generate``: the synthetic catalog (:mod:`fusionrec.data.synthetic`) written in MMRec layout;
* ``load``: reading it back, features attached;
* ``graph-user-item``: the normalised user-item adjacency (LightGCN, the flagship);
* ``graph-item-item``: the flagship's kNN item-item graph over both modalities;
* ``train-fusiongraph`` / ``train-lightgcn``: ``--epochs`` epochs, then the artifact is saved;
* ``evaluate``: recall / NDCG@20 of the flagship's artifact on test, every user ranked against the catalog;
* ``serve-index``: the approximate index over the flagship's item vectors (serving's default settings).

The flagship runs without its EASE channel and second stage: EASE needs a
dense n_items x n_items matrix (see docs/capacity.md).

Example::

    python benchmarks/scale.py --items 100000 --users 200000 --interactions 1000000 --epochs 1 --work-dir /tmp/scale
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from fusionrec.data import read_mmrec
from fusionrec.data.synthetic import SyntheticConfig, write_synthetic
from fusionrec.evaluation import evaluate_model
from fusionrec.models import build_model
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.models.graph import normalized_adjacency
from fusionrec.models.knn_graph import modality_graph
from fusionrec.serve.index import ItemIndex
from fusionrec.serve.settings import ServeSettings

STAGES = (
    "generate",
    "load",
    "graph-user-item",
    "graph-item-item",
    "train-fusiongraph",
    "train-lightgcn",
    "evaluate",
    "serve-index",
)
MARK = "SCALE-STAGE "
FLAGSHIP = {"embedding_dim": 128, "n_layers": 2, "knn_k": 10}
LIGHTGCN = {"embedding_dim": 64, "n_layers": 3}


def rss_mib() -> float:
    return float(psutil.Process().memory_info().rss / 2**20)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def data_folder(args: argparse.Namespace) -> Path:
    return args.work_dir / f"synth-{args.items}-{args.interactions}"


def train_config(args: argparse.Namespace) -> dict[str, Any]:
    """Exactly ``--epochs`` epochs, valid evaluated once at the end, no early stop."""
    return {"epochs": args.epochs, "eval_every": args.epochs, "patience": 1, "progress": False, "threads": args.threads}


def run_stage(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one stage in this process; returns its figures (seconds, RSS after inputs, peak)."""
    started_rss = rss_mib()
    if name == "generate":
        config = SyntheticConfig(
            n_items=args.items, n_users=args.users, n_interactions=args.interactions, seed=args.seed
        )
        return timed(lambda: write_synthetic(config, data_folder(args)), started_rss)
    if name == "load":
        return timed(lambda: read_mmrec(data_folder(args)), started_rss)
    split = read_mmrec(data_folder(args))
    inputs_rss = rss_mib()
    if name == "graph-user-item":
        return timed(lambda: normalized_adjacency(split.train.to_csr()), inputs_rss)
    if name == "graph-item-item":
        return timed(lambda: modality_graph(split.dataset.features, k=FLAGSHIP["knn_k"]), inputs_rss)
    if name.startswith("train-"):
        model_name = name.removeprefix("train-")
        params = FLAGSHIP if model_name == "fusiongraph" else LIGHTGCN
        model = build_model(model_name, **params, train_config=train_config(args))
        figures = timed(lambda: model.fit(split), inputs_rss)
        save_artifact(model, args.work_dir / f"artifact-{model_name}-{args.items}", overwrite=True)
        return figures
    loaded = load_artifact(args.work_dir / f"artifact-fusiongraph-{args.items}")
    if name == "evaluate":
        loaded.model.split_ = split  # the artifact keeps train only; valid and test come from the data
        inputs_rss = rss_mib()
        return timed(lambda: evaluate_model(loaded.model, split, "test", ks=(20,), beyond=False), inputs_rss)
    if name == "serve-index":
        assert loaded.item_vectors is not None
        options = ServeSettings(artifact=loaded.path, index="hnsw").index_options()
        inputs_rss = rss_mib()
        return timed(lambda: ItemIndex(loaded.item_vectors, options), inputs_rss)
    raise ValueError(f"unknown stage {name!r}; choose among {STAGES}")


def timed(work: Callable[[], object], inputs_rss: float) -> dict[str, Any]:
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "inputs_mib": inputs_rss, "peak_mib": peak_mib(), "stage_mib": peak_mib() - inputs_rss}


def stage_in_subprocess(name: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--stage", name, *args.passed]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith(MARK)]
    if result.returncode != 0 or not lines:
        tail = (result.stderr or result.stdout)[-2000:]
        return {"stage": name, "error": f"exit {result.returncode}: {tail}"}
    figures: dict[str, Any] = json.loads(lines[-1].removeprefix(MARK))
    return figures


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training stages")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset, in order")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fusionrec-scale"))
    parser.add_argument("--json", type=Path, default=None, help="append the rows to this JSON-lines file")
    parser.add_argument("--stage", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    args.passed = [a for i, a in enumerate(raw) if a != "--stage" and (i == 0 or raw[i - 1] != "--stage")]
    return args


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.stage:
        print(MARK + json.dumps({"stage": args.stage, **run_stage(args.stage, args)}), flush=True)
        return []
    size = f"{args.items:,} items, {args.users:,} users, {args.interactions:,} interactions, {args.epochs} epoch(s)"
    print(f"{size}; cores {os.cpu_count()}, load average {os.getloadavg()}", flush=True)
    rows = []
    for name in args.stages.split(","):
        row = {
            "items": args.items,
            "users": args.users,
            "interactions": args.interactions,
            **stage_in_subprocess(name, args),
        }
        row["load_average"] = os.getloadavg()[0]
        rows.append(row)
        if "error" in row:
            print(f"{name:18s} FAILED {row['error']}", flush=True)
            break
        print(
            f"{name:18s} {row['seconds']:9.1f} s  inputs {row['inputs_mib']:8.0f} MiB  "
            f"peak {row['peak_mib']:8.0f} MiB  stage {row['stage_mib']:8.0f} MiB  (load avg {row['load_average']:.1f})",
            flush=True,
        )
        if args.json:
            with args.json.open("a") as out:
                out.write(json.dumps(row) + "\n")
    return rows


if __name__ == "__main__":
    main()
