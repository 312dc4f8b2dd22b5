"""inner_variants.py VARIANT [VARIANT ...]: the second screen of README.md. Writes inner_variants.json.

NO_EASE=1: the pairs without the EASE channel instead (the third run's calibration against test, which compared
pairs without it); written to inner_variants_no_ease.json.

For each variant, its 90 ordered pairs of inner_screen.py models (seeds 0-9) plus the EASE channel, against the
base models' 90 pairs plus the EASE channel, on the inner items: the gain per user averaged over pairs, its
bootstrap standard error over users, and the gain per member-1 seed. Test is never read.
"""

import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

VARIANTS = sys.argv[1:]
del sys.argv[1:]  # session 14's signals.py, imported through inner_read, reads seeds from the command line
sys.path.insert(0, str(Path(__file__).resolve().parent))
from inner_read import EASE_LAMBDA, EASE_WEIGHT, bootstrap_se, per_user, sets, train  # noqa: E402
from inner_read import pair_scores, standardised, vectors  # noqa: E402

from fusionrec.models.ease import ease_weights  # noqa: E402

SEEDS = list(range(10))
PAIRS = list(itertools.permutations(SEEDS, 2))


def pair_figures(prefix, users, targets, signal):
    """float (pairs, 2, users) per-user (hit, ndcg) of each ordered pair of prefix's runs, plus the signal."""
    runs = {s: vectors(f"{prefix}-{s}") for s in SEEDS}
    return np.array([per_user(pair_scores(runs[a], runs[b], users) + signal, users, targets) for a, b in PAIRS])


def main():
    users, targets = sets["inner"]
    signal = EASE_WEIGHT * standardised(np.asarray(train[users] @ ease_weights(train, EASE_LAMBDA), np.float32))
    if os.environ.get("NO_EASE"):
        signal = np.zeros_like(signal)
    base = pair_figures("inner", users, targets, signal)
    report = {"base_pair_plus_ease": base.mean((0, 2)).round(5).tolist()}
    rng = np.random.default_rng(0)
    for variant in VARIANTS:
        figures = pair_figures(f"inner-{variant}", users, targets, signal)
        gain = figures.mean(0) - base.mean(0)  # (2, users)
        by_first = {
            s: float(figures[[i for i, p in enumerate(PAIRS) if p[0] == s], 0].mean()
                     - base[[i for i, p in enumerate(PAIRS) if p[0] == s], 0].mean())
            for s in SEEDS
        }
        g = gain.mean(1)
        lower = int(sum(v < 0 for v in by_first.values()))
        report[variant] = {
            "pair_plus_ease": figures.mean((0, 2)).round(5).tolist(),
            "gain": g.round(5).tolist(),
            "gain_se_over_users": bootstrap_se(gain, rng).round(5).tolist(),
            "gain_by_member1_seed": {s: round(v, 5) for s, v in by_first.items()},
            "member1_seeds_lower_R": lower,
            "qualifies": bool(g[0] >= 0.0010 and g[1] >= 0.0005 and lower <= 2),
        }
        print(variant, json.dumps(report[variant]), flush=True)
    name = "inner_variants_no_ease.json" if os.environ.get("NO_EASE") else "inner_variants.json"
    Path(__file__).with_name(name).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
