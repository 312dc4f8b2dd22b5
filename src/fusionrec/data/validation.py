"""Checks on raw tables and on datasets, with messages that say how to fix them.

Fatal problems raise a :class:`~fusionrec.errors.DataError` subclass that
names the file, the line or the count, the value received and the fix.
Non-fatal findings (duplicates resolved, rows dropped, media files
missing) are appended to ``Dataset.problems`` and logged, never dropped
silently.

Line numbers are as a text editor shows them: in a CSV the header is
line 1, so data row ``i`` (0-based) is line ``i + 2``; in JSON Lines it is
line ``i + 1``; Parquet has rows, not lines.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from fusionrec.errors import DataError, DataFileError, FeatureShapeError, UnknownIdError

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.data.interactions import Interactions

logger = logging.getLogger(__name__)

DuplicatePolicy = Literal["latest", "first", "last", "error"]
UnknownPolicy = Literal["error", "drop"]
_EXAMPLES_SHOWN = 5


def line_of(path: str | Path, row: int) -> str:
    """Where data row ``row`` (0-based) of ``path`` is, e.g. ``"line 7"`` for CSV row 5.

    The checks below take ``row`` from a table's index, which
    :func:`~fusionrec.data.catalog.read_table` sets to the 0-based data row,
    so line numbers stay right after rows were dropped.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return f"row {row + 1}"
    return f"line {row + (1 if suffix in ('.jsonl', '.ndjson') else 2)}"


def _first(path: str | Path, index: pd.Index, mask: np.ndarray) -> tuple[int, str]:
    """Position of the first True of ``mask`` and where that row is in the file."""
    position = int(np.flatnonzero(mask)[0])
    return position, line_of(path, int(index[position]))


def report(problems: list[str], message: str) -> None:
    """Record a non-fatal finding: append it to ``problems`` and log it as a warning."""
    problems.append(message)
    logger.warning(message)


def require_columns(frame: pd.DataFrame, required: list[tuple[str, str]], path: str | Path, setting: str) -> None:
    """Raise when a column is missing.

    Args:
        frame: the table read from ``path``.
        required: ``(setting field, column name)`` pairs, e.g. ``[("user", "user_id")]``.
        path: the file, named in the message.
        setting: how the names are configured, e.g. ``"CatalogColumns"``.
    """
    missing = [(role, column) for role, column in required if column not in frame.columns]
    if missing:
        wanted = ", ".join(f"{column!r} ({role})" for role, column in missing)
        fields = ", ".join(dict.fromkeys(f"{role}=..." for role, _ in missing))
        raise DataFileError(
            f"{Path(path).name} lacks the column(s) {wanted}; its columns are {list(frame.columns)}. "
            f"Rename the column(s) in the file or pass {setting}({fields}) with the names the file uses"
        )


def require_rows(frame: pd.DataFrame, path: str | Path) -> None:
    """Raise when a table has a header but no data rows."""
    if len(frame) == 0:
        raise DataFileError(
            f"{Path(path).name} has a header {list(frame.columns)} but no data rows; it must hold at least one row"
        )


