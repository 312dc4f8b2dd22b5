"""From an item table to one raw input per item: rendered texts, media paths or vectors.

Items whose input is missing before any decoding (an empty required field,
an empty path cell) get a reason here and never reach the encoder.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.data.mmrec import load_feature
from fusionrec.encoders.config import DEFAULT_COLUMNS, TEXT_FIELDS, EncoderSpec
from fusionrec.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from fusionrec.data.dataset import Dataset


@dataclass
class ItemInputs:
    """One raw input per item index.

    Attributes:
        values: n_items inputs (text, path, vector); None where ``reasons`` says why not.
        reasons: n_items strings, empty where the input exists.
    """

    values: list[Any]
    reasons: list[str]

    def __len__(self) -> int:
        return len(self.values)


def _cell(value: Any) -> str:
    """A table cell as stripped text; NaN and None are empty."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


class TextTemplate:
    """Renders one text per item from a ``str.format``-style template of item fields.

    An empty field drops itself together with the literal text before it, so
    ``"{title} | {genres} | {overview}"`` renders ``"Heat | Action"`` when the
    overview is empty. An empty ``required`` field makes the item missing.

    Example:
        >>> TextTemplate("{title} | {overview}").render({"title": "Heat", "overview": ""})
        'Heat'
    """

    def __init__(self, template: str, required: list[str] | None = None) -> None:
        self.template = template
        self.required = list(required or [])
        self.parts = [(literal, field) for literal, field, _, _ in string.Formatter().parse(template)]
        self.fields = [field for _, field in self.parts if field]
        if not self.fields:
            raise ConfigError(f"text template {template!r} names no field; write fields in braces, e.g. '{{title}}'")

    def check_columns(self, columns: list[str]) -> None:
        """ConfigError naming any template or required field the table lacks."""
        unknown = sorted({*self.fields, *self.required} - set(columns))
        if unknown:
            raise ConfigError(f"text template fields {unknown} are not item-table columns; available: {columns}")

    def render(self, row: Mapping[Any, Any]) -> str:
        """The item's text; empty fields are left out with their preceding separator."""
        pieces: list[str] = []
        for literal, field in self.parts:
            if field is None:
                pieces.append(literal)
                continue
            value = _cell(row.get(field))
            if value:
                pieces.append((literal if pieces else literal.lstrip(" |,;-:")) + value)
        return "".join(pieces).strip()

    def missing(self, row: Mapping[Any, Any]) -> str:
        """The reason the item has no text ("no overview"), or "" when it has one."""
        empty = [field for field in self.required if not _cell(row.get(field))]
        return f"no {empty[0]}" if empty else ""


def default_template(columns: list[str]) -> str:
    fields = [f for f in TEXT_FIELDS if f in columns] or columns[1:2]
    return " | ".join("{" + f + "}" for f in fields)


def text_inputs(table: pd.DataFrame, spec: EncoderSpec) -> ItemInputs:
    """Rendered texts per item; items with an empty required field or an empty text are marked."""
    columns = list(table.columns)
    template = TextTemplate(spec.template or default_template(columns), spec.required)
    template.check_columns(columns)
    values: list[Any] = []
    reasons: list[str] = []
    for row in table.to_dict("records"):
        reason = template.missing(row)
        text = "" if reason else template.render(row)
        reason = reason or ("empty text" if not text else "")
        values.append(text or None)
        reasons.append(reason)
    return ItemInputs(values, reasons)


def media_column(spec: EncoderSpec, kind: str, columns: list[str]) -> str:
    """The column holding this spec's paths or vectors."""
    if spec.column:
        if spec.column not in columns:
            raise ConfigError(f"{spec.modality}: column {spec.column!r} is not in the item table; available: {columns}")
        return spec.column
    found = next((c for c in DEFAULT_COLUMNS.get(kind, ()) if c in columns), None)
    if found is None:
        raise ConfigError(
            f"{spec.modality}: no {kind} column found (looked for {list(DEFAULT_COLUMNS.get(kind, ()))}); "
            f"set column=... to one of {columns}"
        )
    return found


def file_inputs(table: pd.DataFrame, spec: EncoderSpec, kind: str, root: Path | None) -> ItemInputs:
    """Media paths per item (relative ones resolved against ``root``); empty cells are marked."""
    column = media_column(spec, kind, list(table.columns))
    values: list[Any] = []
    reasons: list[str] = []
    for cell in table[column].map(_cell):
        path = Path(cell) if cell else None
        if path is not None and not path.is_absolute() and root is not None:
            path = root / path
        values.append(path)
        reasons.append("" if path else f"no {column}")
    return ItemInputs(values, reasons)


def vector_inputs(dataset: Dataset, spec: EncoderSpec) -> ItemInputs:
    """Rows of an MMRec ``.npy`` (``path``) or cells of a vector column, one per item."""
    if spec.path:
        path = Path(spec.path)
        if not path.is_absolute() and dataset.media_root is not None:
            path = dataset.media_root / path
        rows = load_feature(path, dataset.n_items)  # (n_items, d), shape-checked
        return ItemInputs(list(rows), [""] * dataset.n_items)
    table = require_table(dataset, spec)
    column = media_column(spec, "vector", list(table.columns))
    cells = table[column].tolist()
    return ItemInputs(cells, ["" if _cell(c) else f"no {column}" for c in cells])


def require_table(dataset: Dataset, spec: EncoderSpec) -> pd.DataFrame:
    if dataset.item_table is None:
        raise ConfigError(
            f"{spec.modality}: dataset {dataset.name!r} has no item table, so there is nothing to encode; "
            "read a catalog with items.csv (or give path= to a precomputed .npy)"
        )
    if len(dataset.item_table) != dataset.n_items:
        raise ConfigError(
            f"{spec.modality}: the item table has {len(dataset.item_table):,} rows but the dataset has "
            f"{dataset.n_items:,} items; one row per item index is expected"
        )
    return dataset.item_table


def collect_inputs(dataset: Dataset, spec: EncoderSpec, kind: str) -> ItemInputs:
    """One input per item for ``spec``, in item-index order."""
    if kind == "vector":
        return vector_inputs(dataset, spec)
    table = require_table(dataset, spec)
    if kind == "text":
        return text_inputs(table, spec)
    return file_inputs(table, spec, kind, dataset.media_root)
