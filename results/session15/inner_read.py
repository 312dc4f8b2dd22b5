"""inner_read.py [SEEDS]: the pre-registered read of README.md. Writes inner.json beside this file.

For the 90 ordered pairs of the inner_screen.py models (seeds 0-9 by default): the pair's and the pair + EASE
figures (lambda 200, weight 0.005, fixed by session 14) on the inner items, and, deciding nothing, on valid half B;
the gain per member-1 seed; a bootstrap over users of the gain's standard error. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session14"))
from inner import inner_split, tiktok, valid_half_a  # noqa: E402
from signals import pair_scores  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
from common import score_ranks, vectors  # noqa: E402

from fusionrec.models.ease import ease_weights  # noqa: E402
from fusionrec.models.ease_channel import standardised  # noqa: E402

EASE_LAMBDA, EASE_WEIGHT = 200.0, 0.005  # session 14's choice on half A, not chosen again
BOOTSTRAP_DRAWS = 2000

split = inner_split(tiktok())
train = split.train.to_csr()


def held_out(part):
    """(users, targets) of a part with exactly one held-out item per user."""
    matrix = part.to_csr()
    users = np.flatnonzero(np.diff(matrix.indptr) > 0)
    assert (np.diff(matrix.indptr)[users] == 1).all(), "one held-out item per user expected"
    return users, matrix.indices[matrix.indptr[users]]


inner_users, inner_targets = held_out(split.test)
valid_users, valid_targets = held_out(split.valid)
in_b = ~valid_half_a(split)[valid_users]
sets = {"inner": (inner_users, inner_targets), "B": (valid_users[in_b], valid_targets[in_b])}


def per_user(scores, users, targets):
    """(hit, ndcg) float arrays (n,) of each user's target at cutoff 20."""
    rank = score_ranks(scores, targets, train[users].nonzero())
    hit = (rank < 20).astype(np.float64)
    return np.stack([hit, hit / np.log2(rank + 2)])


def bootstrap_se(per_user_gain, rng):
    """Standard error over users of the mean of a (2, n) per-user gain (seeds and pairs already averaged)."""
    n = per_user_gain.shape[1]
    draws = [per_user_gain[:, rng.integers(0, n, n)].mean(1) for _ in range(BOOTSTRAP_DRAWS)]
    return np.std(draws, axis=0)


def main():
    seeds = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else list(range(10))
    runs = {s: vectors(f"inner-{s}") for s in seeds}
    pairs = list(itertools.permutations(seeds, 2))
    b = ease_weights(train, EASE_LAMBDA)
    report = {"seeds": seeds, "ease": {"lambda": EASE_LAMBDA, "w": EASE_WEIGHT}, "train_rows": int(train.nnz)}
    rng = np.random.default_rng(0)
    for name, (users, targets) in sets.items():
        signal = standardised(np.asarray(train[users] @ b, dtype=np.float32))
        base, gain = [], []
        for p in pairs:
            score = pair_scores(runs[p[0]], runs[p[1]], users)
            before = per_user(score.copy(), users, targets)
            after = per_user(score + EASE_WEIGHT * signal, users, targets)
            base.append(before)
            gain.append(after - before)
        base, gain = np.array(base), np.array(gain)  # (pairs, 2, users)
        by_first = {s: float(gain[[i for i, p in enumerate(pairs) if p[0] == s], 0].mean()) for s in seeds}
        report[name] = {
            "users": len(users),
            "pair": base.mean((0, 2)).round(5).tolist(),
            "pair_plus_ease": (base + gain).mean((0, 2)).round(5).tolist(),
            "gain": gain.mean((0, 2)).round(5).tolist(),
            "gain_se_over_users": bootstrap_se(gain.mean(0), rng).round(5).tolist(),
            "gain_by_member1_seed": {s: round(v, 5) for s, v in by_first.items()},
            "member1_seeds_lower_R": int(sum(v < 0 for v in by_first.values())),
            "single_models": np.mean([per_user(pair_scores(runs[s], runs[s], users), users, targets).mean(1)
                                      for s in seeds], 0).round(5).tolist(),
        }
        print(name, json.dumps(report[name]), flush=True)
    gain = report["inner"]["gain"]
    report["adopted"] = bool(gain[0] >= 0.0010 and gain[1] >= 0.0005 and report["inner"]["member1_seeds_lower_R"] <= 2)
    print("adopted:", report["adopted"])
    Path(__file__).with_name("inner.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
