"""The served catalog: raw item ids, titles, posters and metadata, growing as items are added.

Unlike :class:`~fusionrec.data.Vocabulary` (frozen), the catalog appends
items in place; index ``i < n_trained`` is the artifact's item ``i``.

Example:
    >>> catalog = ItemCatalog(["a", "b"])
    >>> catalog.upsert("c", title="C")
    (2, True)
    >>> catalog.info(2).title
    'C'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np

from fusionrec.serve.errors import NotFoundError

if TYPE_CHECKING:
    import pandas as pd

    from fusionrec.data.dataset import Dataset

_SPECIAL_COLUMNS = ("item_id", "title", "poster")
_EXAMPLES_SHOWN = 5


@dataclass
class ItemInfo:
    """What the service shows about an item."""

    index: int
    item_id: str
    title: str
    poster: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


class ItemCatalog:
    """Raw item ids <-> indices plus display fields.

    The trained items' ids and lookup are the artifact's vocabulary's, shared
    rather than copied (a model swap builds the new catalog beside serving
    threads; copying a million ids held them up); items added at run time
    are kept beside them.

    Args:
        item_ids: raw ids in index order.
        table: optional item table, one row per item, with ``title``,
            ``poster`` (path relative to the media root, or an http(s) URL)
            and any other text columns (returned as metadata).
        lookup: ``{raw id: index}`` of ``item_ids`` when it is already built (a vocabulary's).
    """

    def __init__(
        self, item_ids: Sequence[str], table: pd.DataFrame | None = None, lookup: Mapping[str, int] | None = None
    ) -> None:
        self._trained_ids = item_ids
        self._trained_lookup = lookup if lookup is not None else {raw: i for i, raw in enumerate(item_ids)}
        self._added_ids: list[str] = []
        self._added_lookup: dict[str, int] = {}
        self.n_trained = len(item_ids)
        self._titles = _column(table, "title", self.n_trained)
        self._posters = _column(table, "poster", self.n_trained)
        self._metadata_columns = _metadata_columns(table)
        self._added: dict[int, dict[str, str]] = {}
        self._summaries: dict[int, tuple[str, str, str | None]] = {}

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> ItemCatalog:
        return cls(dataset.items.ids, dataset.item_table, dataset.items.lookup)

    def __len__(self) -> int:
        return self.n_trained + len(self._added_ids)

    def __contains__(self, item_id: object) -> bool:
        return self.index_of(str(item_id)) is not None

    def index_of(self, item_id: str) -> int | None:
        """The index of ``item_id``, or None when unknown."""
        index = self._trained_lookup.get(item_id)
        return self._added_lookup.get(item_id) if index is None else index

    def indices(self, item_ids: list[str], *, source: str) -> np.ndarray:
        """int64 indices of ``item_ids``; raises NotFoundError naming the unknown ones."""
        found = [self.index_of(raw) for raw in item_ids]
        unknown = [raw for raw, i in zip(item_ids, found, strict=True) if i is None]
        if unknown:
            raise NotFoundError(
                f"{source}: {len(unknown)} of {len(item_ids)} item id(s) are not in the catalog of "
                f"{len(self):,} items (e.g. {unknown[:_EXAMPLES_SHOWN]}); add them with PUT /v1/items/{{item_id}} first"
            )
        return np.asarray(found, dtype=np.int64)

    def item_id(self, index: int) -> str:
        return self._trained_ids[index] if index < self.n_trained else self._added_ids[index - self.n_trained]

    def info(self, index: int) -> ItemInfo:
        """Display fields of the item at ``index``."""
        raw = self.item_id(index)
        title = self._titles[index] if index < len(self._titles) else None
        poster = self._posters[index] if index < len(self._posters) else None
        return ItemInfo(index, raw, title or raw, poster or None, self._metadata(index))

    def summary(self, index: int) -> tuple[str, str, str | None]:
        """``(item_id, title, poster_url)`` of an item, cached (ranked lists show many items per request)."""
        cached = self._summaries.get(index)
        if cached is None:
            info = self.info(index)
            cached = self._summaries[index] = (info.item_id, info.title, poster_url(info))
        return cached

    def _metadata(self, index: int) -> dict[str, str]:
        if index in self._added:
            return dict(self._added[index])
        if index >= self.n_trained:
            return {}
        return {name: values[index] for name, values in self._metadata_columns.items() if values[index]}

    def upsert(
        self, item_id: str, title: str | None = None, poster: str | None = None, metadata: dict[str, str] | None = None
    ) -> tuple[int, bool]:
        """Add ``item_id`` or update its fields (None keeps a field); returns ``(index, created)``."""
        index = self.index_of(item_id)
        created = index is None
        if index is None:
            index = len(self)
            self._added_ids.append(item_id)
            self._added_lookup[item_id] = index
            self._titles.append(None)
            self._posters.append(None)
        if title is not None:
            self._titles[index] = title
        if poster is not None:
            self._posters[index] = poster
        if metadata is not None:
            self._added[index] = dict(metadata)
        self._summaries.pop(index, None)
        return index, created

    def poster_path(self, index: int, media_root: Path | None) -> Path | None:
        """The poster file of an item, only if it lies inside ``media_root`` (no path traversal)."""
        poster = self.info(index).poster
        if not poster or media_root is None or _is_url(poster):
            return None
        root = media_root.resolve()
        path = (root / poster).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None


def _metadata_columns(table: pd.DataFrame | None) -> dict[str, list[str]]:
    """Every other text column as plain lists (fast row access; empty string where missing)."""
    if table is None:
        return {}
    return {
        str(name): [value if isinstance(value, str) else "" for value in table[name].tolist()]
        for name in table.columns
        if name not in _SPECIAL_COLUMNS
    }


def _column(table: pd.DataFrame | None, name: str, n: int) -> list[str | None]:
    if table is None or name not in table.columns:
        return [None] * n
    return [value if isinstance(value, str) and value else None for value in table[name].tolist()]


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def poster_url(info: ItemInfo) -> str | None:
    """The URL a browser loads the poster from: the item's poster route, or its own http(s) URL."""
    if not info.poster:
        return None
    return info.poster if _is_url(info.poster) else f"/v1/items/{_quote(info.item_id)}/poster"


def _quote(value: str) -> str:
    return quote(value, safe="")


__all__ = ["ItemCatalog", "ItemInfo", "poster_url"]
