"""Rebuilding a user's written profile from their training history and the events recorded since training.

When the served model reads user content (a flagship trained with user
profiles, :class:`~fusionrec.models.base.UserContentAware`), a user's
trained vector holds the profile written at training time. After events,
:class:`UserProfileBuilder` writes the profile again as training did:

1. the history: the user's events (newest first; dislikes and ratings
   under 3 left out of what they like) in front of their training items
   (highest rated, then latest, first), one entry per item, at most
   ``max_items``, described by the catalog's title and genres;
2. the text: the configured generator with the ``user_profile`` prompt
   (:func:`~fusionrec.llm.user_profiles.user_profile_request`), else the
   template sentence (:func:`~fusionrec.llm.user_template.template_user_profile`);
3. the content: the text embedded by the encoder that made the artifact's
   user content (its ``experiment.json`` ``[user_profiles] encoder``, else
   the artifact's text encoder when its size matches);
4. the vector: the model's user vector with that content
   (``content_user_vectors``), items and other users unchanged.

Anything that fails raises :class:`RebuildError` with the reason; the caller
keeps the old profile.

Example:
    >>> builder, why_not = profile_builder(loaded, catalog, generator=None)  # doctest: +SKIP
    >>> builder.build("196", 0, events).text  # doctest: +SKIP
    'Likes Star Wars (1977), ...; mostly Action, Sci-Fi.'
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.encoders.config import EncoderSpec
from fusionrec.errors import ConfigError, FusionrecError
from fusionrec.llm.prompts import load_prompt
from fusionrec.llm.user_profiles import MAX_HISTORY_ITEMS, UserProfile, training_order, user_profile_request
from fusionrec.llm.user_template import merged_history, template_user_profile
from fusionrec.models.base import UserContentAware
from fusionrec.models.manifest import EXPERIMENT
from fusionrec.serve.content import encode_text
from fusionrec.serve.profile_store import UserProfileRecord
from fusionrec.serve.profiles import event_weight

if TYPE_CHECKING:
    from fusionrec.llm.base import Generator
    from fusionrec.models.artifact import LoadedArtifact
    from fusionrec.models.base import Recommender
    from fusionrec.serve.catalog import ItemCatalog
    from fusionrec.serve.store import StoredEvent

TEMPLATE = "template"
"""The ``generator`` of a profile the template wrote."""
NO_USER_CONTENT = "the served model reads no user content"


class RebuildError(FusionrecError):
    """A user's profile could not be rebuilt (the old one is kept); the message says why."""


