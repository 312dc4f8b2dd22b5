"""The in-memory data model: a ``Dataset`` and its ``Split`` into train/valid/test."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from fusionrec.data.interactions import Interactions
from fusionrec.data.vocabulary import Vocabulary
from fusionrec.errors import ConfigError, FeatureShapeError

if TYPE_CHECKING:
    import pandas as pd

Protocol = Literal["warm", "cold"]
Part = Literal["train", "valid", "test"]


@dataclass
class Dataset:
    """Interactions plus everything known about the items.

    Attributes:
        name: a short name used in reports (``"baby"``).
        users: user vocabulary (raw id <-> index).
        items: item vocabulary (raw id <-> index).
        interactions: every interaction, in index space.
        item_table: one row per item index (columns such as ``title``,
            ``genres``, ``overview``, ``poster``), or None.
        features: precomputed modality features, ``{modality: float32 (n_items, d)}``.
        feature_masks: ``{modality: bool (n_items,)}``; True where the item's
            input for that modality was usable. Missing means all usable.
        media_root: folder that relative media paths in ``item_table`` are relative to.
        text_columns: columns of ``item_table`` that hold text to encode (``title``, ``overview``).
        media_columns: columns of ``item_table`` that hold media file paths (``poster``).
        problems: human-readable findings of validation (duplicates kept, rows dropped, ...).
    """

    name: str
    users: Vocabulary
    items: Vocabulary
    interactions: Interactions
    item_table: pd.DataFrame | None = None
    features: dict[str, np.ndarray] = field(default_factory=dict)
    feature_masks: dict[str, np.ndarray] = field(default_factory=dict)
    media_root: Path | None = None
    problems: list[str] = field(default_factory=list)
    text_columns: list[str] = field(default_factory=list)
    media_columns: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def modalities(self) -> list[str]:
        """Names of the modalities with features, in sorted order."""
        return sorted(self.features)

    def add_feature(
        self, modality: str, values: np.ndarray, mask: np.ndarray | None = None, *, source: str = ""
    ) -> None:
        """Attach a ``(n_items, d)`` feature array; ``mask`` marks usable rows."""
        values = np.asarray(values, dtype=np.float32)
        origin = source or f"{modality} features"
        if values.ndim != 2 or values.shape[0] != self.n_items:
            raise FeatureShapeError(
                f"{origin} has shape {values.shape} but the dataset has {self.n_items:,} items; "
                "one row per item (n_items, dim) is expected, in item-index order"
            )
        if mask is None:
            mask = np.ones(self.n_items, dtype=bool)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self.n_items,):
            raise FeatureShapeError(f"{origin} mask has shape {mask.shape}; ({self.n_items},) is expected")
        self.features[modality] = values
        self.feature_masks[modality] = mask

    def feature_mask(self, modality: str) -> np.ndarray:
        """Boolean (n_items,) mask of usable rows of ``modality``."""
        mask = self.feature_masks.get(modality)
        return np.ones(self.n_items, dtype=bool) if mask is None else mask

    def all_feature_masks(self) -> dict[str, np.ndarray]:
        """``{modality: bool (n_items,)}`` usable rows of every feature array (:meth:`feature_mask` of each)."""
        return {m: self.feature_mask(m) for m in self.features}

    def item_titles(self, item_indices: np.ndarray | list[int]) -> list[str]:
        """Titles for display; falls back to the raw item id, and adds it where two items share a title.

        Example:
            >>> dataset.item_titles([266, 1031])  # doctest: +SKIP
            ['Ice Storm, The (1997) [id 269]', 'Ice Storm, The (1997) [id 1035]']
        """
        raw_ids = self.items.id(item_indices)
        if self.item_table is None or "title" not in self.item_table.columns:
            return raw_ids
        column = self.item_table["title"]
        titles, shared = column.to_numpy(), set(column[column.duplicated(keep=False)].dropna())
        shown = []
        for index, raw in zip(item_indices, raw_ids, strict=True):
            title = titles[int(index)]
            if not isinstance(title, str) or not title.strip():
                shown.append(raw)
            else:
                shown.append(f"{title} [id {raw}]" if title in shared else title)
        return shown


@dataclass(frozen=True)
class UserContent:
    """What is known about each user besides their interactions, as one feature row per user.

    Made from a split's TRAINING part only (e.g. an embedded language-model summary of each user's
    training history, :mod:`fusionrec.llm.user_profiles`), so it belongs to the split, not the dataset.

    Attributes:
        values: float32 (n_users, d) features, in user-index order; rows of masked users are zero.
        mask: bool (n_users,) True where the user's content is usable.
        source: what made the features (shown in reports and errors).
        texts: the text each row embeds, in user-index order ("" where masked), when the content was made from
            text (a language model's summaries); None when unknown. It travels in artifacts, so a service can
            show a user the profile the model was trained with.
    """

    values: np.ndarray
    mask: np.ndarray
    source: str = "user content"
    texts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        mask = np.asarray(self.mask, dtype=bool)
        if values.ndim != 2 or mask.shape != (values.shape[0],):
            raise FeatureShapeError(
                f"{self.source} has values of shape {values.shape} and a mask of shape {mask.shape}; "
                "(n_users, dim) values and an (n_users,) mask are expected"
            )
        bad = ~np.isfinite(values[mask]).all(axis=1)
        if bad.any():
            raise FeatureShapeError(
                f"{self.source} has {int(bad.sum()):,} usable rows with non-finite values; mask them or fix the encoder"
            )
        if self.texts is not None and len(self.texts) != len(mask):
            raise FeatureShapeError(f"{self.source} has {len(self.texts):,} texts for {len(mask):,} users")
        object.__setattr__(self, "values", np.where(mask[:, None], values, np.float32(0.0)).astype(np.float32))
        object.__setattr__(self, "mask", mask)
        if self.texts is not None:
            kept = tuple(text if usable else "" for text, usable in zip(self.texts, mask, strict=True))
            object.__setattr__(self, "texts", kept)

    def text(self, index: int) -> str | None:
        """The text user ``index``'s row embeds, or None (masked, or the texts are unknown)."""
        if self.texts is None or not self.mask[index]:
            return None
        return self.texts[index]

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])


