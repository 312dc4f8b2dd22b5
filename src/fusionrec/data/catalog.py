"""Reader for the raw-catalog layout: interactions and items as CSV, Parquet or JSON Lines.

This is what a shop or media service has: a ratings or events table with
raw user and item ids, and an item table with text fields and paths to
media files (posters, previews). :func:`read_catalog` turns them into a
:class:`~fusionrec.data.Dataset`, validating as it goes (see
:mod:`fusionrec.data.validation`).

Example:
    >>> columns = CatalogColumns(item="movie_id")
    >>> dataset = read_catalog("ml100k-mm/ratings.csv", "ml100k-mm/items.csv",
    ...                        columns=columns, min_rating=4)  # doctest: +SKIP
    >>> dataset.n_items  # doctest: +SKIP
    1682
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from fusionrec.data.dataset import Dataset
from fusionrec.data.interactions import Interactions
from fusionrec.data.validation import (
    DuplicatePolicy,
    UnknownPolicy,
    check_feature_rows,
    check_known_items,
    check_media_files,
    line_of,
    non_empty_ids,
    parse_numbers,
    parse_timestamps,
    require_columns,
    require_rows,
    resolve_duplicates,
)
from fusionrec.data.vocabulary import Vocabulary
from fusionrec.errors import DataError, DataFileError

logger = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet", ".jsonl", ".ndjson")
MEDIA_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".mp3", ".wav", ".flac", ".ogg", ".m4a", ".mp4", ".webm"}
    | {".mov", ".mkv", ".avi"}
)


class CatalogColumns(BaseModel):
    """Column names of a raw catalog.

    Attributes:
        user: user id column of the interactions.
        item: item id column of the interactions.
        rating: rating column of the interactions (used when present), or None.
        timestamp: time column (Unix seconds or ISO dates; used when present), or None.
        item_id: item id column of the item table; None means the same as ``item``.
        text: item columns holding text to encode; None means every column
            that is neither the id nor a media column.
        media: item columns holding media paths; None means every column
            whose values end in a media suffix (``.jpg``, ``.mp3``, ``.mp4``, ...).

    Example:
        >>> CatalogColumns(item="movie_id", text=["title", "overview"], media=["poster"]).item_id_column
        'movie_id'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = "user_id"
    item: str = "item_id"
    rating: str | None = "rating"
    timestamp: str | None = "timestamp"
    item_id: str | None = None
    text: list[str] | None = None
    media: list[str] | None = None

    @property
    def item_id_column(self) -> str:
        return self.item_id or self.item


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON Lines file by its suffix, every column as text (missing -> "").

    Raises:
        DataFileError: the file is missing, empty, unreadable or has another suffix.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} does not exist or is not a file; check the path or the data folder setting")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataFileError(f"{path} has suffix {suffix!r}; use one of {', '.join(SUFFIXES)}")
    if path.stat().st_size == 0:
        raise DataFileError(f"{path} is empty (0 bytes); it needs a header and at least one row")
    try:
        frame = _read_by_suffix(path, suffix)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataFileError(f"{path} cannot be read as {suffix[1:]} ({exc}); check its format and encoding") from exc
    return _as_text(frame)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column as text; missing values become "" and whole floats lose their ".0".

    JSON and Parquet store an integer id column with gaps as floats; without
    this, id 7 would read as "7.0" and not match "7" in the item table.
    """
    columns = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all()):
            values = values.astype("Int64")
        columns[column] = values.astype(object).where(values.notna(), "").astype(str)
    return pd.DataFrame(columns, index=frame.index)


def _read_by_suffix(path: Path, suffix: str) -> pd.DataFrame:
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_json(path, lines=True, dtype=False)


def read_item_table(path: str | Path, id_column: str = "movie_id") -> pd.DataFrame:
    """The item table with its id column renamed to ``item_id`` (one row per item, in file order).

    Falls back to an ``item_id`` column when ``id_column`` is absent.
    """
    table = read_table(path)
    column = id_column if id_column in table.columns else ("item_id" if "item_id" in table.columns else None)
    if column is None:
        raise DataFileError(
            f"{Path(path).name} has no item id column {id_column!r}; its columns are {list(table.columns)}. "
            "Pass CatalogColumns(item_id=...) with the right name"
        )
    require_rows(table, path)
    if column != "item_id" and "item_id" in table.columns:
        raise DataFileError(
            f"{Path(path).name} has both {column!r} (the id column) and 'item_id'; rename the 'item_id' column"
        )
    table = table.rename(columns={column: "item_id"})
    duplicated = table["item_id"].duplicated()
    if duplicated.any():
        first = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise DataFileError(
            f"{Path(path).name}: {int(duplicated.sum()):,} duplicate item id(s), first at {line_of(path, first)} "
            f"(id {table['item_id'].iloc[first]!r}); each item must appear once"
        )
    return table.reset_index(drop=True)


def read_catalog(
    interactions: str | Path,
    items: str | Path | None = None,
    *,
    columns: CatalogColumns | None = None,
    min_rating: float | None = None,
    name: str | None = None,
    media_root: str | Path | None = None,
    duplicates: DuplicatePolicy = "latest",
    unknown_items: UnknownPolicy = "error",
    features: Mapping[str, str | Path | np.ndarray] | None = None,
) -> Dataset:
    """Read raw interactions (and optionally the item catalog) into a :class:`Dataset`.

    Every catalog item is in the item vocabulary, in catalog order, even
    without interactions; users are those with at least one kept
    interaction. Findings that do not stop reading are in ``Dataset.problems``.

    Args:
        interactions: CSV, Parquet or JSON Lines file of user-item events.
        items: item table in one of those formats, or None (items then come
            from the interactions).
        columns: column names; defaults to ``CatalogColumns()``, with the
            item column taken from the item table's first column when the
            interactions have no ``item_id`` column but one of that name.
        min_rating: keep only interactions rated at least this (implicit
            positives), applied after duplicates are resolved.
        name: dataset name; defaults to the interactions file's folder name.
        media_root: folder media paths are relative to; defaults to the item
            table's folder.
        duplicates: which of several rows of one user-item pair to keep:
            ``"latest"`` by timestamp (else the last row), ``"first"``,
            ``"last"``, or ``"error"``.
        unknown_items: ``"error"`` or ``"drop"`` for interactions whose item is
            not in the item table.
        features: ``{modality: .npy path or float32 (n_items, d) array}`` with
            rows in item-table order.

    Raises:
        DataFileError: a file is missing, empty, unreadable, lacks a column
            or holds a non-numeric rating or time.
        UnknownIdError: interactions name items the catalog lacks.
        FeatureShapeError: a feature array does not have one row per item.

    Example:
        >>> read_catalog("events.parquet", "items.jsonl", min_rating=4)  # doctest: +SKIP
    """
    path = Path(interactions)
    problems: list[str] = []
    frame = read_table(path)
    columns = columns or _default_columns(frame, items)
    _check_interaction_columns(frame, path, columns, min_rating)
    item_table = read_item_table(items, columns.item_id_column) if items is not None else None
    item_vocab = None if item_table is None else Vocabulary.from_ids(item_table["item_id"], kind="item")
    frame = frame.loc[non_empty_ids(frame, [columns.user, columns.item], path, problems)]
    if items is not None and item_vocab is not None:
        known = set(item_vocab.ids)
        catalog = Path(items).name
        frame = frame.loc[check_known_items(frame[columns.item], known, path, catalog, unknown_items, problems)]
    frame, values = _select_interactions(frame, path, columns, duplicates, min_rating, problems)
    dataset = _build_dataset(frame, values, columns, item_vocab, name or path.resolve().parent.name)
    dataset.problems = problems
    if items is not None and item_table is not None:
        root = Path(media_root) if media_root is not None else Path(items).parent
        _attach_item_table(dataset, item_table, columns, root, Path(items))
    for modality, source in (features or {}).items():
        _attach_feature(dataset, modality, source, Path(items).name if items else path.name)
    return dataset


def _select_interactions(
    frame: pd.DataFrame,
    path: Path,
    columns: CatalogColumns,
    duplicates: DuplicatePolicy,
    min_rating: float | None,
    problems: list[str],
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Parse ratings and times, resolve duplicate pairs, then keep ratings >= ``min_rating``."""
    values = _parse_values(frame, path, columns)
    keys = [columns.user, columns.item]
    keep = resolve_duplicates(frame, keys, duplicates, path, problems, values.get("timestamp"))
    keep &= _positive(values.get("rating"), min_rating, path)
    return frame.loc[keep], {key: column[keep] for key, column in values.items()}


