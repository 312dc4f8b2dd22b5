"""The pre-registered screen of README.md: signals added to TikTok's two-member pair score, chosen on half A, read on B.

signals.py [SEEDS]: reads $SCREEN_VECTORS/base-halfA-SEED.npz (results/session10/screen.py with the TUNED schedule,
early stopping on half A) for seeds 0-9 by default, chooses each signal's (lambda, w) on half A by the mean
Recall@20 of the 90 ordered pairs, then reads half B once at that choice. Writes signals.json beside this file.
A_ONLY=1: the half-A grid only (half B is not read).
Test is never read.
"""

import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "session10" / "analysis"))
from common import score_ranks, tiktok, valid_half_a, vectors  # noqa: E402

from fusionrec.models.ease import ease_weights  # noqa: E402
from fusionrec.models.ease_channel import standardised  # noqa: E402

DIM = 128
SEEDS = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else list(range(10))
EASE_LAMBDAS = (20, 50, 100, 200)
EASE_WEIGHTS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.03, 0.05, 0.1)
POP_WEIGHTS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05)
LIGHT_USER_MAX_ITEMS = 4

split = tiktok()
train, valid = split.train.to_csr(), split.valid.to_csr()
has_valid = np.diff(valid.indptr) > 0
in_a = valid_half_a(split)
halves = {"A": np.flatnonzero(has_valid & in_a), "B": np.flatnonzero(has_valid & ~in_a)}
targets = {h: valid.indices[valid.indptr[u]] for h, u in halves.items()}
seen = {h: train[u].nonzero() for h, u in halves.items()}


def figures(scores, half):
    """(Recall@20, NDCG@20) of one half's users, scores (n_half_users, n_items)."""
    rank = score_ranks(scores.copy(), targets[half], seen[half])
    hit = rank < 20
    return float(hit.mean()), float((hit / np.log2(rank + 2)).mean())


def pair_scores(first, second, users):
    """The recipe's pair score for users: mean of the members' cosines plus the first member's content channel."""
    user = np.hstack([first[0][users, :DIM], second[0][users, :DIM]]) / np.sqrt(2)
    item = np.hstack([first[1][:, :DIM], second[1][:, :DIM]]) / np.sqrt(2)
    return user @ item.T + first[0][users, DIM:] @ first[1][:, DIM:].T


def signals():
    """{name: (options {option: {half: (n_half_users, n_items) signal}}, weights)}."""
    counts = np.asarray(train.sum(0)).ravel()
    light = np.diff(train.indptr) <= LIGHT_USER_MAX_ITEMS
    light_counts = np.asarray(train[light].sum(0)).ravel()
    out = {}
    for name, count in (("pop", counts), ("lightpop", light_counts)):
        row = np.log1p(count).astype(np.float32)
        out[name] = ({"-": {h: np.broadcast_to(row, (len(u), len(row))) for h, u in halves.items()}}, POP_WEIGHTS)
    ease = {}
    for lam in EASE_LAMBDAS:
        b = ease_weights(train, lam)
        ease[lam] = {h: standardised(np.asarray(train[u] @ b, dtype=np.float32)) for h, u in halves.items()}
    out["ease"] = (ease, EASE_WEIGHTS)
    return out


def main():
    runs = {s: vectors(f"base-halfA-{s}") for s in SEEDS}
    pairs = list(itertools.permutations(SEEDS, 2))
    options = signals()
    grid: dict = {}
    base_figures: dict = {"A": {}, "B": {}}
    for p in pairs:
        score = pair_scores(runs[p[0]], runs[p[1]], halves["A"])
        base_figures["A"][p] = figures(score, "A")
        for name, (by_option, weights) in options.items():
            for option, signal in by_option.items():
                for w in weights:
                    grid.setdefault((name, option, w), []).append(figures(score + w * signal["A"], "A"))
        print("A", p, flush=True)
    report = {"seeds": SEEDS, "pair_A": np.mean(list(base_figures["A"].values()), 0).round(5).tolist()}
    chosen = {}
    for name in options:
        keys = [k for k in grid if k[0] == name]
        chosen[name] = max(keys, key=lambda k: np.mean(grid[k], 0)[0])
    if os.environ.get("A_ONLY"):  # a smoke test of the grid that does not read half B
        print({k: np.mean(v, 0).round(5).tolist() for k, v in grid.items()}, report)
        return
    b = {name: {} for name in options}
    for p in pairs:
        score = pair_scores(runs[p[0]], runs[p[1]], halves["B"])
        base_figures["B"][p] = figures(score, "B")
        for name, (_, option, w) in chosen.items():
            b[name][p] = figures(score + w * options[name][0][option]["B"], "B")
    report["pair_B"] = np.mean(list(base_figures["B"].values()), 0).round(5).tolist()
    for name, (_, option, w) in chosen.items():
        gain = np.array([np.subtract(b[name][p], base_figures["B"][p]) for p in pairs])
        by_first = {s: gain[[i for i, p in enumerate(pairs) if p[0] == s], 0].mean() for s in SEEDS}
        report[name] = {
            "chosen_on_A": {"option": option, "w": w, "A": np.mean(grid[chosen[name]], 0).round(5).tolist()},
            "B": np.mean(list(b[name].values()), 0).round(5).tolist(),
            "B_gain": gain.mean(0).round(5).tolist(),
            "B_gain_by_member1_seed": {s: round(float(v), 5) for s, v in by_first.items()},
            "member1_seeds_lower_R": int(sum(v < 0 for v in by_first.values())),
            "A_grid": {f"{o} {w}": np.mean(grid[(n, o, w)], 0).round(5).tolist() for (n, o, w) in grid if n == name},
        }
        print(name, json.dumps({k: v for k, v in report[name].items() if k != "A_grid"}), flush=True)
    Path(__file__).with_name("signals.json").write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
