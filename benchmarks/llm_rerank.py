"""Listwise LLM reranking (``llm-rerank``) on a fixed sample of test users: NDCG@20 with and without, paired.

The base model is the artifact of a recipe (one seed: the recipe's first),
loaded from ``--artifact`` or trained there first with ``fusionrec train``.
``--users`` test users are put in an order drawn with ``--sample-seed``
before anything is scored; the stage reranks them in that order, five at a
time, until all are done or ``--budget-min`` minutes have passed (the
answers stay in the generation cache, so a rerun continues where the last
stopped); the users done (a prefix of the order, its length set by time
alone) are evaluated: the base and the base with the stage (:class:`~fusionrec.models.llm_rerank.LLMReranked`
with its default settings, the packaged local model and the generation
cache) rank the catalog for those users only; the per-user NDCG@20 and
Recall@20 are compared with the paired t-test and the Wilcoxon test. Prints
the stage's failure report, the time per user and the load average.

Usage::

    FUSIONREC_DATA=../shared/data python benchmarks/llm_rerank.py --recipe ml100k-mm \\
        --artifact artifacts/ml100k --users 100 --sample-seed 0 [--budget-min 60] [--out runs/llm-rerank]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from artifacts import train_or_load
from fusionrec.config import load_config
from fusionrec.evaluation import Evaluation, evaluate_scores, load_split, paired_test
from fusionrec.llm.rerank import RerankReport
from fusionrec.models.llm_rerank import LLMReranked

KS = (10, 20)
METRICS = ("recall", "ndcg")

logger = logging.getLogger("llm_rerank")


def main() -> int:
    args = _parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not os.environ.get("FUSIONREC_DATA"):
        print("set FUSIONREC_DATA to the benchmark data folder", file=sys.stderr)
        return 2
    config = load_config(recipe=args.recipe)
    split = load_split(config.data.resolved_dir(), str(config.data.dataset))
    loaded = train_or_load(args.recipe, Path(args.artifact))
    if loaded.split.dataset.users.ids != split.dataset.users.ids:
        print(f"{args.artifact} was not trained on this recipe's data", file=sys.stderr)
        return 2
    base = loaded.model
    test, train = split.test.to_csr(), split.train.to_csr()
    order = sample_order(test, args.users, args.sample_seed)
    logger.info("%d test users in sample order (seed %d): %s...", len(order), args.sample_seed, order[:10].tolist())
    llm = {"threads": args.threads or None, "workers": args.workers or None}
    stage = LLMReranked.around(base, **{key: value for key, value in llm.items() if value})
    started, load_before = time.perf_counter(), os.getloadavg()
    done = warm_cache(stage, order, started + 60 * args.budget_min)
    seconds, load_after = time.perf_counter() - started, os.getloadavg()
    users = np.sort(order[:done])
    heldout = only_rows(test, users)
    before = evaluate_scores(base.score_users, train, heldout, ks=KS, metrics=METRICS)
    stage.report_ = RerankReport()  # the evaluation reads the cache: count each answer once
    after = evaluate_scores(stage.score_users, train, heldout, ks=KS, metrics=METRICS)
    record = report(args, base.name, stage, before, after, seconds / max(done, 1), (load_before, load_after))
    print(json.dumps(record, indent=2))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "llm_rerank.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        before.save(out / "base.npz")
        after.save(out / "reranked.npz")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="ml100k-mm", help="recipe of the base model (its first seed)")
    parser.add_argument("--artifact", default="artifacts/ml100k", help="the base's artifact (trained there if absent)")
    parser.add_argument("--users", type=int, default=100, help="test users sampled")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the user sample")
    parser.add_argument(
        "--budget-min", type=float, default=600.0, help="stop reranking new users after this many minutes"
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of the local model (0: llama.cpp's)")
    parser.add_argument("--workers", type=int, default=0, help="copies of the local model answering side by side")
    parser.add_argument("--out", help="folder for the JSON record and the per-user values")
    return parser


def sample_order(heldout: sp.csr_matrix, n: int, seed: int) -> np.ndarray:
    """The first ``n`` users with held-out items in an order shuffled by ``seed`` (fixed before any scoring)."""
    eligible = np.flatnonzero(np.diff(heldout.indptr) > 0)
    if n > len(eligible):
        raise SystemExit(f"--users {n} but only {len(eligible):,} test users have held-out items")
    return np.random.default_rng(seed).permutation(eligible)[:n]


def warm_cache(stage: LLMReranked, order: np.ndarray, deadline: float, block: int = 5) -> int:
    """Rerank the users in sample order, ``block`` at a time, until all are done or ``deadline`` (perf_counter)
    passes; returns how many (a prefix of the order). Every answer stays in the generation cache, so a later
    run over the same prefix, or the evaluation that follows, reads them back."""
    done = 0
    while done < len(order) and time.perf_counter() < deadline:
        stage.score_users(order[done : done + block])
        done = min(done + block, len(order))
        logger.info("%d of %d sampled users reranked; %s", done, len(order), stage.report_.to_text().split(";")[0])
    return done


def only_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``matrix`` with every row outside ``rows`` emptied (so only those users are scored)."""
    keep = np.zeros(matrix.shape[0])
    keep[rows] = 1.0
    return sp.csr_matrix(sp.diags(keep) @ matrix)


def report(
    args: argparse.Namespace,
    base: str,
    stage: LLMReranked,
    before: Evaluation,
    after: Evaluation,
    seconds_per_user: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> dict[str, Any]:
    tests = {m: paired_test(after, before, m).to_dict() for m in ("ndcg@20", "recall@20", "ndcg@10")}
    return {
        "recipe": args.recipe,
        "base": base,
        "users_sampled": args.users,
        "users_evaluated": len(after.users),
        "sample_seed": args.sample_seed,
        "stage": {k: v for k, v in stage.get_params().items() if k not in ("base_params", "train_config")},
        "base_test": before.summary(),
        "reranked_test": after.summary(),
        "paired_reranked_minus_base": tests,
        "failures": stage.report_.to_dict(),
        "llm_seconds_per_user": seconds_per_user,
        "load_average_1_5_15_before_after": [list(load[0]), list(load[1])],
    }


if __name__ == "__main__":
    sys.exit(main())
