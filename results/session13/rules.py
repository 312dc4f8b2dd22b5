"""Schedule rules for the two members, scored on valid half B from curves.py runs: rules.py [NAME ...] (valid only).

For each run NAME-SEED (seeds 0-9) the half-A curve says which epoch early stopping with patience p would keep
and when it would stop. A rule says, for the pair (member 1 = seed i, member 2 = seed j, i != j, 90 ordered
pairs), which epoch of each member is kept and how many epochs the two cost in all:

* `pP`: both members stop on their own with patience P (the recipe is p15);
* `pP-same`: member 1 stops with patience P; member 2 trains exactly member 1's chosen epochs, with no valid
  evaluation of its own, so its patience tail is not paid.

Prints, per rule, the mean pair Recall/NDCG@20 on half B, its paired difference from the recipe's, the seeds
(as member 1) on which the difference is below zero, and the epochs trained relative to the recipe's. Other NAMEs
(e.g. lr or batch variants) are scored with the same rules beside the recipe's runs.
"""

import itertools
import json
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session12"))
from halfb import VECTORS, figures

first, last = (int(x) for x in os.environ.get("SEEDS", "0-9").split("-"))
SEEDS = range(first, last + 1)  # SEEDS=10-19 for the replication
PATIENCES = (5, 8, 10, 12, 15)
LOG = Path(os.environ.get("SCREEN_LOG", Path(__file__).with_name("curves.jsonl")))


def stopping(curve, patience):
    """(kept epoch, epochs run) of early stopping on the half-A values of `curve` with `patience`."""
    best, best_epoch, stale = -1.0, 0, 0
    for point in curve:
        if point["a"] > best:
            best, best_epoch, stale = point["a"], point["epoch"], 0
        else:
            stale += 1
            if stale >= patience:
                return best_epoch, point["epoch"]
    raise ValueError(f"curve ends at epoch {curve[-1]['epoch']} before patience {patience} ran out")


class Run:
    """One curves.py run: its curve and its vectors at every epoch."""

    def __init__(self, row):
        self.curve = row["curve"]
        saved = np.load(VECTORS / f"curves-{row['name']}-{row['seed']}.npz")
        self.epochs = list(saved["epochs"])
        self.users, self.items = saved["users"], saved["items"]
        self.channel = saved["channel_users"], saved["channel_items"]

    def at(self, epoch):
        """(unit users, unit items) at `epoch`, float32."""
        index = self.epochs.index(epoch)
        return self.users[index].astype(np.float32), self.items[index].astype(np.float32)


def pair_figures(first, first_epoch, second, second_epoch):
    """Half-B Recall/NDCG@20 of the pair: mean of the two members' cosines plus member 1's content channel.

    halfb.pair's scoring on vectors kept apart from their channel, in float32 throughout (halfb.pair's division by
    np.sqrt(2) promotes to float64), which is what the recorded device/ and replication/ tables were made with.
    """
    (u1, i1), (u2, i2) = first.at(first_epoch), second.at(second_epoch)
    half = np.float32(np.sqrt(2))
    users = np.hstack([u1 / half, u2 / half, first.channel[0]])
    items = np.hstack([i1 / half, i2 / half, first.channel[1]])
    return figures(users, items)


RUNS: dict = {}  # (name, seed) -> Run, read by the worker processes (fork)


def _pair_task(task):
    name, i, kept_i, j, kept_j = task
    return pair_figures(RUNS[(name, i)], kept_i, RUNS[(name, j)], kept_j)


def rules(name):
    """{rule: [(seed i, seed j, figures, epochs), ...]} over the ordered pairs of different seeds of run `name`."""
    tasks, keys = [], []
    for patience in PATIENCES:
        for same in (False, True) if os.environ.get("SAME", "1") == "1" else (False,):  # SAME=0: runs stopped early
            for i, j in itertools.permutations(SEEDS, 2):
                kept_i, run_i = stopping(RUNS[(name, i)].curve, patience)
                kept_j, run_j = (kept_i, kept_i) if same else stopping(RUNS[(name, j)].curve, patience)
                tasks.append((name, i, kept_i, j, kept_j))
                keys.append((f"p{patience}" + ("-same" if same else ""), i, j, run_i + run_j))
    with multiprocessing.Pool(int(os.environ.get("WORKERS", "2"))) as pool:
        results = pool.map(_pair_task, tasks, chunksize=8)
    out: dict = {}
    for (rule, i, j, epochs), value in zip(keys, results):
        out.setdefault(rule, []).append((i, j, value, epochs))
    return out


def main(names):
    rows = [json.loads(line) for line in LOG.read_text().splitlines()]
    table = {}
    for name in names:
        runs = {r["seed"]: Run(r) for r in rows if r["name"] == name and r["seed"] in SEEDS}
        RUNS.update({(name, seed): run for seed, run in runs.items()})
        if sorted(runs) != list(SEEDS):
            print(f"{name}: left out, only seeds {sorted(runs)} ran")
            continue
        for p in PATIENCES:
            kept = [stopping(runs[s].curve, p) for s in SEEDS]
            single = np.array(
                [next(c["b"] for c in runs[s].curve if c["epoch"] == k) for s, (k, _) in zip(SEEDS, kept)]
            )
            print(
                f"{name} single p{p}: half B {single[:, 0].mean():.4f} / {single[:, 1].mean():.4f}, "
                f"kept/run epochs {np.mean([k for k, _ in kept]):.1f} / {np.mean([r for _, r in kept]):.1f}"
            )
        table.update({f"{name} {rule}": value for rule, value in rules(name).items()})
    reference = np.array([f for _, _, f, _ in table["base p15"]])
    reference_epochs = np.mean([e for *_, e in table["base p15"]])
    print("\n| rule | pair R@20 | pair N@20 | difference | member-1 seeds below | epochs / recipe's |")
    print("|---|---|---|---|---|---|")
    for rule, value in table.items():
        values = np.array([f for _, _, f, _ in value])
        diff = values - reference
        by_seed = np.array([diff[[k for k, (i, *_) in enumerate(value) if i == s]].mean(0) for s in SEEDS])
        epochs = np.mean([e for *_, e in value])
        print(
            f"| {rule} | {values[:, 0].mean():.4f} | {values[:, 1].mean():.4f} | {diff[:, 0].mean():+.4f} / "
            f"{diff[:, 1].mean():+.4f} | {(by_seed[:, 0] < 0).sum()} (R), {(by_seed[:, 1] < 0).sum()} (N) | "
            f"{epochs:.1f} / {reference_epochs:.1f} = {epochs / reference_epochs:.2f} |"
        )
    if os.environ.get("RULES_JSON"):  # every pair's figures and epochs, for a later look
        dump = {
            rule: [[i, j, [round(float(x), 5) for x in f], int(e)] for i, j, f, e in value]
            for rule, value in table.items()
        }
        Path(os.environ["RULES_JSON"]).write_text(json.dumps(dump))


if __name__ == "__main__":
    main(sys.argv[1:] or ["base"])
