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
from common import recipe_valid_hits, tiktok, vectors  # noqa: E402

SEEDS = list(range(8))
per_user = recipe_valid_hits(tiktok())


def main():
    report, rng = {"users": per_user.n_users}, np.random.default_rng(0)
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
