"""Readers for the raw-catalog layout (interactions and items as CSV, Parquet or JSON Lines)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fusionrec.errors import DataFileError


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON Lines file by its suffix, every column as text."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} does not exist; check the path or the data folder setting")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if suffix == ".parquet":
        return pd.read_parquet(path).astype(str)
    if suffix in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False).astype(str)
    raise DataFileError(f"{path} has suffix {suffix!r}; use .csv, .parquet or .jsonl")


def read_item_table(path: str | Path, id_column: str = "movie_id") -> pd.DataFrame:
    """The item table with its id column renamed to ``item_id`` (one row per item, in file order)."""
    table = read_table(path)
    column = id_column if id_column in table.columns else ("item_id" if "item_id" in table.columns else None)
    if column is None:
        raise DataFileError(f"{path} has no item id column {id_column!r}; found {list(table.columns)}")
    table = table.rename(columns={column: "item_id"})
    duplicated = table["item_id"].duplicated()
    if duplicated.any():
        raise DataFileError(
            f"{path}: {int(duplicated.sum()):,} duplicate item id(s), e.g. {table['item_id'][duplicated].iloc[0]!r}; "
            "each item must appear once"
        )
    return table.reset_index(drop=True)
