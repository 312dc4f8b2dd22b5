"""posthoc2.py: the second pre-registered screen of README.md, a max-pooled item-item term on the recipe's pairs.

``maxcos``: + w * max over the user's train' items i of cos(i, j), the cosine of the pair's own item vectors (the
two members' normalised vectors side by side, over sqrt 2), for every catalog item j; ``scope`` all users, or only
users with at most 4 train' items. Chosen on I1, read once on I2 with session 16's rule, as posthoc.py does.
Writes posthoc2.json. Test is never read.
"""

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session16"))
import read as s16  # noqa: E402
from posthoc import PAIRS, choose  # noqa: E402  (the first screen's pairs and choice rule)

WEIGHTS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75)
SCOPES = {"all": 10**9, "light": 4}


def max_cosine(runs, pair, rows):
    """float32 (n, n_items): for USERS[rows], the max over their train' items of the pair's item-item cosine."""
    items = np.hstack([runs[m][1][:, : s16.DIM] for m in pair]) / np.sqrt(2)
    users = s16.USERS[rows]
    out = np.empty((len(users), len(items)), np.float32)
    for n, u in enumerate(users):
        history = s16.train.indices[s16.train.indptr[u] : s16.train.indptr[u + 1]]
        out[n] = (items[history] @ items.T).max(0)
    return out


def in_scope(rows, limit):
    """float32 (n, 1): 1 for the users of USERS[rows] with at most ``limit`` train' items, else 0."""
    counts = np.diff(s16.train.indptr)[s16.USERS[rows]]
    return (counts <= limit).astype(np.float32)[:, None]


def main():
    runs = s16.load("base")
    ease = s16.EASE_WEIGHT * s16.ease_signal(s16.EASE_LAMBDA)
    i1, i2 = s16.I1, ~s16.I1
    grid = {("none", 0.0): []}
    grid.update({(scope, w): [] for scope in SCOPES for w in WEIGHTS})
    masks = {scope: in_scope(i1, limit) for scope, limit in SCOPES.items()}
    for c in PAIRS:
        score = s16.ensemble_score(runs, c, i1) + ease[i1]
        term = max_cosine(runs, c, i1)
        for scope, w in grid:
            extra = 0.0 if scope == "none" else w * masks[scope] * term
            grid[(scope, w)].append(s16.per_user(score + extra, i1).mean(1))
        print("maxcos I1", c, flush=True)
    grid = {k: np.mean(v, 0) for k, v in grid.items()}
    chosen = choose(grid, ("none", 0.0))
    report = {"I1_grid": {f"{s} {w}": v.round(5).tolist() for (s, w), v in grid.items()}, "chosen": str(chosen)}
    if chosen != ("none", 0.0):
        mask = in_scope(i2, SCOPES[chosen[0]])
        old, new = {}, {}
        for c in PAIRS:
            score = s16.ensemble_score(runs, c, i2) + ease[i2]
            old[c] = s16.per_user(score.copy(), i2)
            new[c] = s16.per_user(score + chosen[1] * mask * max_cosine(runs, c, i2), i2)
        report["I2"] = s16.compare(new, old)
    else:
        report["I2"] = "nothing beat the recipe on I1; nothing to read"
    print(json.dumps({k: v for k, v in report.items() if k != "I1_grid"}), flush=True)
    (HERE / "posthoc2.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