@dataclass
class Split:
    """A dataset partitioned into train / valid / test interactions, with optional per-user content.

    ``protocol`` is ``"warm"`` (every held-out item may be ranked against the
    whole catalog) or ``"cold"`` (valid and test items never occur in train;
    the candidates of a part are that part's items).
    """

    dataset: Dataset
    train: Interactions
    valid: Interactions
    test: Interactions
    protocol: Protocol = "warm"
    description: str = ""
    user_content: UserContent | None = None

    def __post_init__(self) -> None:
        content = self.user_content
        if content is not None and content.values.shape[0] != self.dataset.n_users:
            raise FeatureShapeError(
                f"{content.source} has {content.values.shape[0]:,} rows but the dataset has "
                f"{self.dataset.n_users:,} users; one row per user is expected, in user-index order"
            )

    @property
    def n_users(self) -> int:
        return self.dataset.n_users

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    def part(self, name: Part) -> Interactions:
        return {"train": self.train, "valid": self.valid, "test": self.test}[name]

    def candidates(self, name: Part) -> np.ndarray | None:
        """Item indices that may be ranked for ``name``; None means all items."""
        if self.protocol != "cold":
            return None
        return self.part(name).items()

    def with_protocol(self, protocol: Protocol) -> Split:
        return replace(self, protocol=protocol)

    def with_modalities(self, modalities: Iterable[str]) -> Split:
        """A copy whose dataset keeps only ``modalities`` (features and masks); nothing else is copied.

        Raises:
            ConfigError: a name the dataset has no features for (the message lists those it has).
        """
        kept = list(modalities)
        unknown = [m for m in kept if m not in self.dataset.features]
        if unknown:
            raise ConfigError(
                f"dataset {self.dataset.name!r} has no features for modalities {unknown}; "
                f"it has {self.dataset.modalities or 'none'} (encode them first or pick among these)"
            )
        features = {m: self.dataset.features[m] for m in kept}
        masks = {m: v for m, v in self.dataset.feature_masks.items() if m in kept}
        return replace(self, dataset=replace(self.dataset, features=features, feature_masks=masks))

    def statistics(self) -> dict[str, int | float]:
        """Counts used by ``fusionrec inspect`` and reports."""
        n_train = len(self.train)
        return {
            "users": self.n_users,
            "items": self.n_items,
            "train": n_train,
            "valid": len(self.valid),
            "test": len(self.test),
            "sparsity": 1.0 - n_train / max(self.n_users * self.n_items, 1),
            "items_without_train": int(self.n_items - len(self.train.items())),
            "users_without_train": int(self.n_users - len(self.train.users())),
        }
