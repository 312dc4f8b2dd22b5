"""rerank_read.py: README.md's fourth question. A gradient-boosted second stage over each pair's top 100, fitted
on one valid half and read on the other, both ways, against the same pairs without it; session 16's rule for
eight seeds. Writes rerank.json. Test is never read.
"""

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from epochs_read import CRITERIA, EASE_WEIGHT, MAX_SEEDS_LOWER, SEEDS, Valid, load, replay  # noqa: E402

sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, tiktok  # noqa: E402

CANDIDATES = 100
STAGE = {"max_iter": 100, "learning_rate": 0.05, "max_leaf_nodes": 8, "min_samples_leaf": 200,
         "early_stopping": False, "random_state": 0}


class Pair:
    """One pair's parts on a set of valid rows: scores of every item, and the features of each top-100 candidate."""

    def __init__(self, valid, rows, members, channel, item_degree, user_degree):
        users = valid.users[rows]
        cosines = [u[users] @ i.T for u, i in members]
        mean_cosine = (cosines[0] + cosines[1]) / 2
        content = channel[0][users] @ channel[1].T
        ease = valid.ease[rows]
        score = mean_cosine + content + EASE_WEIGHT * ease
        score[valid.train[users].nonzero()] = -np.inf
        top = np.argsort(-score, axis=1)[:, :CANDIDATES]  # (n, 100), best first
        at = np.arange(len(rows))[:, None], top
        position = np.broadcast_to(np.arange(CANDIDATES, dtype=np.float64), top.shape)
        self.features = np.stack([
            score[at], mean_cosine[at], ease[at], content[at], np.abs(cosines[0] - cosines[1])[at], position,
            np.log1p(item_degree[top]), np.broadcast_to(np.log1p(user_degree[users])[:, None], top.shape),
        ], axis=-1).reshape(-1, 8)
        self.first_score = score[at]
        self.labels = (top == valid.targets[rows][:, None])
        self.shape = top.shape

    def figures(self, probability=None):
        """(2, n) hit@20 and NDCG@20, ranking the candidates by probability (ties by first-stage score)."""
        first = self.first_score
        if probability is None:
            order_key = first
            ahead = (order_key[:, :, None] < order_key[:, None, :]).sum(2)  # candidates strictly ahead
        else:
            p = probability.reshape(self.shape)
            ahead = ((p[:, :, None] < p[:, None, :]) | ((p[:, :, None] == p[:, None, :]) & (first[:, :, None] < first[:, None, :]))).sum(2)
        found = self.labels.any(1)
        rank = np.where(found, (ahead * self.labels).sum(1), CANDIDATES)
        hit = (rank < 20).astype(np.float64)
        return np.stack([hit, hit / np.log2(rank + 2)])


def main():
    from sklearn.ensemble import HistGradientBoostingClassifier

    valid = Valid(tiktok())
    runs = {s: load(s) for s in SEEDS}
    channel = runs[SEEDS[0]][2]
    n_epochs = runs[SEEDS[0]][0].shape[0]
    item_degree = np.asarray(valid.train.sum(0)).ravel().astype(np.float64)
    user_degree = np.diff(valid.train.indptr).astype(np.float64)

    def member(seed, epoch):
        return runs[seed][0][epoch - 1], runs[seed][1][epoch - 1]

    other, with_stage, without, fit_seconds = {"A": "B", "B": "A"}, {}, {}, []
    for half, rows in valid.halves.items():
        epochs = {}
        for s in SEEDS:
            def figure_at(e, s=s):
                return valid.figures(rows, [member(s, e)], channel, 0.0) if e <= n_epochs else None

            epochs[s] = replay(figure_at, CRITERIA["recall"])[0]
        for s, t in itertools.combinations(SEEDS, 2):
            members = [member(s, epochs[s]), member(t, epochs[t])]
            fit = Pair(valid, rows, members, channel, item_degree, user_degree)
            read = Pair(valid, valid.halves[other[half]], members, channel, item_degree, user_degree)
            started = time.time()
            stage = HistGradientBoostingClassifier(**STAGE).fit(fit.features, fit.labels.ravel())
            fit_seconds.append(time.time() - started)
            with_stage.setdefault((s, t), {})[other[half]] = read.figures(stage.predict_proba(read.features)[:, 1])
            without.setdefault((s, t), {})[other[half]] = read.figures()
        print("fitted on", half, flush=True)
    new = {k: np.hstack([v["A"], v["B"]]) for k, v in with_stage.items()}
    old = {k: np.hstack([v["A"], v["B"]]) for k, v in without.items()}
    report = {"users": len(valid.users), "fit_seconds_mean": round(float(np.mean(fit_seconds)), 2),
              "rerank": compare_ensembles(new, old, SEEDS, MAX_SEEDS_LOWER)}
    print(json.dumps(report), flush=True)
    (HERE / "rerank.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
