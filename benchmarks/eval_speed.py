"""How long full-ranking evaluation of every Baby test user takes once scores exist.

Scores come from random 64-d MF embeddings (``score = U[u] @ V.T``, computed
inside each chunk), so the figure is the evaluator's own cost: scoring,
masking training items, top-K, hit lookup and all six metrics at K in
{10, 20, 50}. Prints the median of a few runs in seconds.

Usage::

    FUSIONREC_DATA=../shared/data python benchmarks/eval_speed.py [--runs 5] [--dataset baby]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="baby", help="MMRec folder under $FUSIONREC_DATA")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--chunk-size", type=int, default=None, help="users per chunk; default automatic")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    data = os.environ.get("FUSIONREC_DATA")
    if not data:
        print("set FUSIONREC_DATA to the shared benchmark data folder", file=sys.stderr)
        return 2

    import torch

    from fusionrec.data import read_mmrec
    from fusionrec.evaluation.metrics import METRICS
    from fusionrec.evaluation.ranking import evaluate_scores

    torch.set_num_threads(args.threads)
    split = read_mmrec(Path(data) / args.dataset)
    rng = np.random.default_rng(0)
    user_vectors = rng.standard_normal((split.n_users, args.dim), dtype=np.float32)
    item_vectors = rng.standard_normal((split.n_items, args.dim), dtype=np.float32)
    train, test = split.train.to_csr(), split.test.to_csr()

    def score_users(users: np.ndarray) -> np.ndarray:
        return user_vectors[users] @ item_vectors.T  # (n, n_items)

    seconds, cpu_seconds = [], []
    for _ in range(args.runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        evaluation = evaluate_scores(
            score_users,
            train,
            test,
            ks=(10, 20, 50),
            metrics=METRICS,
            candidates=split.candidates("test"),
            chunk_size=args.chunk_size,
        )
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    print(
        f"{args.dataset}: {len(evaluation.users):,} users x {split.n_items:,} items, "
        f"{len(evaluation.per_user)} metric columns, chunk {args.chunk_size or 'auto'}, {args.threads} threads"
    )
    print(f"runs (s): {' '.join(f'{s:.3f}' for s in seconds)}; load average {os.getloadavg()[0]:.1f}")
    print(f"median CPU seconds (all threads; less sensitive to other load): {statistics.median(cpu_seconds):.3f}")
    print(f"median seconds: {statistics.median(seconds):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
