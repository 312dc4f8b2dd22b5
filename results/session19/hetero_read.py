"""hetero_read.py: README.md's read. Pairs of a recipe member (`B`) and a member of another kind against pairs of
two recipe members, on all 3,051 valid users, by session 16's rule for eight seeds. Writes hetero.json. Test is
never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, recipe_valid_hits, tiktok, vectors  # noqa: E402

SEEDS, KINDS = list(range(8, 16)), ("raw", "t25", "behaviour")
MAX_SEEDS_LOWER = 2  # of 8, as session 18's confirmation


def single(per_user, runs, member):
    """A member read alone (its own cosine, EASE channel; the content channel of B's member of the same seed)."""
    return per_user(runs, (member,)).mean(1).round(5).tolist()


def main():
    split = tiktok()
    per_user = recipe_valid_hits(split)
    train, valid = split.train.to_csr(), split.valid.to_csr()
    counts = np.diff(train.indptr)[np.diff(valid.indptr) > 0]
    buckets = {"1": counts == 1, "2-4": (counts >= 2) & (counts <= 4)}
    runs = {("B", s): vectors(f"s19-B-{s}") for s in SEEDS}
    old = {pair: per_user(runs, (("B", pair[0]), ("B", pair[1]))) for pair in itertools.combinations(SEEDS, 2)}
    report = {"users": per_user.n_users, "bucket_users": {k: int(v.sum()) for k, v in buckets.items()},
              "B_single": np.mean([single(per_user, runs, ("B", s)) for s in SEEDS], 0).round(5).tolist()}
    for kind in KINDS:
        for s in SEEDS:
            users, items = vectors(f"s19-{kind}-{s}")
            b_users, b_items = runs[("B", s)]
            if users.shape[1] < b_users.shape[1]:  # no content channel columns of its own: B's of the same seed
                users = np.hstack([users, b_users[:, users.shape[1]:]])
                items = np.hstack([items, b_items[:, items.shape[1]:]])
            runs[(kind, s)] = (users, items)
        new = {(s, t): per_user(runs, (("B", s), (kind, t))) for s in SEEDS for t in SEEDS if s != t}
        verdict = compare_ensembles(new, old, SEEDS, MAX_SEEDS_LOWER)
        gain = np.mean(list(new.values()), 0) - np.mean(list(old.values()), 0)
        verdict["gain_by_bucket_R_N"] = {k: gain[:, m].mean(1).round(5).tolist() for k, m in buckets.items()}
        verdict["single"] = np.mean([single(per_user, runs, (kind, s)) for s in SEEDS], 0).round(5).tolist()
        report[kind] = verdict
        print(kind, json.dumps(verdict), flush=True)
    qualified = [k for k in KINDS if report[k]["qualifies"]]
    report["taken"] = max(qualified, key=lambda k: report[k]["gain"][1]) if qualified else None
    print("taken:", report["taken"], "recipe pairs:", report[KINDS[0]]["old"], flush=True)
    (HERE / "hetero.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
