"""item_graph_read.py: README.md's third question. Pairs of members with a behaviour item graph against the
recipe's pairs, every member's epoch chosen by the recipe's rule on one valid half and read on the other, both
ways; session 16's rule for eight seeds. Writes item_graph.json. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from epochs_read import CRITERIA, EASE_WEIGHT, MAX_SEEDS_LOWER, SEEDS, VECTORS, Valid, replay  # noqa: E402

sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, tiktok  # noqa: E402

KINDS = ("cooc", "ease")


def load(name):
    saved = np.load(VECTORS / f"{name}.npz")
    return saved["users"], saved["items"], (saved["channel_users"], saved["channel_items"])


def cross_fitted_pairs(valid, runs):
    """{(s, t): (2, 3051)} of the 28 pairs of ``runs`` ({seed: (users, items, channel)}), and the mean epoch kept."""
    other, reads, kept = {"A": "B", "B": "A"}, {}, []
    for half, rows in valid.halves.items():
        epochs = {}
        for s, (users, items, channel) in runs.items():
            def figure_at(e, users=users, items=items, channel=channel):
                if e > len(users):
                    return None
                return valid.figures(rows, [(users[e - 1], items[e - 1])], channel, 0.0)

            epochs[s] = replay(figure_at, CRITERIA["recall"])[0]
        kept += list(epochs.values())
        for s, t in itertools.combinations(sorted(runs), 2):
            members = [(runs[x][0][epochs[x] - 1], runs[x][1][epochs[x] - 1]) for x in (s, t)]
            figures = valid.figures(valid.halves[other[half]], members, runs[s][2], EASE_WEIGHT)
            reads.setdefault((s, t), {})[other[half]] = figures
    return {k: np.hstack([v["A"], v["B"]]) for k, v in reads.items()}, float(np.mean(kept))


def main():
    valid = Valid(tiktok())
    old, old_epoch = cross_fitted_pairs(valid, {s: load(f"s20-{s}") for s in SEEDS})
    report = {"users": len(valid.users), "mean_epoch": {"recipe": round(old_epoch, 2)}}
    for kind in KINDS:
        new, epoch = cross_fitted_pairs(valid, {s: load(f"s20-{kind}-{s}") for s in SEEDS})
        report["mean_epoch"][kind] = round(epoch, 2)
        report[kind] = compare_ensembles(new, old, SEEDS, MAX_SEEDS_LOWER)
        print(kind, json.dumps(report[kind]), flush=True)
    qualified = [k for k in KINDS if report[k]["qualifies"]]
    report["taken"] = max(qualified, key=lambda k: report[k]["gain"][1]) if qualified else None
    print("taken:", report["taken"], report["mean_epoch"], flush=True)
    (HERE / "item_graph.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
