"""Reader and writer for the MMRec layout.

A folder holds ``<name>.inter`` (tab-separated ``userID itemID x_label``,
``x_label`` 0 train / 1 valid / 2 test) and any number of
``<modality>_feat.npy`` arrays, row ``i`` being item ``i``. When the folder
also holds an ``items.csv`` catalog (raw-catalog layout), the item vocabulary
and table come from it and the ``.inter`` ids are raw catalog ids.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionrec.data.catalog import item_column_roles, read_item_table
from fusionrec.data.dataset import Dataset, Protocol, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.vocabulary import Vocabulary
from fusionrec.errors import DataFileError, FeatureShapeError

logger = logging.getLogger(__name__)

INTER_COLUMNS = ("userID", "itemID", "x_label")
LABELS = {0: "train", 1: "valid", 2: "test"}


def read_inter(path: Path) -> pd.DataFrame:
    """The ``.inter`` table with columns userID, itemID (as str) and x_label (int)."""
    if not path.is_file():
        raise DataFileError(f"{path} does not exist; an MMRec folder needs <name>.inter (userID, itemID, x_label)")
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    missing = [c for c in INTER_COLUMNS if c not in frame.columns]
    if missing:
        raise DataFileError(
            f"{path} lacks column(s) {missing}; found {list(frame.columns)}. "
            "The header must be tab-separated: userID<TAB>itemID<TAB>x_label"
        )
    labels = pd.to_numeric(frame["x_label"], errors="coerce")
    bad = labels.isna() | ~labels.isin(list(LABELS))
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFileError(
            f"{path}: {int(bad.sum()):,} row(s) have an x_label other than 0/1/2, first at line {first + 2} "
            f"(value {frame['x_label'].iloc[first]!r}); use 0 for train, 1 for valid, 2 for test"
        )
    frame["x_label"] = labels.astype(np.int8)
    return frame


def _int_vocabulary(raw_ids: pd.Series, kind: str, at_least: int = 0) -> Vocabulary:
    """MMRec numbering (0..max) when ids are 0-based integers, else sorted unique ids."""
    numeric = pd.to_numeric(raw_ids, errors="coerce")
    if numeric.notna().all() and len(numeric) and numeric.min() == 0:
        return Vocabulary.from_range(max(int(numeric.max()) + 1, at_least), kind=kind)
    if numeric.notna().all():
        return Vocabulary.from_ids(sorted(set(numeric.astype(np.int64).tolist())), kind=kind)
    return Vocabulary.from_ids(sorted(set(raw_ids)), kind=kind)


def find_features(folder: Path) -> dict[str, Path]:
    """``{modality: path}`` of every ``<modality>_feat.npy`` in ``folder``."""
    return {p.name[: -len("_feat.npy")]: p for p in sorted(folder.glob("*_feat.npy"))}


def load_feature(path: Path, n_items: int) -> np.ndarray:
    """A float32 (n_items, d) array, validated against the item count."""
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path} cannot be read as a .npy array ({exc}); re-export it with numpy.save") from exc
    if values.ndim != 2 or values.shape[0] != n_items:
        raise FeatureShapeError(
            f"{path.name} has shape {values.shape} but there are {n_items:,} items; "
            "one row per item (n_items, dim) is expected"
        )
    return values.astype(np.float32, copy=False)


def read_mmrec(folder: str | Path, name: str | None = None, protocol: Protocol | None = None) -> Split:
    """Read an MMRec-layout folder into a :class:`Split`.

    Args:
        folder: the data folder (e.g. ``shared/data/tiktok``).
        name: the ``.inter`` file stem; defaults to the folder name.
        protocol: ``"warm"`` or ``"cold"``; defaults to the protocol recorded in ``<name>.split.json``
            (written by :func:`write_mmrec`), else ``"cold"`` when the stem ends in ``-cold``, else ``"warm"``.

    Example:
        >>> split = read_mmrec("data/tiktok")  # doctest: +SKIP
    """
    folder = Path(folder)
    name = name or folder.name
    frame = read_inter(folder / f"{name}.inter")
    item_table, media_root = _read_item_table(folder)
    features = find_features(folder)
    n_feature_rows = max((np.load(p, mmap_mode="r").shape[0] for p in features.values()), default=0)
    if item_table is not None:
        items = Vocabulary.from_ids(item_table["item_id"].astype(str), kind="item")
    else:
        items = _int_vocabulary(frame["itemID"], "item", at_least=n_feature_rows)
    users = _int_vocabulary(frame["userID"], "user")
    source = str(folder / f"{name}.inter")
    interactions = Interactions(
        users.index(frame["userID"].to_numpy(), source=source),
        items.index(frame["itemID"].to_numpy(), source=source),
        len(users),
        len(items),
    )
    dataset = Dataset(
        name=name, users=users, items=items, interactions=interactions, item_table=item_table, media_root=media_root
    )
    if item_table is not None:
        dataset.text_columns, dataset.media_columns = item_column_roles(item_table)
    for modality, path in features.items():
        dataset.add_feature(modality, load_feature(path, len(items)), _load_mask(folder, modality), source=str(path))
    labels = frame["x_label"].to_numpy()
    train, valid, test = (interactions.select(labels == label) for label in sorted(LABELS))
    recorded = _read_split_record(folder / f"{name}{SPLIT_RECORD}")
    chosen: Protocol = protocol or recorded.get("protocol") or ("cold" if name.endswith("-cold") else "warm")
    description = recorded.get("description") or f"fixed split from {name}.inter"
    return Split(dataset, train, valid, test, protocol=chosen, description=description)


SPLIT_RECORD = ".split.json"
"""Suffix of the file beside ``<name>.inter`` that records how the split was made (its protocol)."""


def _read_split_record(path: Path) -> dict[str, Any]:
    """``{"protocol", "description"}`` written beside a split, or empty when there is none."""
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path} is not valid JSON ({exc}); delete it or write it again with write_mmrec") from None
    if record.get("protocol") not in (None, "warm", "cold"):
        raise DataFileError(f"{path} records protocol {record.get('protocol')!r}; expected 'warm' or 'cold'")
    return dict(record)


def _read_item_table(folder: Path) -> tuple[pd.DataFrame | None, Path | None]:
    path = folder / "items.csv"
    if not path.is_file():
        return None, None

    return read_item_table(path), folder


def write_mmrec(split: Split, folder: str | Path, name: str | None = None) -> Path:
    """Write ``split`` as ``<name>.inter`` (raw ids) plus ``<modality>_feat.npy``; returns the .inter path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = name or split.dataset.name
    frames = []
    for label, part_name in LABELS.items():
        part = split.part(part_name)  # type: ignore[arg-type]
        frames.append(
            pd.DataFrame(
                {
                    "userID": split.dataset.users.id(part.user_index),
                    "itemID": split.dataset.items.id(part.item_index),
                    "x_label": label,
                }
            )
        )
    path = folder / f"{name}.inter"
    pd.concat(frames).to_csv(path, sep="\t", index=False)
    record = {"protocol": split.protocol, "description": split.description}
    (folder / f"{name}{SPLIT_RECORD}").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    _write_item_table(split.dataset, folder)
    for modality, values in split.dataset.features.items():
        np.save(folder / f"{modality}_feat.npy", values)
        mask = split.dataset.feature_mask(modality)
        if not mask.all():
            np.save(folder / f"{modality}_mask.npy", mask)
    logger.info("wrote %s (%d interactions)", path, sum(len(f) for f in frames))
    return path


def _load_mask(folder: Path, modality: str) -> np.ndarray | None:
    """The bool (n_items,) ``<modality>_mask.npy`` written beside a feature array, if any."""
    path = folder / f"{modality}_mask.npy"
    return np.load(path, allow_pickle=False).astype(bool) if path.is_file() else None


def _write_item_table(dataset: Dataset, folder: Path) -> None:
    """Write ``items.csv`` (``item_id`` first, in index order) so that reading keeps the item order.

    Relative media paths are made absolute, since they were relative to the
    dataset's own media root.
    """
    table = pd.DataFrame({"item_id": list(dataset.items.ids)})
    if dataset.item_table is not None:
        extra = dataset.item_table.drop(columns=["item_id"], errors="ignore").reset_index(drop=True)
        table = pd.concat([table, extra], axis=1)
    if dataset.media_root is not None:
        root = dataset.media_root
        for column in dataset.media_columns:
            table[column] = [str((root / p).resolve()) if p.strip() else "" for p in table[column].astype(str)]
    table.to_csv(folder / "items.csv", index=False)
