"""joint_read.py: README.md's second question. Both members of a pair kept at one epoch, chosen on the pair's
figure on one valid half, read on the other, both ways; against the recipe rule's pairs by session 16's rule for
eight seeds. Writes joint.json. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from epochs_read import CRITERIA, EASE_WEIGHT, MAX_SEEDS_LOWER, SEEDS, Valid, load, replay  # noqa: E402

sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, tiktok  # noqa: E402

RULES = {"joint": CRITERIA["recall"], "joint-ndcg": CRITERIA["ndcg"]}


def main():
    valid = Valid(tiktok())
    runs = {s: load(s) for s in SEEDS}
    channel = runs[SEEDS[0]][2]
    n_epochs = runs[SEEDS[0]][0].shape[0]

    def member(seed, epoch):
        return runs[seed][0][epoch - 1], runs[seed][1][epoch - 1]

    def own_recall_epoch(seed, rows):
        def figure_at(e):
            return valid.figures(rows, [member(seed, e)], channel, 0.0) if e <= n_epochs else None

        return replay(figure_at, CRITERIA["recall"])[0]

    def pair_epoch(s, t, rows, criterion):
        def figure_at(e):
            return valid.figures(rows, [member(s, e), member(t, e)], channel, 0.0) if e <= n_epochs else None

        return replay(figure_at, criterion)

    other = {"A": "B", "B": "A"}
    reads = {rule: {} for rule in ("recall", *RULES)}
    epochs, unstopped = {rule: [] for rule in reads}, dict.fromkeys(reads, 0)
    for half, rows in valid.halves.items():
        own = {s: own_recall_epoch(s, rows) for s in SEEDS}
        for s, t in itertools.combinations(SEEDS, 2):
            kept = {"recall": (own[s], own[t])}
            for rule, criterion in RULES.items():
                epoch, stopped = pair_epoch(s, t, rows, criterion)
                kept[rule] = (epoch, epoch)
                unstopped[rule] += not stopped
            for rule, (e_s, e_t) in kept.items():
                epochs[rule] += [e_s, e_t]
                figures = valid.figures(valid.halves[other[half]], [member(s, e_s), member(t, e_t)], channel,
                                        EASE_WEIGHT)
                reads[rule].setdefault((s, t), {})[other[half]] = figures
        print("chosen on", half, flush=True)
    joined = {rule: {k: np.hstack([v["A"], v["B"]]) for k, v in pairs.items()} for rule, pairs in reads.items()}
    report = {"users": len(valid.users), "unstopped_by_45": unstopped,
              "mean_epoch": {rule: round(float(np.mean(e)), 2) for rule, e in epochs.items()}}
    for rule in RULES:
        report[rule] = compare_ensembles(joined[rule], joined["recall"], SEEDS, MAX_SEEDS_LOWER)
        print(rule, json.dumps(report[rule]), flush=True)
    qualified = [r for r in RULES if report[r]["qualifies"]]
    report["taken"] = max(qualified, key=lambda r: report[r]["gain"][1]) if qualified else None
    print("taken:", report["taken"], report["mean_epoch"], flush=True)
    (HERE / "joint.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
