"""Retraining from the event store: the artifact's training data plus what users did since, as a new artifact.

:func:`retrain` reads the served artifact (its model, settings and training
interactions) and the store's positive events (likes, clicks, good ratings:
:func:`~fusionrec.serve.profiles.event_weight` above zero; forgotten users'
events are never exported), adds them as training interactions (users new to
the model join its vocabulary; items the model does not know are counted and
left out), drops the training interactions of users forgotten since, and
trains the same model with the same settings. A model that stops early on
valid gets a seeded ``valid_share`` of each user's interactions as valid.
The new artifact can then be handed to the service (``POST /v1/admin/model``,
``fusionrec retrain --swap-url``).

Example:
    >>> report = retrain("artifacts/ml100k", "sqlite:///events.sqlite3", "artifacts/ml100k-2")  # doctest: +SKIP
    >>> report.added_events, report.new_users  # doctest: +SKIP
    (1204, 17)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusionrec.data.dataset import Dataset, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.vocabulary import Vocabulary
from fusionrec.models.artifact import LoadedArtifact, load_artifact, save_artifact
from fusionrec.serve.profiles import event_weight
from fusionrec.serve.store import EventStore, StoredEvent

logger = logging.getLogger(__name__)


@dataclass
class RetrainReport:
    """What went into the new artifact."""

    artifact: Path
    added_events: int
    new_users: int
    unknown_items: int
    forgotten_users: int
    train_interactions: int


def retrain(
    artifact: str | Path,
    store: EventStore,
    out: str | Path,
    *,
    valid_share: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
) -> RetrainReport:
    """Train the artifact's model again on its data plus the store's positive events; save it at ``out``."""
    loaded = load_artifact(artifact)
    events = [e for e in store.export_events() if event_weight(e.kind, e.value) > 0]
    split, report = _combined_split(loaded, events, store, valid_share, seed)
    params = dict(loaded.manifest.get("params") or {})
    if loaded.manifest.get("train_config") is not None:
        params["train_config"] = {**loaded.manifest["train_config"], "seed": seed}
    model = type(loaded.model)(**params).fit(split)  # the artifact's own component, as load_artifact built it
    path = save_artifact(model, out, overwrite=overwrite, encoders=loaded.encoders or None)
    report.artifact = path
    logger.info(
        "retrained %s: +%d events, %d new users, %d events on unknown items left out, %d forgotten users dropped",
        loaded.model.name,
        report.added_events,
        report.new_users,
        report.unknown_items,
        report.forgotten_users,
    )
    return report


def _combined_split(
    loaded: LoadedArtifact, events: list[StoredEvent], store: EventStore, valid_share: float, seed: int
) -> tuple[Split, RetrainReport]:
    dataset = loaded.split.dataset
    items = dataset.items
    known = [e for e in events if items.index_or_missing([e.item_id])[0] >= 0]
    new_ids = sorted({e.user_id for e in known} - set(dataset.users.ids))
    users = Vocabulary(tuple(dataset.users.ids) + tuple(new_ids), kind="user")
    forgotten = set(store.tombstones_of(users.ids))
    old = loaded.split.train
    keep = ~np.isin(old.user_index, users.index([u for u in forgotten if u in set(dataset.users.ids)]))
    fresh = [e for e in known if e.user_id not in forgotten]
    user_index = np.concatenate([old.user_index[keep], users.index([e.user_id for e in fresh])]).astype(np.int64)
    item_index = np.concatenate([old.item_index[keep], items.index([e.item_id for e in fresh])]).astype(np.int64)
    pairs = np.unique(np.stack([user_index, item_index], axis=1), axis=0)  # a liked training item is one edge
    combined = Interactions(pairs[:, 0], pairs[:, 1], len(users), len(items))
    train, valid = _hold_out(combined, valid_share, seed)
    data = Dataset(
        name=dataset.name,
        users=users,
        items=items,
        interactions=combined,
        item_table=dataset.item_table,
        media_root=dataset.media_root,
    )
    for modality in dataset.modalities:
        data.add_feature(modality, dataset.features[modality], dataset.feature_mask(modality), source="artifact")
    empty = Interactions.empty(len(users), len(items))
    split = Split(data, train, valid, empty, protocol=loaded.split.protocol, description="retrained from events")
    report = RetrainReport(
        artifact=Path(),
        added_events=len(fresh),
        new_users=len(new_ids),
        unknown_items=len(events) - len(known),
        forgotten_users=len(forgotten),
        train_interactions=len(train.user_index),
    )
    return split, report


def _hold_out(interactions: Interactions, share: float, seed: int) -> tuple[Interactions, Interactions]:
    """``share`` of each user's interactions (none of a user with one) as valid, seeded; the rest train."""
    if share <= 0:
        return interactions, Interactions.empty(interactions.n_users, interactions.n_items)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(interactions.user_index))
    held = np.zeros(len(order), dtype=bool)
    counts = np.bincount(interactions.user_index, minlength=interactions.n_users)
    taken = np.zeros(interactions.n_users, dtype=np.int64)
    for row in order:
        user = interactions.user_index[row]
        if counts[user] > 1 and taken[user] < int(share * counts[user]):
            held[row], taken[user] = True, taken[user] + 1
    return interactions.select(~held), interactions.select(held)


__all__ = ["RetrainReport", "retrain"]
