"""Which stored item revisions to apply, and with which vector: each item is placed once per batch.

Revisions are partial updates (a title-only revision keeps the item's
vector), so every revision's display fields are applied in order, but an
item's vector comes from its newest revision with usable features alone:
read from the store when the model placed it before (written beside the
revision), else computed once and written back. Start-up therefore costs
no model call for items written by this version, and at most one per item
for older stores, whatever the number of revisions.

A revision whose features are invalid (non-finite, out of range, the wrong
size) or whose vector comes out unusable is skipped and reported, never
applied: one bad write cannot poison the catalog on replay.

Example:
    >>> plan = plan_placements(revisions, check, stored, place)  # doctest: +SKIP
    >>> plan.winners["i9"].vector.shape  # doctest: +SKIP
    (64,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fusionrec.serve.errors import InvalidInputError, UnsupportedError
from fusionrec.serve.store import ItemRevision, Placement
from fusionrec.serve.vectors import vector_problem

CheckRevision = Callable[[ItemRevision], None]
"""Raises InvalidInputError or UnsupportedError when a revision's features cannot be used (no model call)."""
StoredPlacements = Callable[[list[int]], dict[int, Placement]]
"""``{seq: placement}`` of the given revisions that have a stored vector."""
PlaceRevision = Callable[[ItemRevision], Placement]
"""Runs the model on a revision's features (raises as :data:`CheckRevision` does)."""


@dataclass
class PlacementPlan:
    """What a batch of revisions does.

    Attributes:
        winners: ``{item_id: placement}`` of the newest usable featured revision of each item.
        skipped: ``{seq: reason}`` of revisions that must not be applied.
        computed: placements the model had to compute (to store, so the next start-up need not).
    """

    winners: dict[str, Placement] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    computed: list[Placement] = field(default_factory=list)


def plan_placements(
    revisions: Sequence[ItemRevision], check: CheckRevision, stored: StoredPlacements, place: PlaceRevision
) -> PlacementPlan:
    """Check every revision's features, then find each item's vector from its newest usable one."""
    plan = PlacementPlan()
    newest_first: dict[str, list[ItemRevision]] = {}
    for revision in reversed(revisions):
        if not revision.payload.get("features"):
            continue
        try:
            check(revision)
        except (InvalidInputError, UnsupportedError) as exc:
            plan.skipped[revision.seq] = exc.message
            continue
        newest_first.setdefault(revision.item_id, []).append(revision)
    found = stored([candidates[0].seq for candidates in newest_first.values()])
    for item_id, candidates in newest_first.items():
        for position, revision in enumerate(candidates):
            if position:  # the newest failed: look its predecessor up alone (rare)
                found.update(stored([revision.seq]))
            placement = _usable(found.get(revision.seq)) or _computed(revision, place, plan)
            if placement is not None:
                plan.winners[item_id] = placement
                break
    return plan


def _usable(placement: Placement | None) -> Placement | None:
    """A stored placement, unless its vectors are unusable (then it is computed again)."""
    if placement is None:
        return None
    vectors = [placement.vector, *placement.parts.values()]
    return placement if all(vector_problem(v) is None for v in vectors) else None


def _computed(revision: ItemRevision, place: PlaceRevision, plan: PlacementPlan) -> Placement | None:
    try:
        placement = place(revision)
    except (InvalidInputError, UnsupportedError) as exc:
        plan.skipped[revision.seq] = exc.message
        return None
    plan.computed.append(placement)
    return placement


__all__ = ["PlacementPlan", "plan_placements"]
