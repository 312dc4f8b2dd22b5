"""lightgcn_stage.py: the same second stage on top of LightGCN (TikTok, seeds 0-2, the benchmark's settings), so
that what the stage adds can be told from what the flagship adds. Descriptive: it decides nothing. LightGCN's
score fills the stage's score and cosine features (it has no members, content or EASE part). Reads test once per
seed, as the benchmark does; writes lightgcn_stage.json.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import tiktok  # noqa: E402

from fusionrec.evaluation.benchmark import build_for_seed  # noqa: E402
from fusionrec.evaluation.ranking import evaluate_scores  # noqa: E402
from fusionrec.models.second_stage import Candidates, ScoreParts, fit_trees, reranked_scores  # noqa: E402


def candidates_of(model, train, users, degree):
    scores = model.score_users(users).astype(np.float64)
    zeros = np.zeros_like(scores)
    parts = ScoreParts((scores,), zeros, zeros)
    return Candidates.build(parts, train[users], degree, np.diff(train[users].indptr).astype(np.float64))


def main():
    torch.set_num_threads(1)
    split = tiktok()
    train, valid, test = split.train.to_csr(), split.valid.to_csr(), split.test.to_csr()
    degree = np.asarray(train.sum(0)).ravel().astype(np.float64)
    valid_users = np.flatnonzero(np.diff(valid.indptr) > 0)
    report = {}
    for seed in range(3):
        model = build_for_seed("lightgcn", {}, {"progress": False, "threads": 1}, seed).fit(split)
        fitted = candidates_of(model, train, valid_users, degree)
        trees = fit_trees(fitted.features, fitted.labels(valid[valid_users]))

        def staged(users, model=model, trees=trees):
            return reranked_scores(model.score_users(users), candidates_of(model, train, users, degree), trees)

        figures = {}
        for name, score in (("lightgcn", model.score_users), ("lightgcn + stage", staged)):
            result = evaluate_scores(score, train, test, ks=(20,), metrics=("recall", "ndcg"))
            figures[name] = {k: round(float(v), 5) for k, v in result.summary().items()}
        report[seed] = figures
        print(seed, json.dumps(figures), flush=True)
    for name in ("lightgcn", "lightgcn + stage"):
        report[f"mean {name}"] = {
            k: round(float(np.mean([report[s][name][k] for s in range(3)])), 5) for k in report[0][name]
        }
    print(json.dumps({k: v for k, v in report.items() if str(k).startswith("mean")}), flush=True)
    (HERE / "lightgcn_stage.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
