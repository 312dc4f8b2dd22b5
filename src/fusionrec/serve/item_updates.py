"""Catalog updates: items written through this worker, and item revisions other workers stored.

An item added or changed through the service is stored as a revision, with
the vector the model gave it, before it is applied here; every worker
applies the revisions others stored every ``sync_interval_s`` (and at
start-up), in order, placing each item once without running the model again
when its vector is stored (see :mod:`fusionrec.serve.revisions`). A revision
number that is missing is waited for a while (PostgreSQL commits out of
order). A revision that cannot be applied is skipped, logged and reported
in :attr:`ItemUpdates.skipped_revisions`.

Example:
    >>> updates.upsert("new-film", {"title": "New film", "features": {"text": [0.1] * 384}}).created  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.serve.catalog import ItemCatalog, ItemInfo
from fusionrec.serve.content import ContentEncoder, encode_payload
from fusionrec.serve.errors import NotFoundError, StoreUnavailableError
from fusionrec.serve.revisions import plan_placements
from fusionrec.serve.store import EventStore, ItemRevision, Placement

if TYPE_CHECKING:
    from fusionrec.serve.index import ItemIndex
    from fusionrec.serve.placement import ItemPlacer
    from fusionrec.serve.resilience import StoreGuard

logger = logging.getLogger(__name__)

_GAP_SECONDS = 30.0  # how long a missing revision number is waited for (PostgreSQL commits out of order)
_FIRST_SYNC_TIMEOUT_S = 600.0  # the first sync reads every stored revision, later ones only the new


@dataclass
class ItemWrite:
    """The outcome of adding or updating an item.

    Attributes:
        info: the item's display fields now.
        created: True when the item was new.
        placed_from: modalities whose features gave the item a new vector (empty: not re-placed).
        masked: modalities of the sent content that could not be used, with the reason.
    """

    info: ItemInfo
    created: bool
    placed_from: list[str] = field(default_factory=list)
    masked: dict[str, str] = field(default_factory=dict)


class ItemUpdates:
    """Writes items through the store and applies the revisions other workers stored.

    Args:
        store, guard: the event store and the guard every call to it goes through.
        catalog, index: the catalog and item index the updates change.
        placer: places items from content features.
        content: encodes raw content sent with an item.
        model_key: the served model's fingerprint (stored vectors are valid for this model only).
        sync_interval_s: the least time between two syncs (0: every request syncs).
        store_timeout_s: how long a sync waits for the store (but the first, see :meth:`first_sync`).
    """

    def __init__(
        self,
        store: EventStore,
        guard: StoreGuard,
        catalog: ItemCatalog,
        index: ItemIndex | None,
        placer: ItemPlacer,
        content: ContentEncoder,
        model_key: str,
        sync_interval_s: float,
        store_timeout_s: float,
    ) -> None:
        self.store, self.guard, self.catalog, self.index = store, guard, catalog, index
        self.placer, self.content, self.model_key = placer, content, model_key
        self.sync_interval_s, self.store_timeout_s = sync_interval_s, store_timeout_s
        self.write_lock = threading.Lock()  # held while a write or a sync changes the catalog
        self.added_parts: dict[int, dict[str, np.ndarray]] = {}  # added item -> the part each modality adds
        self.skipped_revisions: dict[int, str] = {}  # stored revisions not applied: seq -> reason
        self.store_fresh = True  # the last sync reached the store
        self._sync_timeout_s = _FIRST_SYNC_TIMEOUT_S
        self._applied: set[int] = set()
        self._gaps: dict[int, float] = {}
        self._revision_seq, self._last_sync = 0, 0.0
        self._placed_seq: dict[str, int] = {}  # item -> seq of the revision its current vector comes from

    def first_sync(self) -> None:
        """Apply every stored revision (at start-up, with a longer timeout: it reads them all).

        Raises:
            StoreUnavailableError: the store's revisions could not be read.
        """
        if not self.sync(force=True):
            raise StoreUnavailableError("the event store's item revisions could not be read at start-up (see the log)")
        self._sync_timeout_s = self.store_timeout_s

    def store_failed(self) -> None:
        """The store just failed a request: the next sync waits its interval rather than make one wait again."""
        self.store_fresh, self._last_sync = False, time.monotonic()

    def indices(self, item_ids: list[str], *, source: str) -> np.ndarray:
        """int64 catalog indices; an unknown id triggers a sync first (another worker may just have added it).

        Raises:
            NotFoundError: an id is in neither this worker's catalog nor the store.
            StoreUnavailableError: an id is not in this worker's catalog and the store cannot be asked.
        """
        if not item_ids:
            return np.zeros(0, dtype=np.int64)
        self.sync()
        try:
            return self.catalog.indices(item_ids, source=source)
        except NotFoundError as exc:
            if not self.sync(force=True):
                raise StoreUnavailableError(
                    f"{exc.message}; items added by other workers could not be looked up because the event "
                    "store does not answer",
                    self.guard.breaker.retry_after(),
                ) from exc
            return self.catalog.indices(item_ids, source=source)

    def upsert(self, item_id: str, payload: dict[str, Any]) -> ItemWrite:
        """Add or update an item from ``{title, poster, metadata, features, content}``.

        Raw ``content`` is encoded first and stored as the features it gave, so
        other workers and restarts replay the item without encoding it again.
        """
        if payload.get("content"):
            self.placer.require_content_model()
        payload, masked = encode_payload(self.content, item_id, payload)
        features = payload.get("features")
        vector, parts = self.placer.place(item_id, features, item_id in self.catalog)
        with self.write_lock:
            if vector is None:
                seq = self.guard.write(self.store.add_item_revision, item_id, payload).seq
            else:  # the vector is stored beside the revision: no other worker or restart runs the model for it
                placement = Placement(0, vector, parts or {})
                seq = self.guard.write(self.store.add_placed_item_revision, item_id, payload, self.model_key, placement)
                self._placed_seq[item_id] = seq
            index, created = self._apply(item_id, payload, vector, parts)
            self._applied.add(seq)
        placed_from = sorted(features) if vector is not None and features else []
        return ItemWrite(self.catalog.info(index), created, placed_from, masked)

    def sync(self, force: bool = False) -> bool:
        """Apply item revisions written by other workers since the last sync (at most every ``sync_interval_s``).

        Returns:
            False when the store could not be read (the catalog stays as it was): this sync or, when it
            was skipped for the interval, the last one; a forced sync that could not run is False too.
        """
        now = time.monotonic()
        if not force and now - self._last_sync < self.sync_interval_s:
            return self.store_fresh
        self._last_sync = now
        self._gaps = {seq: t for seq, t in self._gaps.items() if now - t < _GAP_SECONDS}
        after = min([self._revision_seq, *self._gaps]) - 1 if self._gaps else self._revision_seq
        with _held(self.write_lock, self.store_timeout_s) as held:
            if not held:  # a write holds the lock while it waits on the store; pick revisions up next time
                return self.store_fresh and not force
            try:
                revisions = self.guard.call(self._sync_timeout_s, self.store.item_revisions, after)
                self._apply_revisions([r for r in revisions if r.seq not in self._applied])
            except StoreUnavailableError as exc:
                logger.warning("items added by other workers are not picked up: %s", exc.message)
                self.store_fresh = False
                return False
            self.store_fresh = True
            self._note_applied(revisions, now)
        return True

    def _note_applied(self, revisions: list[ItemRevision], now: float) -> None:
        """Record ``revisions`` as applied, and the numbers skipped before them as gaps to wait for."""
        for revision in revisions:
            seq = revision.seq
            self._applied.add(seq)
            self._gaps.pop(seq, None)
            if seq > self._revision_seq:
                missing = range(self._revision_seq + 1, seq)
                self._gaps.update({s: now for s in missing if s not in self._applied})
                self._revision_seq = seq

    def _apply(
        self, item_id: str, payload: dict[str, Any], vector: np.ndarray | None, parts: dict[str, np.ndarray] | None
    ) -> tuple[int, bool]:
        index, created = self.catalog.upsert(
            item_id, payload.get("title"), payload.get("poster"), payload.get("metadata")
        )
        if vector is not None and self.index is not None:
            self.index.upsert(index, vector)
            self.added_parts[index] = parts or {}
        return index, created

    def _apply_revisions(self, revisions: list[ItemRevision]) -> None:
        """Apply stored revisions in order, placing each item once (see :mod:`fusionrec.serve.revisions`)."""
        if not revisions:
            return
        plan = plan_placements(
            revisions,
            self._check_revision,
            lambda seqs: self.guard.call(self._sync_timeout_s, self.store.item_placements, self.model_key, seqs),
            self._placement,
        )
        if plan.computed:
            self.guard.write(self.store.add_item_placements, self.model_key, plan.computed)
        for revision in revisions:
            reason = plan.skipped.get(revision.seq)
            if reason is None:
                reason = self._apply_stored(revision, plan.winners.get(revision.item_id))
            if reason is not None:
                self.skipped_revisions[revision.seq] = f"item {revision.item_id!r}: {reason}"
                logger.warning("skipping stored revision %d of item %r: %s", revision.seq, revision.item_id, reason)

    def _placement(self, revision: ItemRevision) -> Placement:
        item_id = revision.item_id
        vector, parts = self.placer.place(item_id, revision.payload["features"], item_id in self.catalog)
        assert vector is not None  # features were given, so place placed the item or raised
        return Placement(revision.seq, vector, parts or {})

    def _check_revision(self, revision: ItemRevision) -> None:
        self.placer.require_content_model()
        self.placer.feature_inputs(revision.payload["features"])

    def _apply_stored(self, revision: ItemRevision, winner: Placement | None) -> str | None:
        """Apply one stored revision with its item's winning vector (once); returns why it was skipped, if it was."""
        item_id = revision.item_id
        if item_id not in self.catalog and winner is None:
            return f"new item {item_id!r} has no usable features in this or a later revision"
        if winner is not None and winner.seq <= self._placed_seq.get(item_id, -1):
            winner = None  # the item already has this vector, or a newer one (revisions can arrive out of order)
        vector, parts = (None, None) if winner is None else (winner.vector, winner.parts)
        self._apply(item_id, revision.payload, vector, parts)
        if winner is not None:
            self._placed_seq[item_id] = winner.seq
        return None


@contextmanager
def _held(lock: threading.Lock, timeout_s: float) -> Iterator[bool]:
    """Hold ``lock`` for the block if it can be had within ``timeout_s``; yields whether it was."""
    acquired = lock.acquire(timeout=timeout_s)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


__all__ = ["ItemUpdates", "ItemWrite"]
