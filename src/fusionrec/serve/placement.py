"""Placing content in the served model's space: new items from their features, and free-text preferences.

A :class:`~fusionrec.models.base.ContentAware` model maps content features
to an item vector (``content_item_vectors``); :class:`ItemPlacer` checks the
features a request sent (known modalities, the model's sizes, finite and in
range), and gives the vector with the part each modality adds (by occlusion:
the vector minus the vector without that modality), which explanations of
added items report.

Example:
    >>> vector, parts = placer.place("new-film", {"text": [0.1] * 384}, exists=False)  # doctest: +SKIP
    >>> sorted(parts)  # doctest: +SKIP
    ['text']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.models.base import ContentAware
from fusionrec.serve.errors import InvalidInputError, UnsupportedError
from fusionrec.serve.vectors import check_features, check_item_vector

if TYPE_CHECKING:
    from fusionrec.data.dataset import Dataset
    from fusionrec.models.base import Recommender


class ItemPlacer:
    """Gives item vectors from content features through the served model.

    Args:
        model: the served model.
        dataset: the training dataset (its feature tables give the modalities and their sizes).
        has_index: whether the service has an item index to place vectors in.
        component: the model's import path, named in errors.
    """

    def __init__(self, model: Recommender, dataset: Dataset, has_index: bool, component: str | None) -> None:
        self.model, self.dataset, self.component = model, dataset, component
        self.content_aware = has_index and isinstance(model, ContentAware)

    def require_content_model(self) -> None:
        """Raise :class:`UnsupportedError` unless the served model can place content."""
        if not self.content_aware:
            raise UnsupportedError(
                f"the served model {self.component} cannot place new items or new content: it does "
                "not implement ContentAware (content_item_vectors). Update only title/poster/metadata of known "
                "items, or serve a multimodal model"
            )

    def place(
        self, item_id: str, features: dict[str, list[float]] | None, exists: bool
    ) -> tuple[np.ndarray | None, dict[str, np.ndarray] | None]:
        """float32 (d,) vector of an item from content features, and the part each modality adds.

        ``(None, None)`` for a known item sent without features (it keeps its vector).

        Raises:
            UnsupportedError: features were sent, or the item is new, and the model cannot place content.
            InvalidInputError: a new item came without features, or the features are not usable.
        """
        if features or not exists:
            self.require_content_model()
        if not features:
            if exists:
                return None, None
            raise InvalidInputError(
                f"new item {item_id!r} needs content features for at least one of {self.dataset.modalities}"
            )
        values, masks = self.feature_inputs(features)
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

    def content_vector(self, features: dict[str, list[float]]) -> np.ndarray:
        """float32 (d,) vector of content described by ``features`` alone (a preference, placed like an item)."""
        values, masks = self.feature_inputs(features)
        return np.asarray(self.model.content_item_vectors(values, masks)[0], dtype=np.float32)  # type: ignore[attr-defined]

    def feature_inputs(self, features: dict[str, list[float]]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``({modality: float32 (1, d_m)}, {modality: bool (1,)})`` model inputs of one item's features.

        Raises:
            InvalidInputError: a modality the model does not have, a wrong size, or a non-finite value.
        """
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


__all__ = ["ItemPlacer"]
