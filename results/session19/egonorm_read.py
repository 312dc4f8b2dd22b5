"""egonorm_read.py: README.md's fourth question. The 28 pairs of `egonorm` models against the 28 pairs of `B`
models, as the recipe scores them, on all 3,051 valid users, by session 16's rule for eight seeds. Writes
egonorm.json. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, recipe_valid_hits, tiktok, vectors  # noqa: E402

SEEDS, MAX_SEEDS_LOWER = list(range(8, 16)), 2


def main():
    split = tiktok()
    per_user = recipe_valid_hits(split)
    pairs = list(itertools.combinations(SEEDS, 2))
    figures = {}
    for kind in ("B", "egonorm"):
        runs = {s: vectors(f"s19-{kind}-{s}") for s in SEEDS}
        figures[kind] = {pair: per_user(runs, pair) for pair in pairs}
        figures[f"{kind}_single"] = np.mean([per_user(runs, (s,)).mean(1) for s in SEEDS], 0).round(5).tolist()
    report = {"users": per_user.n_users, "B_single": figures["B_single"], "egonorm_single": figures["egonorm_single"],
              **compare_ensembles(figures["egonorm"], figures["B"], SEEDS, MAX_SEEDS_LOWER)}
    print(json.dumps(report), flush=True)
    (HERE / "egonorm.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
