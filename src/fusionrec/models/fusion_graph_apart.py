"""Members trained apart: the flagship's ensemble whose members each train as a model of their own.

With ``members = { count = N, training = "apart" }`` a :class:`~fusionrec.models.fusion_graph.FusionGraph`
trains N single-member copies one after another, each with its own seed,
optimiser and early stopping on valid, and scores by the mean of their
cosines (the same :class:`~fusionrec.models.fusion_graph_net.FusionGraphMembers`
module that side-by-side training builds, so saving, loading, cold items
and explanations work unchanged). An epoch costs what a single model's
costs; the ensemble costs N trainings in all.

Member ``k`` of seed ``s`` trains with seed ``s + MEMBER_SEED_STRIDE * k``,
so member 0 is exactly the single model of seed ``s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fusionrec.models.train_config import History

MEMBER_SEED_STRIDE = 1000
"""Seed offset between members trained apart."""

Fitted = TypeVar("Fitted")


def fit_members_apart(fit_single: Callable[[int], Fitted], count: int, base_seed: int) -> list[Fitted]:
    """Fit ``count`` single-member models one by one; member ``k`` is ``fit_single(base_seed + STRIDE * k)``.

    Args:
        fit_single: fits a single-member model (no EASE channel, no second stage: the whole adds them)
            with the given training seed and returns it.
        count: members.
        base_seed: the ensemble's training seed (member 0 is the single model of that seed).
    """
    return [fit_single(base_seed + MEMBER_SEED_STRIDE * k) for k in range(count)]


def merged_history(histories: list[History]) -> History:
    """One :class:`History` for members trained in turn: epochs and seconds add up, curves run on.

    ``best_epoch`` and ``epochs_run`` are totals over the members (``seconds_per_epoch``
    stays the cost of one member's epoch); ``valid_scores`` are numbered on from one
    member to the next; ``best_valid`` is left for the caller (the ensemble's own figure).
    """
    merged = History(stop_reason=histories[-1].stop_reason)
    for history in histories:
        offset = merged.epochs_run
        merged.valid_scores += [(offset + epoch, value) for epoch, value in history.valid_scores]
        merged.losses += history.losses
        merged.warnings += history.warnings
        merged.best_epoch += history.best_epoch
        merged.epochs_run += history.epochs_run
        merged.train_seconds += history.train_seconds
        merged.eval_seconds += history.eval_seconds
        merged.total_seconds += history.total_seconds
    return merged
