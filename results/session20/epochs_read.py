"""epochs_read.py: README.md's read. Each stopping rule chooses the members' epochs on one valid half, its pairs
are read on the other half, both ways; the rules' pairs against the recipe rule's by session 16's rule for eight
seeds. Writes epochs.json. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import VECTORS, compare_ensembles, score_ranks, tiktok, valid_half_a  # noqa: E402

SEEDS, PATIENCE, MAX_SEEDS_LOWER = list(range(8, 16)), 5, 2
EASE_WEIGHT, EASE_L2 = 0.005, 200.0
FIXED_EPOCHS = (20, 25, 30, 35, 40, 45)
CRITERIA = {  # a rule's figure from (2,) mean Recall@20, NDCG@20 on the half it chooses on
    "recall": lambda f: f[0],
    "ndcg": lambda f: f[1],
    "both": lambda f: f[0] / 0.120 + f[1] / 0.052,
}


class Valid:
    """The valid users with their targets, training items and EASE channel; figures of ensembles on any subset."""

    def __init__(self, split):
        from fusionrec.models.ease import ease_weights
        from fusionrec.models.ease_channel import standardised

        train, valid = split.train.to_csr(), split.valid.to_csr()
        self.users = np.flatnonzero(np.diff(valid.indptr) > 0)
        self.targets = valid.indices[valid.indptr[self.users]]
        self.train = train
        self.ease = standardised(np.asarray(train[self.users] @ ease_weights(train, EASE_L2), dtype=np.float32))
        in_a = valid_half_a(split)[self.users]
        self.halves = {"A": np.flatnonzero(in_a), "B": np.flatnonzero(~in_a)}

    def figures(self, rows, members, channel, ease_weight):
        """(2, len(rows)) hit@20 and NDCG@20 of the members' mean cosine + channel + ease_weight * EASE."""
        users = self.users[rows]
        score = channel[0][users] @ channel[1].T + ease_weight * self.ease[rows]
        for member_users, member_items in members:
            score += member_users[users] @ member_items.T / len(members)
        rank = score_ranks(score, self.targets[rows], self.train[users].nonzero())
        hit = (rank < 20).astype(np.float64)
        return np.stack([hit, hit / np.log2(rank + 2)])


def replay(figure_at, criterion):
    """(kept epoch, stopped by patience) of early stopping on criterion(figure_at(e)), e = 1, 2, ..."""
    best, best_epoch, stale, epoch = -np.inf, 0, 0, 0
    while stale < PATIENCE:
        epoch += 1
        figures = figure_at(epoch)
        if figures is None:
            return best_epoch, False
        value = criterion(figures.mean(1))
        if value > best:
            best, best_epoch, stale = value, epoch, 0
        else:
            stale += 1
    return best_epoch, True


def load(seed):
    saved = np.load(VECTORS / f"s20-{seed}.npz")
    return saved["users"], saved["items"], (saved["channel_users"], saved["channel_items"])


def main():
    valid = Valid(tiktok())
    runs = {s: load(s) for s in SEEDS}
    channel = runs[SEEDS[0]][2]
    assert all(np.allclose(runs[s][2][1], channel[1]) for s in SEEDS), "the content channel differs between seeds"
    n_epochs = runs[SEEDS[0]][0].shape[0]

    def member(seed, epoch):
        return runs[seed][0][epoch - 1], runs[seed][1][epoch - 1]

    singles = {  # (seed, epoch) -> (2, 3051) figures without EASE, as training reads a member
        (s, e): valid.figures(np.arange(len(valid.users)), [member(s, e)], channel, 0.0)
        for s in SEEDS for e in range(1, n_epochs + 1)
    }
    print("singles scored", flush=True)
    chosen, unstopped = {}, {}  # (rule, half chosen on, first, second) -> (epoch of first, epoch of second)
    for half, rows in valid.halves.items():
        own = {}
        for rule, criterion in CRITERIA.items():
            for s in SEEDS:
                epoch, stopped = replay(lambda e: singles[(s, e)][:, rows] if e <= n_epochs else None, criterion)
                own[(rule, s)] = epoch
                unstopped[rule] = unstopped.get(rule, 0) + (not stopped)
        for rule in CRITERIA:
            for s, t in itertools.combinations(SEEDS, 2):
                chosen[(rule, half, s, t)] = own[(rule, s)], own[(rule, t)]
        for s, t in itertools.permutations(SEEDS, 2):
            first = member(s, own[("recall", s)])

            def pair_at(e):
                if e > n_epochs:
                    return None
                return valid.figures(rows, [first, member(t, e)], channel, 0.0)

            epoch, stopped = replay(pair_at, CRITERIA["recall"])
            chosen[("pair", half, s, t)] = own[("recall", s)], epoch
            unstopped["pair"] = unstopped.get("pair", 0) + (not stopped)
        print("chosen on", half, flush=True)

    def read(rule):
        """{(first, second): (2, 3051) figures}, each half read with the choices made on the other."""
        result = {}
        for (r, half, s, t), (e_s, e_t) in chosen.items():
            if r != rule:
                continue
            other = "B" if half == "A" else "A"
            figures = valid.figures(valid.halves[other], [member(s, e_s), member(t, e_t)], channel, EASE_WEIGHT)
            result.setdefault((s, t), {})[other] = figures
        return {k: np.hstack([v["A"], v["B"]]) for k, v in result.items()}

    old = read("recall")
    report = {"users": len(valid.users), "unstopped_by_45": unstopped, "recipe_rule_pairs": None}
    report["mean_epoch"] = {
        rule: np.mean([e for (r, *_), pair in chosen.items() if r == rule for e in pair]).round(2).tolist()
        for rule in (*CRITERIA, "pair")
    }
    report["mean_epoch_second_member_pair_rule"] = np.mean(
        [pair[1] for (r, *_), pair in chosen.items() if r == "pair"]).round(2).tolist()
    for rule in ("ndcg", "both", "pair"):
        verdict = compare_ensembles(read(rule), old, SEEDS, MAX_SEEDS_LOWER)
        report["recipe_rule_pairs"] = verdict["old"]
        report[rule] = verdict
        print(rule, json.dumps(verdict), flush=True)
    qualified = [r for r in ("ndcg", "both", "pair") if report[r]["qualifies"]]
    report["taken"] = max(qualified, key=lambda r: report[r]["gain"][1]) if qualified else None
    everyone = np.arange(len(valid.users))
    report["fixed_epochs_all_valid"] = {
        e: {
            "single": np.mean([valid.figures(everyone, [member(s, e)], channel, EASE_WEIGHT).mean(1)
                               for s in SEEDS], 0).round(5).tolist(),
            "pair": np.mean([valid.figures(everyone, [member(s, e), member(t, e)], channel, EASE_WEIGHT).mean(1)
                             for s, t in itertools.combinations(SEEDS, 2)], 0).round(5).tolist(),
        }
        for e in FIXED_EPOCHS
    }
    print("taken:", report["taken"], json.dumps(report["fixed_epochs_all_valid"]), flush=True)
    (HERE / "epochs.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
