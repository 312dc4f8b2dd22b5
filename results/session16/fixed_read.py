"""fixed_read.py: the calibration of README.md. Temperature 0.25 against 0.2 on all valid users, from the vectors of
fixed_epochs.py (seeds 0-7): single models and the 28 pairs of each, scored as the recipe scores them (mean cosine,
content channel, EASE lambda 200 weight 0.005 fitted on the full training set). Writes fixed_read.json. Test is
never read.
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

DIM, SEEDS = 128, list(range(8))
split = tiktok()
train, valid = split.train.to_csr(), split.valid.to_csr()
USERS = np.flatnonzero(np.diff(valid.indptr) > 0)
TARGETS = valid.indices[valid.indptr[USERS]]
EASE = 0.005 * standardised(np.asarray(train[USERS] @ ease_weights(train, 200.0), dtype=np.float32))


def per_user(runs, members):
    first = runs[members[0]]
    score = first[0][USERS, DIM:] @ first[1][:, DIM:].T + EASE
    for m in members:
        score += runs[m][0][USERS, :DIM] @ runs[m][1][:, :DIM].T / len(members)
    rank = score_ranks(score, TARGETS, train[USERS].nonzero())
    hit = (rank < 20).astype(np.float64)
    return np.stack([hit, hit / np.log2(rank + 2)])


def main():
    report, rng = {"users": len(USERS)}, np.random.default_rng(0)
    for size, name in ((1, "single"), (2, "pairs")):
        figures = {}
        for t in ("020", "025"):
            runs = {s: vectors(f"fixed-t{t}-{s}") for s in SEEDS}
            figures[t] = np.mean([per_user(runs, c) for c in itertools.combinations(SEEDS, size)], 0)
        gain = figures["025"] - figures["020"]
        n = gain.shape[1]
        se = np.std([gain[:, rng.integers(0, n, n)].mean(1) for _ in range(2000)], axis=0)
        report[name] = {"t020": figures["020"].mean(1).round(5).tolist(), "t025": figures["025"].mean(1).round(5).tolist(),
                        "gain": gain.mean(1).round(5).tolist(), "gain_se_over_users": se.round(5).tolist()}
        print(name, json.dumps(report[name]), flush=True)
    (HERE / "fixed_read.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
