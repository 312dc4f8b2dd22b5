"""Paired significance tests between two evaluations of the same users.

Two models evaluated on the same part of the same split give one value
per user each; the paired t-test and the Wilcoxon signed-rank test ask
whether the per-user differences are centred on zero. Per-user values are
saved as ``.npz`` by :meth:`Evaluation.save`, so runs made at different
times can be compared later with :func:`compare_files`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from fusionrec.evaluation.ranking import Evaluation


@dataclass(frozen=True)
class PairedTest:
    """The outcome of comparing model A with model B on one metric.

    Attributes:
        metric: e.g. ``"recall@20"``.
        n_users: users in both evaluations.
        mean_a: mean of A's per-user values.
        mean_b: mean of B's per-user values.
        mean_diff: ``mean_a - mean_b``.
        t_statistic: paired t statistic of A - B (0 when all differences are 0,
            +-inf when they are all equal and non-zero).
        t_pvalue: two-sided p-value of the paired t-test.
        wilcoxon_statistic: Wilcoxon signed-rank statistic (zero differences dropped).
        wilcoxon_pvalue: two-sided p-value of the Wilcoxon test (1 when all differences are 0).
    """

    metric: str
    n_users: int
    mean_a: float
    mean_b: float
    mean_diff: float
    t_statistic: float
    t_pvalue: float
    wilcoxon_statistic: float
    wilcoxon_pvalue: float

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def paired_test(a: Evaluation, b: Evaluation, metric: str) -> PairedTest:
    """Paired t-test and Wilcoxon signed-rank test of A against B on ``metric``.

    Args:
        a: per-user values of model A.
        b: per-user values of model B on the same users (any order).
        metric: a metric both evaluations hold.

    Raises:
        ValueError: the user sets differ, the metric is missing, or fewer than 2 users.

    Example:
        >>> result = paired_test(freedom_eval, bpr_eval, "recall@20")  # doctest: +SKIP
        >>> result.wilcoxon_pvalue < 0.05  # doctest: +SKIP
    """
    values_a, values_b = aligned_values(a, b, metric)
    if len(values_a) < 2:
        raise ValueError(f"a paired test needs at least 2 users; {len(values_a)} were evaluated")
    diff = values_a - values_b
    t_statistic, t_pvalue = _paired_t(diff)
    w_statistic, w_pvalue = _wilcoxon(diff)
    return PairedTest(
        metric=metric,
        n_users=len(diff),
        mean_a=float(values_a.mean()),
        mean_b=float(values_b.mean()),
        mean_diff=float(diff.mean()),
        t_statistic=t_statistic,
        t_pvalue=t_pvalue,
        wilcoxon_statistic=w_statistic,
        wilcoxon_pvalue=w_pvalue,
    )


def compare(a: Evaluation, b: Evaluation, metrics: Sequence[str] | None = None) -> list[PairedTest]:
    """:func:`paired_test` for each metric (default: every metric both hold, in A's order)."""
    chosen = list(metrics) if metrics is not None else [m for m in a.per_user if m in b.per_user]
    return [paired_test(a, b, metric) for metric in chosen]


def compare_files(
    paths_a: str | Path | Sequence[str | Path],
    paths_b: str | Path | Sequence[str | Path],
    metrics: Sequence[str] | None = None,
) -> list[PairedTest]:
    """Compare per-user values saved by :meth:`Evaluation.save`; several files (seeds) are averaged per user.

    Example:
        >>> compare_files(["a/seed0.npz", "a/seed1.npz"], ["b/seed0.npz", "b/seed1.npz"])  # doctest: +SKIP
    """
    return compare(_load_mean(paths_a), _load_mean(paths_b), metrics)


def result_files(folder: str | Path, part: str = "test") -> list[Path]:
    """The per-user files of ``part`` (one per seed) that ``fusionrec train`` or ``benchmark`` wrote in ``folder``.

    Raises:
        ValueError: the folder holds none, naming the folder and what was looked for.
    """
    folder = Path(folder)
    found = sorted(folder.glob(f"*_seed*_{part}.npz"))
    if not found:
        raise ValueError(
            f"{folder} holds no per-user values (*_seed<k>_{part}.npz); pass a result folder written by "
            "`fusionrec train --out-dir` or `fusionrec benchmark --out-dir`"
        )
    return found


def compare_results(folder_a: str | Path, folder_b: str | Path, part: str = "test") -> list[PairedTest]:
    """Paired tests of two result folders' per-user values on ``part`` (seeds averaged per user).

    Example:
        >>> compare_results("runs/flagship", "runs/lightgcn")  # doctest: +SKIP
    """
    return compare_files(result_files(folder_a, part), result_files(folder_b, part))


def average_evaluations(evaluations: Sequence[Evaluation]) -> Evaluation:
    """Per-user mean over runs (e.g. seeds) of the same users; metrics all runs hold are kept."""
    if not evaluations:
        raise ValueError("no evaluation to average; pass at least one")
    first = evaluations[0]
    names = [m for m in first.per_user if all(m in e.per_user for e in evaluations)]
    per_user = {}
    for name in names:
        columns = [aligned_values(first, other, name)[1] for other in evaluations]
        per_user[name] = np.mean(columns, axis=0)
    order = np.argsort(first.users, kind="stable")
    return Evaluation(
        users=first.users[order],
        per_user={name: values[order] for name, values in per_user.items()},
        seconds=float(np.mean([e.seconds for e in evaluations])),
    )


def aligned_values(a: Evaluation, b: Evaluation, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """float64 (n,) values of ``metric`` for A and B, both in A's user order."""
    for name, evaluation in (("A", a), ("B", b)):
        if metric not in evaluation.per_user:
            raise ValueError(f"evaluation {name} has no {metric!r}; it holds {list(evaluation.per_user)}")
    _require_same_users(a.users, b.users)
    position_in_b = np.argsort(b.users, kind="stable")
    where = position_in_b[np.searchsorted(b.users[position_in_b], a.users)]
    return np.asarray(a.per_user[metric], np.float64), np.asarray(b.per_user[metric], np.float64)[where]


def _require_same_users(users_a: np.ndarray, users_b: np.ndarray) -> None:
    unique_a, unique_b = np.unique(users_a), np.unique(users_b)
    if len(unique_a) != len(users_a) or len(unique_b) != len(users_b):
        raise ValueError("an evaluation lists a user more than once; per-user values must have one row per user")
    if len(unique_a) == len(unique_b) and np.array_equal(unique_a, unique_b):
        return
    only_a = np.setdiff1d(unique_a, unique_b)
    only_b = np.setdiff1d(unique_b, unique_a)
    raise ValueError(
        f"the evaluations cover different users: A has {len(unique_a):,}, B has {len(unique_b):,} "
        f"({len(only_a):,} only in A, e.g. {only_a[:3].tolist()}; {len(only_b):,} only in B, e.g. "
        f"{only_b[:3].tolist()}); compare runs on the same split and part"
    )


def _paired_t(diff: np.ndarray) -> tuple[float, float]:
    """Two-sided paired t-test of ``diff`` (float64 (n,)) against 0, as ``scipy.stats.ttest_rel``."""
    mean, spread = float(diff.mean()), float(diff.std(ddof=1))
    if spread == 0.0:  # every difference equal: no noise to test against
        return (0.0, 1.0) if mean == 0.0 else (math.copysign(math.inf, mean), 0.0)
    statistic = mean / (spread / math.sqrt(len(diff)))
    return statistic, float(2.0 * stats.t.sf(abs(statistic), df=len(diff) - 1))


def _wilcoxon(diff: np.ndarray) -> tuple[float, float]:
    """Two-sided Wilcoxon signed-rank test of ``diff`` against 0 (zero differences dropped)."""
    if not np.any(diff != 0):
        return 0.0, 1.0
    result = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def _load_mean(paths: str | Path | Sequence[str | Path]) -> Evaluation:
    if isinstance(paths, str | Path):
        return Evaluation.load(paths)
    return average_evaluations([Evaluation.load(path) for path in paths])


__all__ = [
    "PairedTest",
    "aligned_values",
    "average_evaluations",
    "compare",
    "compare_files",
    "compare_results",
    "paired_test",
    "result_files",
]
