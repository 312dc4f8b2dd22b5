"""Read a data folder with encoded features attached, and write features for the MMRec reader."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fusionrec.data import Interactions, Vocabulary, read_mmrec
from fusionrec.data.catalog import read_item_table
from fusionrec.data.dataset import Dataset, Split
from fusionrec.encoders.config import EncoderSpec, default_specs, load_specs
from fusionrec.encoders.pipeline import EncodeReport, Progress, encode_dataset
from fusionrec.errors import ConfigError

logger = logging.getLogger(__name__)


def resolve_specs(
    dataset: Dataset, specs: Sequence[EncoderSpec] | str | Path | None = None, modalities: Sequence[str] | None = None
) -> list[EncoderSpec]:
    """Specs from a list, a TOML file, or the item table's columns; optionally only ``modalities``."""
    if specs is None:
        if dataset.item_table is None:
            raise ConfigError(f"dataset {dataset.name!r} has no item table; give encoder specs or a TOML file")
        chosen = default_specs(list(dataset.item_table.columns), dataset.item_table)
        if not chosen:
            raise ConfigError(
                f"nothing to encode: the item table's columns {list(dataset.item_table.columns)} include no known "
                "text field (title, genres, overview...) or media column (poster, audio, video...); "
                "write [[encoders]] tables in a TOML file and pass it"
            )
    elif isinstance(specs, str | Path):
        chosen = load_specs(specs)
    else:
        chosen = [s for spec in specs for s in spec.expand()]
    if modalities:
        known = [s.modality for s in chosen]
        unknown = sorted(set(modalities) - set(known))
        if unknown:
            raise ConfigError(f"modalities {unknown} are not configured; configured: {known}")
        chosen = [s for s in chosen if s.modality in modalities]
    return chosen


def read_items(path: str | Path, name: str | None = None) -> Dataset:
    """The dataset to encode: an MMRec folder (with its ``items.csv``), or an item table alone.

    An item table alone (a file, or a folder holding ``items.csv`` but no
    ``.inter``) gives a dataset with its items and no interactions; media
    paths are relative to the table's folder.
    """
    path = Path(path)
    stem = _inter_stem(path, name) if path.is_dir() else None
    if stem is not None:
        return read_mmrec(path, name=stem).dataset
    table_path = path / "items.csv" if path.is_dir() else path
    table = read_item_table(table_path)
    items = Vocabulary.from_ids(table["item_id"].astype(str), kind="item")
    return Dataset(
        name=name or table_path.parent.name,
        users=Vocabulary.from_ids([], kind="user"),
        items=items,
        interactions=Interactions.empty(0, len(items)),
        item_table=table,
        media_root=table_path.parent,
    )


def _inter_stem(folder: Path, name: str | None) -> str | None:
    """The ``.inter`` stem to read: ``name``, else the folder's name, else the first one; None if none."""
    stems = sorted(p.stem for p in folder.glob("*.inter"))
    if name is not None and stems and name not in stems:
        raise ConfigError(f"{folder} has no {name}.inter; it has {[s + '.inter' for s in stems]}")
    for wanted in (name, folder.name):
        if wanted in stems:
            return wanted
    return stems[0] if stems and name is None else None


def read_encoded(
    folder: str | Path,
    specs: Sequence[EncoderSpec] | str | Path | None = None,
    *,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    modalities: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> tuple[Split, EncodeReport]:
    """Read a data folder (``read_mmrec``) and attach encoded features from the cache.

    With no ``specs`` the item table decides: for ml100k-mm that is text
    (``{title} | {genres} | {overview}``, masked without an overview) and
    poster images (EfficientNet-Lite0). The first call encodes; later calls
    read the cache.

    Example:
        >>> split, report = read_encoded("data/ml100k-mm")  # doctest: +SKIP
        >>> split.dataset.features["text"].shape  # doctest: +SKIP
        (1682, 384)
    """
    split = read_mmrec(folder, name=name)
    chosen = resolve_specs(split.dataset, specs, modalities)
    report = encode_dataset(split.dataset, chosen, cache_dir, progress=progress)
    return split, report


def write_features(
    dataset: Dataset, folder: str | Path, modalities: Sequence[str] | None = None, report: EncodeReport | None = None
) -> list[Path]:
    """Write ``<modality>_feat.npy`` (float32 (n_items, dim)) and ``<modality>_mask.npy`` (bool (n_items,)).

    Rows follow item-index order, so an MMRec reader pairs row ``i`` with item ``i``;
    ``items.txt`` lists the raw item id of each row. Returns the written paths.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for modality in modalities or dataset.modalities:
        feat, mask = folder / f"{modality}_feat.npy", folder / f"{modality}_mask.npy"
        np.save(feat, dataset.features[modality].astype(np.float32, copy=False))
        np.save(mask, dataset.feature_mask(modality))
        written += [feat, mask]
    ids = folder / "items.txt"
    ids.write_text("\n".join(dataset.items.ids) + "\n", encoding="utf-8")
    written.append(ids)
    if report is not None:
        path = folder / "encode_report.json"
        path.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
        written.append(path)
    logger.info("wrote %d feature files to %s", len(written), folder)
    return written
