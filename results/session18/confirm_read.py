"""confirm_read.py: the confirmation read of README.md. EASE's weight per user-activity bucket, fixed as posthoc.py
chose it on I1, against the recipe's single weight, on all 3,051 valid users, over the 28 pairs of confirm_train.py's
full-train models (seeds 8-15), by session 16's rule for eight seeds. Writes confirm.json. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, recipe_valid_hits, tiktok, vectors  # noqa: E402

SEEDS, RECIPE_WEIGHT = list(range(8, 16)), 0.005
BUCKETS = ((1, 1, 0.01), (2, 4, 0.0075), (5, 19, 0.005), (20, 10**9, 0.0))  # posthoc.json's easeact choice
MAX_SEEDS_LOWER = 2  # of 8 (session 16's 3 of 10)


def main():
    split = tiktok()
    per_user = recipe_valid_hits(split, ease_weight=RECIPE_WEIGHT)
    train, valid = split.train.to_csr(), split.valid.to_csr()
    counts = np.diff(train.indptr)
    weights = np.zeros(split.n_users, np.float32)  # the candidate's EASE weight of every user
    for lo, hi, w in BUCKETS:
        weights[(counts >= lo) & (counts <= hi)] = w
    runs = {s: vectors(f"s18-B-{s}") for s in SEEDS}
    pairs = list(itertools.combinations(SEEDS, 2))
    old = {pair: per_user(runs, pair) for pair in pairs}
    new = {pair: per_user(runs, pair, ease_weight=weights) for pair in pairs}
    valid_counts = counts[np.diff(valid.indptr) > 0]
    verdict = compare_ensembles(new, old, SEEDS, MAX_SEEDS_LOWER)
    in_bucket = {f"{lo}-{hi}": (valid_counts >= lo) & (valid_counts <= hi) for lo, hi, _ in BUCKETS}
    report = {
        "users": per_user.n_users,
        "bucket_users": {name: int(mask.sum()) for name, mask in in_bucket.items()},
        "recipe": verdict.pop("old"),
        "easeact": verdict.pop("new"),
        **verdict,
    }
    print(json.dumps(report), flush=True)
    (HERE / "confirm.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