def _default_columns(frame: pd.DataFrame, items: str | Path | None) -> CatalogColumns:
    """``CatalogColumns()``, except that the item column is the item table's first column
    when the interactions lack ``item_id`` but share that name (``movie_id`` in both)."""
    default = CatalogColumns()
    if items is None or default.item in frame.columns:
        return default
    first = str(read_table(items).columns[0])
    if first in frame.columns:
        logger.info("item column: %r (the first column of %s, also in the interactions)", first, Path(items).name)
        return CatalogColumns(item=first)
    return default


def _check_interaction_columns(
    frame: pd.DataFrame, path: Path, columns: CatalogColumns, min_rating: float | None
) -> None:
    required = [("user", columns.user), ("item", columns.item)]
    if min_rating is not None:
        if columns.rating is None:
            raise DataError(f"min_rating={min_rating} needs a rating column but CatalogColumns(rating=None) was given")
        required.append(("rating", columns.rating))
    require_columns(frame, required, path, "CatalogColumns")
    require_rows(frame, path)


def _parse_values(frame: pd.DataFrame, path: Path, columns: CatalogColumns) -> dict[str, np.ndarray]:
    """``{"rating": float32 (n,), "timestamp": int64 (n,)}`` for the columns present in ``frame``."""
    values: dict[str, np.ndarray] = {}
    if columns.rating is not None and columns.rating in frame.columns:
        values["rating"] = parse_numbers(frame[columns.rating], path, columns.rating).astype(np.float32)
    if columns.timestamp is not None and columns.timestamp in frame.columns:
        values["timestamp"] = parse_timestamps(frame[columns.timestamp], path, columns.timestamp)
    return values


