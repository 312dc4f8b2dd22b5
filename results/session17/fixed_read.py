"""fixed_read.py: the decision of README.md. Arms B, C, D against A on all valid users, from fixed_screen.py's vectors
(seeds 8-15): the 28 pairs of each arm scored as the recipe scores them (mean cosine, content channel, EASE lambda
200 weight 0.005 fitted on the full training set), single models beside. Writes fixed_read.json. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import recipe_valid_hits, tiktok, vectors  # noqa: E402

SEEDS, ARMS, TARGETS_ = list(range(8, 16)), ("A", "B", "C", "D"), (0.120, 0.052)
per_user = recipe_valid_hits(tiktok())


def with_score(figures):
    """(3, n_users): Recall@20, NDCG@20 and S = R / 0.120 + N / 0.052."""
    return np.vstack([figures, figures[0:1] / TARGETS_[0] + figures[1:2] / TARGETS_[1]])


def main():
    report, rng = {"users": per_user.n_users, "rows": ["recall@20", "ndcg@20", "S"]}, np.random.default_rng(0)
    n = per_user.n_users
    resamples = [rng.integers(0, n, n) for _ in range(2000)]
    for size, name in ((1, "single"), (2, "pairs")):
        figures = {}
        for arm in ARMS:
            runs = {s: vectors(f"s17-{arm}-{s}") for s in SEEDS}
            combos = list(itertools.combinations(SEEDS, size))
            figures[arm] = with_score(np.mean([per_user(runs, c) for c in combos], 0))
        report[name] = {arm: figures[arm].mean(1).round(5).tolist() for arm in ARMS}
        for arm in ARMS[1:]:
            gain = figures[arm] - figures["A"]
            se = np.std([gain[:, r].mean(1) for r in resamples], axis=0)
            report[name][f"{arm}-A"] = {"gain": gain.mean(1).round(5).tolist(), "se": se.round(5).tolist()}
        print(name, json.dumps(report[name]), flush=True)
    (HERE / "fixed_read.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
