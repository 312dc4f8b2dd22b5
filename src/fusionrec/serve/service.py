"""The recommendation service without HTTP: retrieval, online profiles, explanations and catalog updates.

One :class:`RecommendationService` holds a loaded artifact, its retrieval
index and the event store. A user's query vector is rebuilt on every
request from the trained vector and the user's stored events (see
:mod:`fusionrec.serve.profiles`), so an event recorded by any worker
counts for the next request. Items added through the service are stored
as revisions, with the vector the model gave them, and applied on
start-up without running the model again; other workers pick them up every
``sync_interval_s`` (see :mod:`fusionrec.serve.revisions`).

Forgetting a user (:meth:`RecommendationService.forget_user`) deletes
their events and leaves a tombstone in the store; the service keeps no
per-user state, so every worker stops using the user's events at its next
request, and the tombstone hides the user's trained vector and training
items while the user stays forgotten, and after a reactivation as long as
the served artifact predates the forget.

Every store call goes through a :class:`~fusionrec.serve.resilience.StoreGuard`
(a timeout and a circuit breaker). When the store does not answer, reads
are answered from the model alone and flagged ``degraded`` (the user's
recorded events and items other workers added meanwhile are missing), and
writes raise :class:`~fusionrec.serve.errors.StoreUnavailableError` (503).

Example:
    >>> service = RecommendationService.from_settings(ServeSettings(artifact="artifacts/ml100k"))  # doctest: +SKIP
    >>> service.recommend_user("196", k=5).items  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.models.base import ContentAware, top_k
from fusionrec.models.ease_channel import WithEaseChannel
from fusionrec.models.second_stage import WithSecondStage
from fusionrec.serve.catalog import ItemCatalog, ItemInfo
from fusionrec.serve.content import ContentEncoder, encode_payload
from fusionrec.serve.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    UnsupportedError,
)
from fusionrec.serve.index import ItemIndex
from fusionrec.serve.privacy import ForgetResult, Tombstone
from fusionrec.serve.profiles import event_weight, profile_vector
from fusionrec.serve.resilience import StoreGuard
from fusionrec.serve.revisions import plan_placements
from fusionrec.serve.store import EventStore, ItemRevision, NewEvent, Placement, StoredEvent
from fusionrec.serve.vectors import check_features, check_item_vector, vector_problem
from fusionrec.serve.words import WordedExplainer

if TYPE_CHECKING:
    from fusionrec.models.artifact import LoadedArtifact
    from fusionrec.serve.settings import ServeSettings

logger = logging.getLogger(__name__)

_GAP_SECONDS = 30.0  # how long a missing revision number is waited for (PostgreSQL commits out of order)
_DAY_SECONDS = 86_400.0
_FIRST_SYNC_TIMEOUT_S = 600.0  # the first sync reads every stored revision, later ones only the new


@dataclass
class Ranked:
    """Items best first: int64 (n,) indices, float32 (n,) scores, and how they were found.

    ``degraded`` is True when the event store could not be asked: the ranking
    comes from the model alone, without the user's recorded events or items
    other workers added since the last sync.
    """

    items: np.ndarray
    scores: np.ndarray
    strategy: str
    degraded: bool = False


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


@dataclass
class UserState:
    """What the service knows about a user at request time."""

    user_id: str
    index: int | None
    events: list[StoredEvent]
    history: list[int]
    seen: set[int]
    query: np.ndarray | None
    strategy: str
    degraded: bool = False


@dataclass
class Explanation:
    """Why ``item`` scores what it does for a user."""

    item: int
    score: float
    strategy: str
    method: str
    contributions: list[tuple[str, float]] = field(default_factory=list)
    because: list[tuple[int, float]] = field(default_factory=list)
    degraded: bool = False


class RecommendationService:
    """Serves one artifact.

    Args:
        loaded: the artifact (model, training split, stored vectors).
        store: the event store.
        settings: service settings (index, profile weight, limits).
    """

    def __init__(self, loaded: LoadedArtifact, store: EventStore, settings: ServeSettings) -> None:
        self.settings, self.store, self.model = settings, store, loaded.model
        self.manifest, self.artifact_path = loaded.manifest, str(loaded.path)
        dataset = loaded.split.dataset
        self.dataset, self.users = dataset, dataset.users
        self.catalog = ItemCatalog.from_dataset(dataset)
        self.media_root = settings.media_root or dataset.media_root
        self.train_matrix = loaded.split.train.to_csr()
        counts = np.asarray(self.train_matrix.sum(axis=0)).ravel()  # (n_items,) training popularity
        self.popularity, self.popular_order = counts.astype(np.float32), np.argsort(-counts, kind="stable")
        self.user_vectors, item_vectors = _vectors(loaded)
        self.index = None if item_vectors is None else ItemIndex(item_vectors, settings.index_options())
        # a model whose score adds EASE's item-item channel is ranked exactly: vectors' product plus the channel
        self.ease = self.model.ease_channel() if isinstance(self.model, WithEaseChannel) else None
        # a model with a second stage is ranked by its full score, the stage included
        model = self.model
        self.staged = model if isinstance(model, WithSecondStage) and model.second_stage() is not None else None
        self.content_aware = self.index is not None and isinstance(self.model, ContentAware)
        self.modality_parts = self.model.modality_item_vectors() if self.content_aware else None  # type: ignore[attr-defined]
        dims = {modality: values.shape[1] for modality, values in dataset.features.items()}
        columns = [] if dataset.item_table is None else [str(c) for c in dataset.item_table.columns]
        self.words = WordedExplainer(settings, self.catalog)
        self.content = ContentEncoder(loaded.encoders, dims, self.media_root, columns, settings.max_concurrent_images)
        self._added_parts: dict[int, dict[str, np.ndarray]] = {}
        self._write_lock = threading.Lock()
        self._applied: set[int] = set()
        self._gaps: dict[int, float] = {}
        self._revision_seq, self._last_sync = 0, 0.0
        self._trained_at = _epoch_seconds(self.manifest.get("created_at"))
        store.hasher.key("")  # reads (or makes) the id hash key now: a wrong key fails at start-up, not on a request
        self._next_purge = 0.0
        self.model_key = model_fingerprint(self.manifest)
        self._placed_seq: dict[str, int] = {}  # item -> seq of the revision its current vector comes from
        self.skipped_revisions: dict[int, str] = {}  # stored revisions not applied: seq -> reason
        self.guard = StoreGuard(settings.guard_options())
        self._store_fresh = True  # the last sync reached the store
        self._sync_timeout_s = _FIRST_SYNC_TIMEOUT_S
        if not self.sync(force=True):
            raise StoreUnavailableError("the event store's item revisions could not be read at start-up (see the log)")
        self._sync_timeout_s = settings.store_timeout_s
        self._purge_if_due()  # at start-up, then every retention_check_s

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> RecommendationService:
        """Load the artifact and open the store named in ``settings``."""
        from fusionrec.models.artifact import load_artifact

        key = settings.id_hash_key.get_secret_value() if settings.id_hash_key else None
        hide = settings.log_ids == "hashed"
        store = EventStore(
            settings.store_url,
            settings.table_prefix,
            id_hash_key=key,
            hide_parameters=hide,
            timeout_s=settings.store_write_timeout_s,
        )
        return cls(load_artifact(settings.artifact), store, settings)

    # --- reading -----------------------------------------------------------------------------------

    def user_state(self, user_id: str) -> UserState:
        """The user's training items, events and query vector right now (without events when the store fails)."""
        events = self._recent_events(user_id) if self.sync() else None
        self._purge_if_due()
        found = int(self.users.index_or_missing([user_id])[0])
        index = found if found >= 0 and not self._forgotten_since_training([user_id]) else None
        degraded, events = events is None, events or []
        trained = [] if index is None else self.trained_items(index)
        event_items = [self.catalog.index_of(e.item_id) for e in events]
        pairs = [(e, i) for e, i in zip(events, event_items, strict=True) if i is not None]
        history = trained + [i for e, i in pairs if event_weight(e.kind, e.value) > 0]
        seen = set(trained) | {i for _, i in pairs}
        trained_user = bool(trained)  # a user in the vocabulary without training items has an untrained vector
        base = self.user_vectors[index] if trained_user and self.user_vectors is not None else None  # type: ignore[index]
        query = base
        if self.index is not None and pairs:
            weights = np.array([event_weight(e.kind, e.value) for e, _ in pairs])
            profile = profile_vector(base, self.index.vectors(np.array([i for _, i in pairs])), weights, self._half)
            query = _usable_query(profile, base, f"user {user_id!r}")
        if query is not None:
            strategy = "profile" if pairs else "model"
        else:
            strategy = "model" if trained_user and self.index is None else "popularity"
        return UserState(user_id, index, events, history, seen, query, strategy, degraded)

    def _recent_events(self, user_id: str) -> list[StoredEvent] | None:
        """The user's latest events, or None when the store does not answer."""
        try:
            return self.guard.read(self.store.user_events, user_id, self.settings.max_user_events)
        except StoreUnavailableError as exc:
            logger.warning("answering without the user's events: %s", exc.message)
            # the store just failed: the next sync waits its interval rather than make this request wait again
            self._store_fresh, self._last_sync = False, time.monotonic()
            return None

    def _indices(self, item_ids: list[str], *, source: str) -> np.ndarray:
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

    def trained_items(self, user: int) -> list[int]:
        """Item indices of the user's training interactions."""
        start, end = self.train_matrix.indptr[user], self.train_matrix.indptr[user + 1]
        return self.train_matrix.indices[start:end].tolist()

    @property
    def _half(self) -> float:
        return self.settings.profile_half_weight

    def recommend_user(self, user_id: str, k: int, exclude: list[str] | None = None) -> Ranked:
        """Top-``k`` items for ``user_id``; seen items and ``exclude`` are never returned."""
        state = self.user_state(user_id)
        excluded = state.seen | set(self._indices(exclude or [], source="exclude").tolist())
        if state.query is not None and self.index is not None:
            items, scores = self._search(state.query, state.history, k, excluded)
            return Ranked(items, scores, state.strategy, state.degraded)
        if state.strategy == "model" and state.index is not None:  # a model without embeddings scores the user
            return replace(self._model_scores(state.index, k, excluded), degraded=state.degraded)
        return replace(self.popular(k, excluded), degraded=state.degraded)

    def recommend_history(self, history: list[str], k: int, exclude: list[str] | None = None) -> Ranked:
        """Top-``k`` items for an ad-hoc history of item ids (a visitor with no account)."""
        index = self._require_index("rank items for an ad-hoc history")
        degraded = not self.sync()
        items = self._indices(history, source="history")
        excluded = set(items.tolist()) | set(self._indices(exclude or [], source="exclude").tolist())
        profile = profile_vector(None, index.vectors(items), np.ones(len(items)), self._half)
        query = _usable_query(profile, None, f"a history of {len(items)} item(s)")
        if query is None:
            return replace(self.popular(k, excluded), degraded=degraded)
        found, scores = self._search(query, items.tolist(), k, excluded)
        return Ranked(found, scores, "history", degraded)

    def recommend_preference(
        self, preference: str, k: int, history: list[str] | None = None, exclude: list[str] | None = None
    ) -> Ranked:
        """Top-``k`` items for a visitor's free-text preference, alone or with an ad-hoc history.

        The text is encoded by the artifact's text encoder and placed in the model's space exactly as a new
        item described only by that text would be (:meth:`~fusionrec.models.base.ContentAware.content_item_vectors`);
        with a history, the unit preference vector and the unit history profile are added.
        """
        index = self._require_index("rank items for a free-text preference")
        self._require_content_model()
        degraded = not self.sync()
        encoded = self.content.encode_preference(preference)
        if not encoded.features:
            reasons = "; ".join(f"{m}: {r}" for m, r in encoded.masked.items())
            raise InvalidInputError(f"the preference {preference[:80]!r} could not be encoded ({reasons})")
        values, masks = self._feature_inputs(encoded.features)
        vector = np.asarray(self.model.content_item_vectors(values, masks)[0], dtype=np.float32)  # type: ignore[attr-defined]
        items = self._indices(history or [], source="history")
        excluded = set(items.tolist()) | set(self._indices(exclude or [], source="exclude").tolist())
        query = vector / max(float(np.linalg.norm(vector)), 1e-12)
        if len(items):
            profile = profile_vector(None, index.vectors(items), np.ones(len(items)), self._half)
            if profile is not None:
                query = query + profile / max(float(np.linalg.norm(profile)), 1e-12)
        usable = _usable_query(query, None, "a free-text preference")
        if usable is None:
            return replace(self.popular(k, excluded), degraded=degraded)
        found, scores = self._search(usable, items.tolist(), k, excluded)
        return Ranked(found, scores, "preference", degraded)

    def similar(self, item_id: str, k: int) -> Ranked:
        """The ``k`` items that score highest for a profile made of ``item_id`` alone."""
        index = self._require_index("find similar items")
        degraded = not self.sync()
        item = int(self._indices([item_id], source="similar items")[0])
        found, scores = self._search(index.vectors(np.array([item]))[0], [item], k, {item})
        return Ranked(found, scores, "similar", degraded)

    def _search(
        self, query: np.ndarray, history: list[int], k: int, exclude: set[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (items, scores) for a query vector: the index's search, or with an EASE channel, exact
        scores of every item plus the channel of ``history`` (the model's own score for that history), or
        with a second stage, the model's full score (its candidates lifted above the rest in its order)."""
        assert self.index is not None
        if self.staged is not None:
            items = self.index.vectors(np.arange(self.index.n_items))  # the catalog as it is now
            seen = np.array(sorted(exclude), dtype=np.int64)
            scores = self.staged.query_scores(query, items, np.array(history, dtype=np.int64), seen)
        elif self.ease is None or not history:
            return self.index.search(query, k, exclude)
        else:
            scores = self.index.scores(query)  # (n,): the catalog as it is now, though another thread may add items
            scores += self.ease.history_scores(np.array(history), len(scores))
        scores[[i for i in exclude if i < len(scores)]] = -np.inf
        top = top_k(scores[None], k)[0]
        top = top[np.isfinite(scores[top])]
        return top.astype(np.int64), scores[top].astype(np.float32)

    def popular(self, k: int, exclude: set[int]) -> Ranked:
        """The most-trained items, skipping ``exclude`` (the fallback for users with no history)."""
        picked = []
        for item in self.popular_order:
            if int(item) not in exclude:
                picked.append(int(item))
                if len(picked) == k:
                    break
        items = np.array(picked, dtype=np.int64)
        return Ranked(items, self.popularity[items], "popularity")

    def _model_scores(self, user: int, k: int, exclude: set[int]) -> Ranked:
        scores = self.model.score_users(np.array([user]))[:, : self.catalog.n_trained].astype(np.float32)  # (1, n)
        if exclude:
            scores[0, [i for i in exclude if i < scores.shape[1]]] = -np.inf
        top = top_k(scores, k)[0]
        top = top[np.isfinite(scores[0, top])]
        return Ranked(top.astype(np.int64), scores[0, top], "model")

    def check_model(self) -> str:
        """``ok`` when the model ranks the first trained user's top item with a finite score, else why not.

        The same scoring path requests take, without the store (whose check is separate).
        """
        try:
            if self.index is not None and self.user_vectors is not None and len(self.user_vectors):
                _, scores = self._search(self.user_vectors[0], self.trained_items(0), 1, set())
            else:
                scores = self._model_scores(0, 1, set()).scores
        except Exception as exc:  # any failure of the model is what this check reports
            logger.exception("the model failed its readiness check")
            return f"failing: {type(exc).__name__}: {exc}"
        if len(scores) != 1 or not np.isfinite(scores).all():
            return f"failing: a scoring call gave {scores.tolist()} instead of one finite score"
        return "ok"

    def _require_index(self, what: str) -> ItemIndex:
        if self.index is None:
            raise UnsupportedError(
                f"the served model {self.manifest.get('component')} has no item embeddings, so it cannot {what}; "
                "serve an embedding model (e.g. bpr, lightgcn or a multimodal model) for this route"
            )
        return self.index

    def explain(self, user_id: str, item_id: str, n_because: int = 3) -> Explanation:
        """Each modality's share of the item's score for the user, and the history items closest to it."""
        index = self._require_index("explain a score")
        item = int(self._indices([item_id], source="explanation")[0])
        state = self.user_state(user_id)
        if state.query is None:
            popularity = float(self.popularity[item]) if item < len(self.popularity) else 0.0
            return Explanation(item, popularity, "popularity", "popularity", degraded=state.degraded)
        vector = index.vectors(np.array([item]))[0]
        contributions, method = self._contributions(state.query, item, vector)
        score = float(state.query @ vector)
        if self.ease is not None and state.history:  # the EASE channel's part of the score
            channel = float(self.ease.history_scores(np.array(state.history), index.n_items)[item])
            contributions.append(("co-occurrence", channel))
            score += channel
        because = self._because(state.history, item, vector, n_because)
        return Explanation(item, score, state.strategy, method, contributions, because, state.degraded)

    def _contributions(self, query: np.ndarray, item: int, vector: np.ndarray) -> tuple[list[tuple[str, float]], str]:
        if item in self._added_parts:
            return [(m, float(query @ part)) for m, part in self._added_parts[item].items()], "occlusion"
        if self.modality_parts is not None and item < self.catalog.n_trained:
            return [(m, float(query @ parts[item])) for m, parts in self.modality_parts.items()], "decomposition"
        return [("id", float(query @ vector))], "total"

    def _because(self, history: list[int], item: int, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        assert self.index is not None
        candidates = np.array(sorted(set(history) - {item}), dtype=np.int64)
        if not len(candidates) or n < 1:
            return []
        vectors = self.index.vectors(candidates)  # (m, d)
        norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(vector)), 1e-12)
        cosine = vectors @ vector / np.maximum(norms, 1e-12)
        best = np.argsort(-cosine, kind="stable")[:n]
        return [(int(candidates[b]), float(cosine[b])) for b in best]

    def item(self, item_id: str) -> ItemInfo:
        """Display fields of ``item_id``."""
        return self.catalog.info(int(self._indices([item_id], source="item")[0]))

    def user_ids(self, offset: int, limit: int) -> tuple[int, list[str]]:
        """The number of trained users and a page of their ids (forgotten users are left out of the page)."""
        page = list(self.users.ids[offset : offset + limit])
        hidden = self._forgotten_since_training(page)
        return len(self.users), [user_id for user_id in page if user_id not in hidden]

    def _forgotten_since_training(self, user_ids: list[str]) -> set[str]:
        """Those of ``user_ids`` whose training is not used: forgotten now, or after the artifact was built."""
        if not self._store_fresh:  # the store just failed: this request does not wait on it again
            return set()
        try:
            tombstones = self.guard.read(self.store.tombstones_of, user_ids).items()
        except StoreUnavailableError as exc:  # availability first: an outage does not hide every trained user
            logger.warning("forgotten users cannot be checked while the store is unavailable: %s", exc.message)
            return set()
        return {user_id for user_id, t in tombstones if t.active or t.forgotten_at >= self._trained_at}

    # --- writing -----------------------------------------------------------------------------------

    def record_event(self, event: NewEvent) -> tuple[StoredEvent, bool]:
        """Store a user event (its item must be in the catalog); returns ``(stored, replayed)``."""
        self._indices([event.item_id], source="event")
        stored, replayed = self.guard.write(self.store.record_event, event)
        if replayed and not event.same_as(stored):
            raise ConflictError(
                f"idempotency key {event.idempotency_key!r} was already used for event {stored.id} "
                f"(user {stored.user_id!r}, item {stored.item_id!r}, {stored.kind}); use a new key for a new event"
            )
        return stored, replayed

    def upsert_item(self, item_id: str, payload: dict[str, Any]) -> ItemWrite:
        """Add or update an item from ``{title, poster, metadata, features, content}``.

        Raw ``content`` is encoded first and stored as the features it gave, so
        other workers and restarts replay the item without encoding it again.
        """
        if payload.get("content"):
            self._require_content_model()
        payload, masked = encode_payload(self.content, item_id, payload)
        features = payload.get("features")
        vector, parts = self._place(item_id, features)
        with self._write_lock:
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

    def _apply(
        self, item_id: str, payload: dict[str, Any], vector: np.ndarray | None, parts: dict[str, np.ndarray] | None
    ) -> tuple[int, bool]:
        index, created = self.catalog.upsert(
            item_id, payload.get("title"), payload.get("poster"), payload.get("metadata")
        )
        if vector is not None and self.index is not None:
            self.index.upsert(index, vector)
            self._added_parts[index] = parts or {}
        return index, created

    def _place(
        self, item_id: str, features: dict[str, list[float]] | None
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray] | None]:
        """float32 (d,) vector of an item from content features, and the part each modality adds."""
        exists = item_id in self.catalog
        if features or not exists:
            self._require_content_model()
        if not features:
            if exists:
                return None, None
            raise InvalidInputError(
                f"new item {item_id!r} needs content features for at least one of {self.dataset.modalities}"
            )
        values, masks = self._feature_inputs(features)
        model: Any = self.model
        vector = model.content_item_vectors(values, masks)[0]
        check_item_vector(item_id, vector, {})
        parts = {}
        for modality in features:
            without = model.content_item_vectors(values, {**masks, modality: np.zeros(1, bool)})[0]
            with np.errstate(invalid="ignore", over="ignore"):  # a non-finite part is refused just below
                parts[modality] = (vector - without).astype(np.float32)  # what this modality adds (occlusion)
        check_item_vector(item_id, vector, parts)
        return vector.astype(np.float32), parts

    def _require_content_model(self) -> None:
        if not self.content_aware:
            raise UnsupportedError(
                f"the served model {self.manifest.get('component')} cannot place new items or new content: it does "
                "not implement ContentAware (content_item_vectors). Update only title/poster/metadata of known "
                "items, or serve a multimodal model"
            )

    def _feature_inputs(self, features: dict[str, list[float]]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        known = self.dataset.features
        unknown = sorted(set(features) - set(known))
        if unknown:
            raise InvalidInputError(f"features {unknown} are not modalities of the model; use {sorted(known)}")
        values, masks = {}, {}
        for modality, table in known.items():
            given = features.get(modality)
            row = np.zeros((1, table.shape[1])) if given is None else np.asarray([given], np.float64)  # (1, d_m)
            if row.shape[1] != table.shape[1]:
                raise InvalidInputError(
                    f"features[{modality!r}] has {row.shape[1]} values; the model's {modality} features have "
                    f"{table.shape[1]}"
                )
            check_features(modality, row)  # before float32, where 1e39 would already be inf
            row = row.astype(np.float32)
            values[modality], masks[modality] = row, np.array([given is not None])
        return values, masks

    def sync(self, force: bool = False) -> bool:
        """Apply item revisions written by other workers since the last sync (at most every ``sync_interval_s``).

        Returns:
            False when the store could not be read (the catalog stays as it was): this sync or, when it
            was skipped for the interval, the last one; a forced sync that could not run is False too.
        """
        now = time.monotonic()
        if not force and now - self._last_sync < self.settings.sync_interval_s:
            return self._store_fresh
        self._last_sync = now
        self._gaps = {seq: t for seq, t in self._gaps.items() if now - t < _GAP_SECONDS}
        after = min([self._revision_seq, *self._gaps]) - 1 if self._gaps else self._revision_seq
        with _held(self._write_lock, self.settings.store_timeout_s) as held:
            if not held:  # a write holds the lock while it waits on the store; pick revisions up next time
                return self._store_fresh and not force
            try:
                revisions = self.guard.call(self._sync_timeout_s, self.store.item_revisions, after)
                self._apply_revisions([r for r in revisions if r.seq not in self._applied])
            except StoreUnavailableError as exc:
                logger.warning("items added by other workers are not picked up: %s", exc.message)
                self._store_fresh = False
                return False
            self._store_fresh = True
            for revision in revisions:
                seq = revision.seq
                self._applied.add(seq)
                self._gaps.pop(seq, None)
                if seq > self._revision_seq:
                    missing = range(self._revision_seq + 1, seq)
                    self._gaps.update({s: now for s in missing if s not in self._applied})
                    self._revision_seq = seq
        return True

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
        vector, parts = self._place(revision.item_id, revision.payload["features"])
        assert vector is not None  # features were given, so _place placed the item or raised
        return Placement(revision.seq, vector, parts or {})

    def _check_revision(self, revision: ItemRevision) -> None:
        self._require_content_model()
        self._feature_inputs(revision.payload["features"])

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

    # --- privacy -----------------------------------------------------------------------------------

    def forget_user(self, user_id: str, source: str = "api") -> ForgetResult:
        """Delete the user's events and refuse new ones (see :meth:`EventStore.forget_user`).

        Nothing per user is cached in a worker (profiles are rebuilt from the
        store on every request), so there is no in-memory state to drop here.
        """
        result = self.guard.write(functools.partial(self.store.forget_user, user_id, source=source))
        state = "was already forgotten" if result.already_forgotten else "forgotten"
        logger.info("user %s %s: %d events removed", self.log_id(user_id), state, result.events_removed)
        return result

    def reactivate_user(self, user_id: str) -> Tombstone | None:
        """Accept events for a forgotten user again; the tombstone as it was, or None if never forgotten."""
        tombstone = self.guard.write(self.store.reactivate_user, user_id)
        if tombstone is not None and tombstone.active:
            logger.info("user %s reactivated: events are accepted again", self.log_id(user_id))
        return tombstone

    def purge_expired_events(self, now: float | None = None) -> int:
        """Delete events older than ``event_retention_days`` (none when it is unset); returns how many."""
        days = self.settings.event_retention_days
        if days is None:
            return 0
        removed = self.store.purge_events((time.time() if now is None else now) - days * _DAY_SECONDS)
        if removed:
            logger.info("deleted %d events older than %g days (event retention)", removed, days)
        return removed

    def _purge_if_due(self) -> None:
        if self.settings.event_retention_days is None or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self.settings.retention_check_s
        try:
            self.guard.write(self.purge_expired_events)
        except StoreUnavailableError as exc:
            logger.warning("old events were not purged (next try in %.0f s): %s", self.settings.retention_check_s, exc)

    def log_id(self, user_id: str) -> str:
        """How ``user_id`` appears in logs: its hash label unless ``log_ids`` is ``plain``."""
        return user_id if self.settings.log_ids == "plain" else self.store.hasher.label(user_id)

    def close(self) -> None:
        self.guard.close(wait_s=self.settings.store_write_timeout_s)
        self.store.close()


def _epoch_seconds(timestamp: Any) -> float:
    """An artifact's ISO ``created_at`` as seconds since the epoch; -inf when missing (assume oldest)."""
    try:
        return datetime.fromisoformat(str(timestamp)).timestamp() if timestamp else float("-inf")
    except ValueError:
        return float("-inf")


def model_fingerprint(manifest: dict[str, Any]) -> str:
    """A key of the served model's files: vectors stored under it are valid for this artifact only."""
    files = manifest.get("files") or {"component": manifest.get("component"), "created_at": manifest.get("created_at")}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:32]


def _usable_query(query: np.ndarray | None, fallback: np.ndarray | None, whose: str) -> np.ndarray | None:
    """``query`` when it can be searched with, else ``fallback`` (the trained vector, or None for popularity).

    Indexed vectors are checked, so this should never fall back; if it does, the ranking degrades to the
    fallback rather than to an empty list of NaN scores, and the log says so.
    """
    problem = None if query is None else vector_problem(query)
    if problem is None:
        return query
    logger.error("the query vector of %s is unusable (%s); ranking with its fallback instead", whose, problem)
    return fallback


@contextmanager
def _held(lock: threading.Lock, timeout_s: float) -> Iterator[bool]:
    """Hold ``lock`` for the block if it can be had within ``timeout_s``; yields whether it was."""
    acquired = lock.acquire(timeout=timeout_s)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


def _vectors(loaded: LoadedArtifact) -> tuple[np.ndarray | None, np.ndarray | None]:
    """float32 (n_users, d) and (n_items, d) vectors: stored in the artifact, else asked of the model."""
    if loaded.user_vectors is not None and loaded.item_vectors is not None:
        return loaded.user_vectors, loaded.item_vectors
    items = loaded.model.item_embeddings()
    users = loaded.model.user_embeddings(np.arange(loaded.split.n_users))
    if items is None or users is None:
        return None, None
    return np.asarray(users, np.float32), np.asarray(items, np.float32)


__all__ = ["Explanation", "ItemWrite", "Ranked", "RecommendationService", "UserState"]