class UserProfileBuilder:
    """Writes, embeds and places a trained user's profile from their history and events.

    Args:
        model: the served model (a :class:`~fusionrec.models.base.UserContentAware` one).
        loaded: the artifact (its training interactions and user content).
        catalog: the served catalog (titles and genres of trained and added items).
        spec: the encoder that embeds the profile text.
        generator: writes the text; None uses the template.
        max_items: most history entries described.
        max_tokens: most tokens the generator writes.
    """

    def __init__(
        self,
        model: Recommender,
        loaded: LoadedArtifact,
        catalog: ItemCatalog,
        spec: EncoderSpec,
        generator: Generator | None = None,
        max_items: int = MAX_HISTORY_ITEMS,
        max_tokens: int = 40,
    ) -> None:
        content = loaded.split.user_content
        assert content is not None and isinstance(model, UserContentAware)
        self.model, self.catalog, self.spec, self.generator = model, catalog, spec, generator
        self.content_dim, self.max_items, self.max_tokens = content.dim, max_items, max_tokens
        train = loaded.split.train
        self._order = training_order(train)  # (n_train,) rows grouped by user, most telling first
        self._starts = np.searchsorted(train.user_index[self._order], np.arange(loaded.split.n_users + 1))
        self._items, self._ratings = train.item_index, train.rating

    @property
    def writer(self) -> str:
        """Who writes the text: the generator's model id, or ``template``."""
        return TEMPLATE if self.generator is None else self.generator.model_id

    def build(self, user_id: str, user_index: int, events: Sequence[StoredEvent]) -> UserProfileRecord:
        """The user's profile from their training history and ``events`` (oldest first).

        Raises:
            RebuildError: no history to describe, no text written, text the encoder masks, or a vector
                that is not finite.
        """
        history = self.history(user_index, events)
        if not history:
            raise RebuildError(f"user {user_id!r} has no history to describe")
        text = self.text(user_id, history)
        vector = self.vector(user_index, text)
        used = [event.created_at for event in events]
        return UserProfileRecord(
            text=text,
            generator=self.writer,
            built_at=time.time(),
            n_events=len(events),
            last_event_id=max((event.id for event in events), default=0),
            events_from=min(used) if used else None,
            vector=vector,
        )

    def history(self, user_index: int, events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
        """The entries to describe: events newest first, then training items (see the module docstring)."""
        recent = [self._event_entry(event) for event in reversed(events)]
        rows = self._order[self._starts[user_index] : self._starts[user_index + 1]]
        trained = [self._entry(int(self._items[row]), self._rating(row)) for row in rows[: self.max_items]]
        return merged_history([entry for entry in recent if entry is not None], trained, self.max_items)

    def text(self, user_id: str, history: list[dict[str, Any]]) -> str:
        """The profile text: the generator's answer, else the template's sentence."""
        if self.generator is None:
            profile = template_user_profile(history)
        else:
            request = user_profile_request(user_id, history, load_prompt("user_profile"), self.max_tokens)
            generation = self.generator.generate([request])[0]
            if not generation.ok:
                raise RebuildError(f"the generator {self.writer} failed: {generation.error}")
            profile = UserProfile.from_answer(generation.text)
        if profile is None:
            raise RebuildError(f"{self.writer} wrote no profile text for a history of {len(history)} item(s)")
        return profile.text()

    def vector(self, user_index: int, text: str) -> np.ndarray:
        """float32 (d,) the user's vector with ``text`` embedded as their content."""
        values, reason = encode_text(self.spec, text)
        if values is None:
            raise RebuildError(f"the {self.spec.encoder_name} encoder masked the profile text: {reason}")
        if values.shape[0] != self.content_dim:
            raise RebuildError(
                f"the {self.spec.encoder_name} encoder gives {values.shape[0]} values but the model's user content "
                f"has {self.content_dim}; the artifact's user profiles were embedded by another encoder"
            )
        vectors = self.model.content_user_vectors(np.array([user_index]), values[None, :])  # type: ignore[attr-defined]
        if vectors is None or not np.isfinite(vectors).all():
            raise RebuildError("the model gave no finite user vector for the new profile")
        return np.asarray(vectors[0], dtype=np.float32)

    def _event_entry(self, event: StoredEvent) -> dict[str, Any] | None:
        """A history entry for an event the user liked (a rating keeps its value); None for a dislike."""
        index = self.catalog.index_of(event.item_id)
        if index is None or (event.kind != "rating" and event_weight(event.kind, event.value) <= 0):
            return None
        return self._entry(index, event.value if event.kind == "rating" else None)

    def _entry(self, index: int, rating: float | None) -> dict[str, Any]:
        info = self.catalog.info(index)
        entry: dict[str, Any] = {"key": info.item_id, "title": info.title or f"item {info.item_id}"}
        if info.metadata.get("genres"):
            entry["genres"] = info.metadata["genres"]
        if rating is not None and np.isfinite(rating):
            entry["rating"] = float(rating)
        return entry

    def _rating(self, row: int) -> float | None:
        return None if self._ratings is None else float(self._ratings[row])


def profile_builder(
    loaded: LoadedArtifact, catalog: ItemCatalog, generator: Generator | None
) -> tuple[UserProfileBuilder | None, str]:
    """The builder of the served model's user profiles, or None and why profiles cannot be rebuilt.

    The encoder, ``max_items`` and ``max_tokens`` are those of the artifact's ``experiment.json``
    ``[user_profiles]`` table; without one, the artifact's first text encoder is taken (its size is checked
    against the user content's on first use) with the defaults of :class:`~fusionrec.llm.UserProfileSettings`.
    """
    if not reads_user_content(loaded):
        return None, NO_USER_CONTENT
    settings = _experiment_user_profiles(loaded)
    spec = EncoderSpec(modality="user_profile", name=str(settings["encoder"])) if settings.get("encoder") else None
    texts = [spec for spec in loaded.encoders if _reads_text(spec)]
    if spec is None and texts:
        spec = texts[0].model_copy(update={"modality": "user_profile", "template": None})
    if spec is None:
        return None, (
            "the artifact does not say which encoder embedded its user profiles (no [user_profiles] table in its "
            "experiment.json and no text encoder); save it with fusionrec train"
        )
    limits = {key: int(settings[key]) for key in ("max_items", "max_tokens") if isinstance(settings.get(key), int)}
    return UserProfileBuilder(loaded.model, loaded, catalog, spec, generator, **limits), ""


def reads_user_content(loaded: LoadedArtifact) -> bool:
    """True when the served model's user vectors read the artifact's user content (checked on one user)."""
    content, model = loaded.split.user_content, loaded.model
    if content is None or not isinstance(model, UserContentAware) or not len(content.values):
        return False
    return model.content_user_vectors(np.array([0]), content.values[:1]) is not None


def _experiment_user_profiles(loaded: LoadedArtifact) -> dict[str, Any]:
    """The ``[user_profiles]`` table the artifact was trained with, or {} when it does not record one."""
    if EXPERIMENT not in (loaded.manifest.get("files") or {}):
        return {}
    try:
        settings = json.loads((loaded.path / EXPERIMENT).read_text(encoding="utf-8")).get("user_profiles")
    except (OSError, ValueError, AttributeError):
        return {}
    return settings if isinstance(settings, dict) else {}


def _reads_text(spec: EncoderSpec) -> bool:
    try:
        return spec.kind == "text"
    except ConfigError:  # an encoder not registered in this process
        return False


__all__ = ["NO_USER_CONTENT", "TEMPLATE", "RebuildError", "UserProfileBuilder", "profile_builder", "reads_user_content"]
