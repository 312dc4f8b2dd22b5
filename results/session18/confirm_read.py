"""confirm_read.py: the confirmation read of README.md. EASE's weight per user-activity bucket, fixed as posthoc.py
chose it on I1, against the recipe's single weight, on all 3,051 valid users, over the 28 pairs of confirm_train.py's
full-train models (seeds 8-15). Writes confirm.json. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import score_ranks, tiktok, vectors  # noqa: E402

from fusionrec.models.ease import ease_weights  # noqa: E402
from fusionrec.models.ease_channel import standardised  # noqa: E402

DIM, SEEDS, LAMBDA, RECIPE_WEIGHT = 128, list(range(8, 16)), 200.0, 0.005
BUCKETS = ((1, 1, 0.01), (2, 4, 0.0075), (5, 19, 0.005), (20, 10**9, 0.0))  # posthoc.json's easeact choice
BOOTSTRAP_DRAWS = 2000


def main():
    split = tiktok()
    train, valid = split.train.to_csr(), split.valid.to_csr()
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    targets = valid.indices[valid.indptr[users]]
    seen = train[users].nonzero()
    unit = standardised(np.asarray(train[users] @ ease_weights(train, LAMBDA), dtype=np.float32))
    counts = np.diff(train.indptr)[users]
    weights = np.zeros(len(users), np.float32)
    for lo, hi, w in BUCKETS:
        weights[(counts >= lo) & (counts <= hi)] = w
    runs = {s: vectors(f"s18-B-{s}") for s in SEEDS}

    def per_user(score):
        rank = score_ranks(score, targets, seen)
        hit = (rank < 20).astype(np.float64)
        return np.stack([hit, hit / np.log2(rank + 2)])

    old, new = {}, {}
    for pair in itertools.combinations(SEEDS, 2):
        first = runs[pair[0]]
        score = first[0][users, DIM:] @ first[1][:, DIM:].T
        for m in pair:
            score += runs[m][0][users, :DIM] @ runs[m][1][:, :DIM].T / 2
        old[pair] = per_user(score + RECIPE_WEIGHT * unit)
        new[pair] = per_user(score + weights[:, None] * unit)
    gain = np.mean(list(new.values()), 0) - np.mean(list(old.values()), 0)
    rng = np.random.default_rng(0)
    se = np.std([gain[:, rng.integers(0, len(users), len(users))].mean(1) for _ in range(BOOTSTRAP_DRAWS)], axis=0)
    by_seed = {s: np.mean([(new[c] - old[c]).mean(1) for c in new if s in c], 0).round(5).tolist() for s in SEEDS}
    g = gain.mean(1)
    lower = sum(v[1] < 0 for v in by_seed.values())
    report = {
        "users": len(users),
        "bucket_users": {f"{lo}-{hi}": int(((counts >= lo) & (counts <= hi)).sum()) for lo, hi, _ in BUCKETS},
        "recipe": np.mean([v.mean(1) for v in old.values()], 0).round(5).tolist(),
        "easeact": np.mean([v.mean(1) for v in new.values()], 0).round(5).tolist(),
        "gain": g.round(5).tolist(),
        "gain_se_over_users": se.round(5).tolist(),
        "gain_by_seed_R_N": by_seed,
        "seeds_lower_N": int(lower),
        "qualifies": bool(g[1] >= 0.0003 and g[1] >= 2 * se[1] and g[0] >= -se[0] and lower <= 2),
    }
    print(json.dumps(report), flush=True)
    (HERE / "confirm.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
