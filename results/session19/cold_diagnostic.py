"""cold_diagnostic.py: descriptive only, half A, the pair of seeds 8 and 9: where targets nobody touched in training
rank under the recipe, its content channel alone and the rest of its score, over the whole catalog and among the 465
untouched items. Prints what cold_diagnostic.txt holds. Decides nothing; test is never read.
"""

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import score_ranks, tiktok, valid_half_a, vectors  # noqa: E402
from linear_read import DIM, RECIPE, SEEDS, Half, linear_weights  # noqa: E402


def main():
    split = tiktok()
    train = split.train.to_csr()
    degrees = np.diff(train.tocsc().indptr)
    in_a = valid_half_a(split) & (np.diff(split.valid.to_csr().indptr) > 0)
    runs = {s: vectors(f"s19-B-{s}") for s in SEEDS}
    half = Half(np.flatnonzero(in_a), split, runs, [(8, 9)])
    ease = half.channel(linear_weights(*RECIPE[:2], train.astype(bool).astype(np.float64), None))
    score = half.base[(8, 9)] + RECIPE[2] * ease
    cold_target, cold_items = degrees[half.targets] == 0, np.flatnonzero(degrees == 0)
    users, items = runs[8]
    channel = users[half.users, DIM:] @ items[:, DIM:].T  # the content channel alone (weight 0.2, faded)
    for name, scores in (("recipe", score), ("channel", channel), ("learned+ease", score - channel)):
        rank = score_ranks(scores.copy(), half.targets, half.seen)
        seen_out = scores.copy()
        seen_out[half.seen] = -np.inf
        target = seen_out[np.arange(len(seen_out)), half.targets]
        among_cold = (seen_out[:, cold_items] > target[:, None]).sum(1)
        print(name, "cold targets", cold_target.sum(), "R@20 all", (rank[cold_target] < 20).mean().round(4),
              "median rank", np.median(rank[cold_target]), "within-cold top20",
              (among_cold[cold_target] < 20).mean().round(3), "median within-cold", np.median(among_cold[cold_target]))
    seen_out = score.copy()
    seen_out[half.seen] = -np.inf
    top = np.argpartition(-seen_out, 20, axis=1)[:, :20]
    print("cold items per top20", (degrees[top] == 0).sum(1).mean())
    print("history size of cold-target users", np.bincount(np.minimum(np.diff(train.indptr)[half.users][cold_target], 6)))


if __name__ == "__main__":
    main()