def parse_numbers(values: pd.Series, path: str | Path, column: str) -> np.ndarray:
    """float64 (n,) numbers parsed from text; raises naming the first bad line and its value."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        first, at = _first(path, values.index, bad)
        raise DataFileError(
            f"{Path(path).name}: {int(bad.sum()):,} value(s) in column {column!r} are not numbers, first at "
            f"{at} (value {values.iloc[first]!r}); use numbers such as 4 or 3.5, "
            "or remove those rows"
        )
    return numbers.to_numpy(dtype=np.float64)


def parse_timestamps(values: pd.Series, path: str | Path, column: str) -> np.ndarray:
    """int64 (n,) seconds since 1970 from numbers or date-time text (``2021-03-04T10:00:00``)."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=np.float64).astype(np.int64)
    times = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    bad = (times.isna() & numbers.isna()).to_numpy()
    if bad.any() or numbers.notna().any():
        wrong = bad if bad.any() else numbers.notna().to_numpy()
        first, at = _first(path, values.index, wrong)
        problem = "are neither numbers nor dates" if bad.any() else "are numbers among dates"
        raise DataFileError(
            f"{Path(path).name}: {int(wrong.sum()):,} value(s) in column {column!r} {problem}, "
            f"first at {at} (value {values.iloc[first]!r}); use either Unix seconds or ISO 8601 "
            "dates throughout, or pass CatalogColumns(timestamp=None) to read without times"
        )
    seconds: np.ndarray = (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy().astype(np.int64)
    return seconds


def non_empty_ids(frame: pd.DataFrame, columns: list[str], path: str | Path, problems: list[str]) -> np.ndarray:
    """bool (n,) rows whose id columns are all filled; the others are counted in ``problems``."""
    empty = np.zeros(len(frame), dtype=bool)
    for column in columns:
        empty |= (frame[column].astype(str).str.strip() == "").to_numpy()
    if not empty.any():
        return ~empty
    report(
        problems,
        f"{Path(path).name}: dropped {int(empty.sum()):,} row(s) with an empty {' or '.join(columns)}, "
        f"first at {_first(path, frame.index, empty)[1]}; fill in the ids to keep them",
    )
    return ~empty


def resolve_duplicates(
    frame: pd.DataFrame,
    keys: list[str],
    policy: DuplicatePolicy,
    path: str | Path,
    problems: list[str],
    times: np.ndarray | None = None,
) -> np.ndarray:
    """bool (n,) rows to keep so that each ``keys`` pair occurs once.

    ``"latest"`` keeps the row with the latest of ``times`` (the last row
    when there are no times, or on ties), ``"last"`` / ``"first"`` keep by
    file order and ``"error"`` raises.
    """
    order = np.arange(len(frame))
    if policy == "latest" and times is not None:
        order = np.lexsort((order, times))  # by time, then file order
    ordered = frame[keys].iloc[order]
    keep_ordered = ~ordered.duplicated(keep="first" if policy == "first" else "last").to_numpy()
    keep = np.zeros(len(frame), dtype=bool)
    keep[order[keep_ordered]] = True
    if keep.all():
        return keep
    _, at = _first(path, frame.index, frame[keys].duplicated(keep="first").to_numpy())
    where = f"{Path(path).name}: {int((~keep).sum()):,} duplicate user-item row(s), first repeat at {at}"
    if policy == "error":
        raise DataFileError(f"{where}; remove them or pass duplicates='latest', 'first' or 'last'")
    how = {"latest": "the latest by timestamp" if times is not None else "the last row"}
    how.update({"first": "the first row", "last": "the last row"})
    report(problems, f"{where}; kept {how[policy]} of each pair (duplicates={policy!r})")
    return keep


def check_known_items(
    item_ids: pd.Series, known: set[str], path: str | Path, catalog: str, policy: UnknownPolicy, problems: list[str]
) -> np.ndarray:
    """bool (n,) rows whose item id is in the catalog; raises or reports the others."""
    known_rows = item_ids.isin(known).to_numpy()
    if known_rows.all():
        return known_rows
    unknown = item_ids[~known_rows]
    examples = list(dict.fromkeys(unknown))[:_EXAMPLES_SHOWN]
    where = (
        f"{Path(path).name}: {len(unknown):,} row(s) name {unknown.nunique():,} item id(s) that are not in "
        f"{catalog} (e.g. {examples}), first at {_first(path, item_ids.index, ~known_rows)[1]}"
    )
    if policy == "error":
        raise UnknownIdError(f"{where}; add those items to {catalog} or pass unknown_items='drop'")
    report(problems, f"{where}; dropped those rows (unknown_items='drop')")
    return known_rows


def check_feature_rows(values: np.ndarray, n_items: int, source: str, items_source: str) -> np.ndarray:
    """A float32 (n_items, d) array, or FeatureShapeError naming both files and both counts."""
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[0] != n_items:
        rows = f"{values.shape[0]:,} rows" if values.ndim >= 1 else "no rows"
        raise FeatureShapeError(
            f"{items_source} has {n_items:,} items but {source} has {rows} (shape {values.shape}); "
            "one row per item, (n_items, dim), in the item table's order is expected"
        )
    return values.astype(np.float32, copy=False)


def check_media_files(table: pd.DataFrame, columns: list[str], root: Path, problems: list[str]) -> None:
    """Report media paths that are given but do not exist under ``root``."""
    for column in columns:
        paths = [p for p in table[column].astype(str) if p.strip()]
        missing = [p for p in paths if not (root / p).is_file()]
        if missing:
            report(
                problems,
                f"{len(missing):,} of {len(paths):,} {column!r} path(s) do not exist under {root} "
                f"(e.g. {missing[:_EXAMPLES_SHOWN]}); those items count as missing that modality. "
                "Fix the paths or pass media_root= to the folder they are relative to",
            )


def count_duplicate_pairs(interactions: Interactions) -> int:
    """Rows that repeat an earlier (user, item) pair."""
    keys = interactions.user_index.astype(np.int64) * interactions.n_items + interactions.item_index
    return int(len(keys) - len(np.unique(keys)))


def validate_split(split: Split) -> list[str]:
    """Check that a split fits its dataset; return findings, raise on broken indices.

    Raises:
        DataError: a part's index space differs from the dataset's or holds
            out-of-range indices.

    Returns:
        Human-readable findings: user-item pairs in both train and a held-out
        part, cold items seen in train, users held out without training data.
    """
    findings: list[str] = []
    for name in ("train", "valid", "test"):
        _check_indices(split.part(name), name, split.n_users, split.n_items)  # type: ignore[arg-type]
    for name in ("valid", "test"):
        part = split.part(name)  # type: ignore[arg-type]
        overlap = _pair_overlap(split.train, part)
        if overlap:
            findings.append(f"{overlap:,} {name} user-item pair(s) also occur in train (leakage)")
        if split.protocol == "cold":
            seen = np.intersect1d(part.items(), split.train.items())
            if len(seen):
                findings.append(f"{len(seen):,} {name} item(s) occur in train although the protocol is 'cold'")
        cold_users = np.setdiff1d(part.users(), split.train.users())
        if len(cold_users):
            findings.append(f"{len(cold_users):,} user(s) in {name} have no training interaction")
    return findings


def _check_indices(part: Interactions, name: str, n_users: int, n_items: int) -> None:
    if (part.n_users, part.n_items) != (n_users, n_items):
        raise DataError(
            f"split.{name} is sized ({part.n_users:,} users, {part.n_items:,} items) but the dataset has "
            f"({n_users:,}, {n_items:,}); build every part from the dataset's vocabularies"
        )
    for kind, index, size in (("user", part.user_index, n_users), ("item", part.item_index, n_items)):
        bad = (index < 0) | (index >= size)
        if bad.any():
            raise DataError(
                f"split.{name} holds {int(bad.sum()):,} {kind} index(es) outside 0..{size - 1} "
                f"(e.g. {int(index[bad][0])}); map raw ids with the dataset's Vocabulary"
            )


def _pair_overlap(a: Interactions, b: Interactions) -> int:
    keys_a = a.user_index.astype(np.int64) * a.n_items + a.item_index
    keys_b = b.user_index.astype(np.int64) * b.n_items + b.item_index
    return int(np.isin(keys_b, keys_a).sum())
