"""read.py STEP: the pre-registered reads of README.md on session 15's inner items. Writes STEP.json beside this file.

  read.py temperature        step 1: t015, t010 and t025 pairs against the base pairs (all with the EASE channel)
  read.py temperature2       second amendment: t030 pairs against t025's
  read.py triple VARIANT     step 2: VARIANT's 120 triples against its 45 pairs
  read.py ease VARIANT K     step 3: EASE (lambda, w) chosen on inner half I1 for VARIANT's K-member ensembles,
                             read on I2

An ensemble's score is the recipe's: the mean of its members' cosines plus the content channel (the same for every
member) plus w * EASE's standardised scores. Test is never read.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "session15"))
sys.path.insert(0, str(HERE.parent / "session10" / "analysis"))
from common import compare_ensembles, score_ranks, vectors  # noqa: E402
from inner import inner_split, tiktok  # noqa: E402

from fusionrec.models.ease import ease_weights  # noqa: E402
from fusionrec.models.ease_channel import standardised  # noqa: E402

DIM = 128
SEEDS = list(range(10))
EASE_LAMBDA, EASE_WEIGHT = 200.0, 0.005  # the recipe's
EASE_LAMBDAS = (100.0, 200.0, 400.0)
EASE_WEIGHTS = (0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02)
BOOTSTRAP_DRAWS = 2000

split = inner_split(tiktok())
train = split.train.to_csr()
test = split.test.to_csr()
USERS = np.flatnonzero(np.diff(test.indptr) > 0)
assert (np.diff(test.indptr)[USERS] == 1).all(), "one inner item per user expected"
TARGETS = test.indices[test.indptr[USERS]]
I1 = np.zeros(len(USERS), dtype=bool)
I1[np.random.default_rng(2026).permutation(len(USERS))[: len(USERS) // 2]] = True


def ease_signal(lam, users=USERS):
    """float32 (n_users, n_items): EASE's scores of the users' train' rows, standardised per user."""
    return standardised(np.asarray(train[users] @ ease_weights(train, lam), dtype=np.float32))


def load(variant):
    runs = {s: vectors(f"s16-{variant}-{s}") for s in SEEDS}
    channel = runs[0][0][:, DIM:], runs[0][1][:, DIM:]
    for s in SEEDS[1:]:  # the content channel is fixed, not learned: every member carries the same columns
        assert np.allclose(runs[s][0][:, DIM:], channel[0]) and np.allclose(runs[s][1][:, DIM:], channel[1])
    return runs


def ensemble_score(runs, members, rows=slice(None)):
    """(n, n_items) the recipe's score of the ensemble `members` for USERS[rows], without EASE."""
    users = USERS[rows]
    first = runs[members[0]]
    score = first[0][users, DIM:] @ first[1][:, DIM:].T
    for m in members:
        score += runs[m][0][users, :DIM] @ runs[m][1][:, :DIM].T / len(members)
    return score


def per_user(scores, rows=slice(None)):
    """float (2, n): each user's (hit@20, ndcg@20)."""
    rank = score_ranks(scores, TARGETS[rows], train[USERS[rows]].nonzero())
    hit = (rank < 20).astype(np.float64)
    return np.stack([hit, hit / np.log2(rank + 2)])


def ensembles_figures(runs, size, signal, rows=slice(None)):
    """{members: (2, n)} per-user figures of every `size`-subset of the seeds, plus signal."""
    return {c: per_user(ensemble_score(runs, c, rows) + signal, rows) for c in itertools.combinations(SEEDS, size)}


def compare(new, old, by_seeds=True):
    """The rule's figures for per-user figures of two sets of ensembles (dicts keyed by member tuples)."""
    return compare_ensembles(new, old, SEEDS, 3 if by_seeds else None, BOOTSTRAP_DRAWS)


def temperature():
    signal = EASE_WEIGHT * ease_signal(EASE_LAMBDA)
    base = ensembles_figures(load("base"), 2, signal)
    report = {"base_pairs": np.mean([v.mean(1) for v in base.values()], 0).round(5).tolist()}
    for variant in ("t015", "t010", "t025"):
        report[variant] = compare(ensembles_figures(load(variant), 2, signal), base)
        print(variant, json.dumps(report[variant]), flush=True)
    return report


def temperature2():
    signal = EASE_WEIGHT * ease_signal(EASE_LAMBDA)
    report = compare(ensembles_figures(load("t030"), 2, signal), ensembles_figures(load("t025"), 2, signal))
    print(json.dumps(report), flush=True)
    return report


def triple(variant):
    signal = EASE_WEIGHT * ease_signal(EASE_LAMBDA)
    runs = load(variant)
    report = compare(ensembles_figures(runs, 3, signal), ensembles_figures(runs, 2, signal))
    print(json.dumps(report), flush=True)
    return report


def ease(variant, size):
    runs = load(variant)
    combos = list(itertools.combinations(SEEDS, size))
    signals = {lam: ease_signal(lam) for lam in EASE_LAMBDAS}
    on_i1 = {lam: sig[I1] for lam, sig in signals.items()}
    grid = {(lam, w): [] for lam in EASE_LAMBDAS for w in EASE_WEIGHTS}
    for c in combos:  # each ensemble scored once, every setting added to it (the scores of all would not fit)
        score = ensemble_score(runs, c, I1)
        for lam, w in grid:
            grid[(lam, w)].append(per_user(score + w * on_i1[lam], I1).mean(1))
    grid = {k: np.mean(v, 0) for k, v in grid.items()}
    current = grid[(EASE_LAMBDA, EASE_WEIGHT)]
    allowed = [k for k, v in grid.items() if v[0] >= current[0]]
    chosen = max(allowed, key=lambda k: grid[k][1])
    report = {"I1_grid": {f"{lam}/{w}": v.round(5).tolist() for (lam, w), v in grid.items()}, "chosen": list(chosen)}
    print(json.dumps(report), flush=True)
    if chosen == (EASE_LAMBDA, EASE_WEIGHT):
        report["I2"] = "the current setting was chosen on I1; nothing to read"
        return report
    rows = ~I1
    old, new = {}, {}
    for c in combos:
        score = ensemble_score(runs, c, rows)
        old[c] = per_user(score + EASE_WEIGHT * signals[EASE_LAMBDA][rows], rows)
        new[c] = per_user(score + chosen[1] * signals[chosen[0]][rows], rows)
    report["I2"] = compare(new, old, by_seeds=False)
    print(json.dumps(report["I2"]), flush=True)
    return report


if __name__ == "__main__":
    step = sys.argv[1]
    if step == "temperature":
        out = temperature()
    elif step == "temperature2":
        out = temperature2()
    elif step == "triple":
        out = triple(sys.argv[2])
    elif step == "ease":
        out = ease(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown step {step!r}: temperature, triple or ease")
    (HERE / f"{step}.json").write_text(json.dumps(out, indent=1) + "\n")