def _positive(rating: np.ndarray | None, min_rating: float | None, path: Path) -> np.ndarray | bool:
    """bool (n,) rows rated at least ``min_rating`` (True when there is no threshold)."""
    if min_rating is None or rating is None:
        return True
    keep = rating >= min_rating
    if not keep.any():
        raise DataError(
            f"{path.name}: no rating is >= min_rating={min_rating} (ratings range {rating.min():g}..{rating.max():g}); "
            "lower min_rating"
        )
    logger.info("%s: min_rating=%g kept %d of %d interactions", path.name, min_rating, keep.sum(), len(keep))
    return keep


def _build_dataset(
    frame: pd.DataFrame,
    values: dict[str, np.ndarray],
    columns: CatalogColumns,
    item_vocab: Vocabulary | None,
    name: str,
) -> Dataset:
    user_ids, item_ids = frame[columns.user].to_numpy(), frame[columns.item].to_numpy()
    users = Vocabulary.from_ids(natural_order(user_ids), kind="user")
    items = item_vocab or Vocabulary.from_ids(natural_order(item_ids), kind="item")
    interactions = Interactions(
        users.index(user_ids),
        items.index(item_ids),
        len(users),
        len(items),
        rating=values.get("rating"),
        timestamp=values.get("timestamp"),
    )
    return Dataset(name=name, users=users, items=items, interactions=interactions)


def natural_order(raw_ids: np.ndarray) -> list[str]:
    """Unique raw ids, numerically sorted when all are integers, else sorted as text."""
    unique = pd.unique(pd.Series(raw_ids, dtype=str))
    numbers = pd.to_numeric(pd.Series(unique), errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return [str(u) for u in unique[np.argsort(numbers.to_numpy(), kind="stable")]]
    return sorted(str(u) for u in unique)


def item_column_roles(table: pd.DataFrame, columns: CatalogColumns | None = None) -> tuple[list[str], list[str]]:
    """``(text columns, media columns)`` of an item table, as configured or inferred.

    Media columns are those whose non-empty values all end in a media
    suffix; text columns are the rest except ``item_id``.
    """
    columns = columns or CatalogColumns()
    media = columns.media if columns.media is not None else _media_like(table)
    text = columns.text if columns.text is not None else [c for c in table.columns if c not in {"item_id", *media}]
    return list(text), list(media)


def _attach_item_table(dataset: Dataset, table: pd.DataFrame, columns: CatalogColumns, root: Path, path: Path) -> None:
    text, media = item_column_roles(table, columns)
    require_columns(table, [("text", c) for c in text] + [("media", c) for c in media], path, "CatalogColumns")
    dataset.item_table, dataset.media_root = table, root
    dataset.text_columns, dataset.media_columns = text, media
    check_media_files(table, media, root, dataset.problems)


def _media_like(table: pd.DataFrame) -> list[str]:
    """Columns whose non-empty values all end in a media file suffix."""
    found = []
    for column in table.columns:
        filled = table[column][table[column].str.strip() != ""]
        suffixes = filled.str.lower().str.extract(r"(\.[^./\\]+)$", expand=False)
        if len(filled) and suffixes.isin(MEDIA_SUFFIXES).all():
            found.append(column)
    return found


def _attach_feature(dataset: Dataset, modality: str, source: str | Path | np.ndarray, items_name: str) -> None:
    if isinstance(source, np.ndarray):
        values, origin = source, f"the {modality!r} feature array"
    else:
        values, origin = _load_npy(Path(source)), Path(source).name
    values = check_feature_rows(values, dataset.n_items, origin, items_name)
    dataset.add_feature(modality, values, source=origin)


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataFileError(f"{path} does not exist; pass features={{modality: path to a .npy file}}")
    try:
        values: np.ndarray = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path} cannot be read as a .npy array ({exc}); save it with numpy.save") from exc
    return values
