"""The flagship with LLM profiles against the flagship without, on all users, the profiled ones and short histories.

Reads two result folders written by ``fusionrec benchmark --out-dir`` (per-user
test values of each seed; seeds are averaged per user) and, optionally, a
``fusionrec profile users`` file, and prints paired tests (t-test and
Wilcoxon) of A against B over all users, over the users with a profile and
those without (with ``--profiles``), and over the quarter of users with the
shortest training histories (who lean on their profile most) and the rest.
Test values are read once, at the valid-chosen point the runs kept.

Usage::

    FUSIONREC_DATA=../shared/data fusionrec benchmark --recipe ml100k-mm --out-dir runs/base
    FUSIONREC_DATA=../shared/data fusionrec benchmark --recipe ml100k-mm-user-profiles \\
        --set user_profiles.profiles=user-profiles.jsonl --out-dir runs/users
    FUSIONREC_DATA=../shared/data python experiments/user_profiles.py runs/users/ml100k-mm/ml100k-mm-user-profiles \\
        runs/base/ml100k-mm/ml100k-mm --profiles user-profiles.jsonl --dataset ml100k-mm
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fusionrec.evaluation.preparation import load_split
from fusionrec.evaluation.ranking import Evaluation
from fusionrec.evaluation.significance import average_evaluations, compare, result_files
from fusionrec.llm import read_user_profiles


def seeds_averaged(folder: Path, part: str) -> Evaluation:
    return average_evaluations([Evaluation.load(path) for path in result_files(folder, part)])


def restricted(evaluation: Evaluation, keep: np.ndarray) -> Evaluation:
    """The evaluation of the users whose index ``keep`` (bool (n_users,)) marks."""
    rows = keep[evaluation.users]
    per_user = {name: values[rows] for name, values in evaluation.per_user.items()}
    return Evaluation(users=evaluation.users[rows], per_user=per_user, seconds=evaluation.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("with_profiles", type=Path, help="result folder of the run with user profiles (A)")
    parser.add_argument("without", type=Path, help="result folder of the run without (B)")
    parser.add_argument("--profiles", type=Path, help="the profile users file the run read (groups by profile)")
    parser.add_argument("--dataset", default="ml100k-mm")
    parser.add_argument("--part", default="test")
    args = parser.parse_args()
    split = load_split(None, args.dataset)
    history = np.bincount(split.train.user_index, minlength=split.n_users)
    short = history <= np.quantile(history, 0.25)
    groups = [("all", np.ones(split.n_users, dtype=bool))]
    if args.profiles is not None:
        report = read_user_profiles(args.profiles, split)
        profiled = np.array([str(u) in report.profiles for u in split.dataset.users.ids])
        groups += [("profiled", profiled), ("not profiled", ~profiled)]
    limit = int(history[short].max())
    groups += [(f"history <= {limit} training items", short), (f"history > {limit}", ~short)]
    a, b = seeds_averaged(args.with_profiles, args.part), seeds_averaged(args.without, args.part)
    rows = []
    for group, keep in groups:
        if keep.sum() < 2:  # a paired test needs two users (e.g. no user without a profile)
            continue
        for test in compare(restricted(a, keep), restricted(b, keep), ["recall@20", "ndcg@20"]):
            rows.append({"users": group, **test.to_dict()})
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
