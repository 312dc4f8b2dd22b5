"""The recommendation service without HTTP: one artifact served over the event store.

:class:`RecommendationService` is a small facade over its parts:

* :mod:`fusionrec.serve.ranking`: the one ranking path every request takes
  (a query in; exclusion, top-k, the model's add-ons and the popularity
  fallback in one place);
* :mod:`fusionrec.serve.user_state`: a user's query vector, rebuilt on every
  request from the trained vector and the user's stored events, and the
  privacy actions (forget, reactivate, event retention);
* :mod:`fusionrec.serve.item_updates` and :mod:`fusionrec.serve.placement`:
  items added through the service (placed from content, stored as
  revisions with their vector) and the revisions other workers stored,
  applied every ``sync_interval_s``;
* :mod:`fusionrec.serve.explanations`: each modality's share of a score;
* :mod:`fusionrec.serve.rebuilt_profiles`: users' written profiles rebuilt
  from their events in the background, for a model that reads user content.

This module makes the query of each kind of request: a user's profile, an
ad-hoc history, a free-text preference (placed like a new item's text), or
one item for similar items.

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

import hashlib
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.models.artifact import LoadedArtifact, load_artifact
from fusionrec.serve.catalog import ItemCatalog, ItemInfo
from fusionrec.serve.content import ContentEncoder
from fusionrec.serve.errors import ConflictError, InvalidInputError, UnsupportedError
from fusionrec.serve.explanations import Explainer, Explanation
from fusionrec.serve.index import ItemIndex
from fusionrec.serve.item_updates import ItemUpdates, ItemWrite
from fusionrec.serve.placement import ItemPlacer
from fusionrec.serve.privacy import ForgetResult, Tombstone
from fusionrec.serve.profiles import profile_vector
from fusionrec.serve.ranking import Ranked, Ranker, RankQuery, usable_query
from fusionrec.serve.rebuilt_profiles import ProfileView, RebuiltProfiles
from fusionrec.serve.resilience import StoreGuard
from fusionrec.serve.store import EventStore, NewEvent, StoredEvent
from fusionrec.serve.user_rebuild import NO_USER_CONTENT, profile_builder
from fusionrec.serve.user_state import UserState, UserStates
from fusionrec.serve.words import WordedExplainer

if TYPE_CHECKING:
    from fusionrec.serve.settings import ServeSettings

logger = logging.getLogger(__name__)


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
        train_matrix = loaded.split.train.to_csr()
        self.user_vectors, item_vectors = _vectors(loaded)
        self.index = None if item_vectors is None else ItemIndex(item_vectors, settings.index_options())
        counts = np.asarray(train_matrix.sum(axis=0)).ravel()  # (n_items,) training popularity
        self.ranker = Ranker(self.model, self.index, counts, self.catalog.n_trained)
        self.placer = ItemPlacer(self.model, dataset, self.index is not None, self.manifest.get("component"))
        self.content_aware = self.placer.content_aware
        dims = {modality: values.shape[1] for modality, values in dataset.features.items()}
        columns = [] if dataset.item_table is None else [str(c) for c in dataset.item_table.columns]
        self.words = WordedExplainer(settings, self.catalog)
        self.content = ContentEncoder(loaded.encoders, dims, self.media_root, columns, settings.max_concurrent_images)
        store.hasher.key("")  # reads (or makes) the id hash key now: a wrong key fails at start-up, not on a request
        self.model_key = model_fingerprint(self.manifest)
        self.guard = StoreGuard(settings.guard_options())
        self.updates = ItemUpdates(
            store,
            self.guard,
            self.catalog,
            self.index,
            self.placer,
            self.content,
            self.model_key,
            settings.sync_interval_s,
            settings.store_timeout_s,
        )
        self.states = UserStates(
            store,
            self.guard,
            settings,
            self.users,
            train_matrix,
            self.user_vectors,
            self.catalog,
            self.index,
            self.updates,
            trained_at=_epoch_seconds(self.manifest.get("created_at")),
        )
        builder, why_not = profile_builder(loaded, self.catalog, self.words.generator)
        trained_content = loaded.split.user_content if why_not != NO_USER_CONTENT else None
        self.profiles = RebuiltProfiles(
            store, self.guard, settings, self.states, builder, self.model_key, why_not, trained_content
        )
        self.states.profiles = self.profiles if self.profiles.enabled else None
        parts = self.model.modality_item_vectors() if self.content_aware else None  # type: ignore[attr-defined]
        self.explainer = None
        if self.index is not None:
            self.explainer = Explainer(self.index, self.ranker, parts, self.updates.added_parts, self.catalog.n_trained)
        self.updates.first_sync()
        self.states.purge_if_due()  # at start-up, then every retention_check_s

    @classmethod
    def from_settings(cls, settings: ServeSettings) -> RecommendationService:
        """Load the artifact and open the store named in ``settings``."""
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

    @property
    def trained_at(self) -> float | None:
        """When the served artifact was built, in seconds since the epoch; None when it does not say."""
        at = self.states.trained_at
        return at if np.isfinite(at) else None

    @property
    def skipped_revisions(self) -> dict[int, str]:
        """Stored item revisions this worker could not apply: seq -> reason."""
        return self.updates.skipped_revisions

    # --- ranking -----------------------------------------------------------------------------------

    def recommend_user(self, user_id: str, k: int, exclude: list[str] | None = None) -> Ranked:
        """Top-``k`` items for ``user_id``; seen items and ``exclude`` are never returned."""
        state = self.user_state(user_id)
        excluded = frozenset(state.seen | set(self._indices(exclude or [], source="exclude").tolist()))
        user = state.index if state.strategy == "model" else None  # scored by the model without item vectors
        query = RankQuery(state.strategy, state.query, tuple(state.history), excluded, user, state.degraded)
        return self.ranker.rank(query, k)

    def recommend_history(self, history: list[str], k: int, exclude: list[str] | None = None) -> Ranked:
        """Top-``k`` items for an ad-hoc history of item ids (a visitor with no account)."""
        index = self._require_index("rank items for an ad-hoc history")
        degraded = not self.sync()
        items = self._indices(history, source="history")
        excluded = frozenset(items.tolist()) | frozenset(self._indices(exclude or [], source="exclude").tolist())
        profile = profile_vector(None, index.vectors(items), np.ones(len(items)), self._half)
        vector = usable_query(profile, None, f"a history of {len(items)} item(s)")
        return self.ranker.rank(RankQuery("history", vector, tuple(items.tolist()), excluded, None, degraded), k)

    def recommend_preference(
        self, preference: str, k: int, history: list[str] | None = None, exclude: list[str] | None = None
    ) -> Ranked:
        """Top-``k`` items for a visitor's free-text preference, alone or with an ad-hoc history.

        The text is encoded by the artifact's text encoder and placed in the model's space exactly as a new
        item described only by that text would be (:meth:`~fusionrec.models.base.ContentAware.content_item_vectors`);
        with a history, the unit preference vector and the unit history profile are added.
        """
        index = self._require_index("rank items for a free-text preference")
        self.placer.require_content_model()
        degraded = not self.sync()
        encoded = self.content.encode_preference(preference)
        if not encoded.features:
            reasons = "; ".join(f"{m}: {r}" for m, r in encoded.masked.items())
            raise InvalidInputError(f"the preference {preference[:80]!r} could not be encoded ({reasons})")
        vector = self.placer.content_vector(encoded.features)
        items = self._indices(history or [], source="history")
        excluded = frozenset(items.tolist()) | frozenset(self._indices(exclude or [], source="exclude").tolist())
        query = vector / max(float(np.linalg.norm(vector)), 1e-12)
        if len(items):
            profile = profile_vector(None, index.vectors(items), np.ones(len(items)), self._half)
            if profile is not None:
                query = query + profile / max(float(np.linalg.norm(profile)), 1e-12)
        usable = usable_query(query, None, "a free-text preference")
        return self.ranker.rank(RankQuery("preference", usable, tuple(items.tolist()), excluded, None, degraded), k)

    def similar(self, item_id: str, k: int) -> Ranked:
        """The ``k`` items that score highest for a profile made of ``item_id`` alone."""
        index = self._require_index("find similar items")
        degraded = not self.sync()
        item = int(self._indices([item_id], source="similar items")[0])
        vector = index.vectors(np.array([item]))[0]
        return self.ranker.rank(RankQuery("similar", vector, (item,), frozenset({item}), None, degraded), k)

    def check_model(self) -> str:
        """``ok`` when the model ranks the first trained user's top item with a finite score, else why not.

        The same ranking path requests take, without the store (whose check is separate).
        """
        vectors = self.user_vectors
        vector = vectors[0] if self.index is not None and vectors is not None and len(vectors) else None
        try:
            scores = self.ranker.rank(RankQuery("model", vector, tuple(self.trained_items(0)), user=0), 1).scores
        except Exception as exc:  # any failure of the model is what this check reports
            logger.exception("the model failed its readiness check")
            return f"failing: {type(exc).__name__}: {exc}"
        if len(scores) != 1 or not np.isfinite(scores).all():
            return f"failing: a scoring call gave {scores.tolist()} instead of one finite score"
        return "ok"

    def explain(self, user_id: str, item_id: str, n_because: int = 3) -> Explanation:
        """Each modality's share of the item's score for the user, and the history items closest to it."""
        self._require_index("explain a score")
        assert self.explainer is not None  # made whenever there is an index
        item = int(self._indices([item_id], source="explanation")[0])
        return self.explainer.explain(self.user_state(user_id), item, n_because)

    # --- users -------------------------------------------------------------------------------------

    def user_state(self, user_id: str) -> UserState:
        """The user's training items, events and query vector right now (without events when the store fails)."""
        return self.states.state(user_id)

    def trained_items(self, user: int) -> list[int]:
        """Item indices of the user's training interactions."""
        return self.states.trained_items(user)

    def user_ids(self, offset: int, limit: int) -> tuple[int, list[str]]:
        """The number of trained users and a page of their ids (forgotten users are left out of the page)."""
        return self.states.user_ids(offset, limit)

    def forget_user(self, user_id: str, source: str = "api") -> ForgetResult:
        """Delete the user's events and refuse new ones (see :meth:`UserStates.forget_user`)."""
        return self.states.forget_user(user_id, source)

    def reactivate_user(self, user_id: str) -> Tombstone | None:
        """Accept events for a forgotten user again; the tombstone as it was, or None if never forgotten."""
        return self.states.reactivate_user(user_id)

    def purge_expired_events(self, now: float | None = None) -> int:
        """Delete events older than ``event_retention_days`` (none when it is unset); returns how many."""
        return self.states.purge_expired_events(now)

    def log_id(self, user_id: str) -> str:
        """How ``user_id`` appears in logs: its hash label unless ``log_ids`` is ``plain``."""
        return self.states.log_id(user_id)

    # --- items and events --------------------------------------------------------------------------

    def item(self, item_id: str) -> ItemInfo:
        """Display fields of ``item_id``."""
        return self.catalog.info(int(self._indices([item_id], source="item")[0]))

    def record_event(self, event: NewEvent) -> tuple[StoredEvent, bool]:
        """Store a user event (its item must be in the catalog); returns ``(stored, replayed)``."""
        self._indices([event.item_id], source="event")
        stored, replayed = self.guard.write(self.store.record_event, event)
        if replayed and not event.same_as(stored):
            raise ConflictError(
                f"idempotency key {event.idempotency_key!r} was already used for event {stored.id} "
                f"(user {stored.user_id!r}, item {stored.item_id!r}, {stored.kind}); use a new key for a new event"
            )
        if not replayed:
            self.profiles.after_event(stored)  # queued: the profile is rebuilt after this request answers
        return stored, replayed

    def user_profile(self, user_id: str) -> ProfileView:
        """The user's written profile as served now (training or rebuilt from events) and its rebuild state."""
        return self.profiles.view(user_id)

    def upsert_item(self, item_id: str, payload: dict[str, Any]) -> ItemWrite:
        """Add or update an item from ``{title, poster, metadata, features, content}`` (see :class:`ItemUpdates`)."""
        return self.updates.upsert(item_id, payload)

    def sync(self, force: bool = False) -> bool:
        """Apply item revisions other workers stored (see :meth:`ItemUpdates.sync`); False when the store failed."""
        return self.updates.sync(force)

    def close(self) -> None:
        self.profiles.close()
        self.guard.close(wait_s=self.settings.store_write_timeout_s)
        self.store.close()

    # --- helpers -----------------------------------------------------------------------------------

    @property
    def _half(self) -> float:
        return self.settings.profile_half_weight

    def _indices(self, item_ids: list[str], *, source: str) -> np.ndarray:
        return self.updates.indices(item_ids, source=source)

    def _require_index(self, what: str) -> ItemIndex:
        if self.index is None:
            raise UnsupportedError(
                f"the served model {self.manifest.get('component')} has no item embeddings, so it cannot {what}; "
                "serve an embedding model (e.g. bpr, lightgcn or a multimodal model) for this route"
            )
        return self.index


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


def _vectors(loaded: LoadedArtifact) -> tuple[np.ndarray | None, np.ndarray | None]:
    """float32 (n_users, d) and (n_items, d) vectors: stored in the artifact, else asked of the model."""
    if loaded.user_vectors is not None and loaded.item_vectors is not None:
        return loaded.user_vectors, loaded.item_vectors
    items = loaded.model.item_embeddings()
    users = loaded.model.user_embeddings(np.arange(loaded.split.n_users))
    if items is None or users is None:
        return None, None
    return np.asarray(users, np.float32), np.asarray(items, np.float32)


__all__ = [
    "Explanation",
    "ItemWrite",
    "Ranked",
    "RecommendationService",
    "UserState",
    "model_fingerprint",
]
