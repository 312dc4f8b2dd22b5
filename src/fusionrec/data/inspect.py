"""A summary of a dataset or split: counts, sparsity, modalities, columns and problems.

:func:`inspect_dataset` powers ``fusionrec inspect``. It returns plain
JSON-ready values (ints, floats, strings, lists, dicts) so the command can
print it as a table or as JSON.

Example:
    >>> from fusionrec.data.demo import demo_split
    >>> report = inspect_dataset(demo_split())
    >>> report["users"], report["items"]
    (600, 400)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fusionrec.data.dataset import Dataset, Split
from fusionrec.data.interactions import Interactions
from fusionrec.data.validation import count_duplicate_pairs, validate_split


def inspect_dataset(data: Split | Dataset) -> dict[str, Any]:
    """Describe ``data``.

    Args:
        data: a :class:`Split` (parts are counted separately) or a :class:`Dataset`.

    Returns:
        ``{"name", "kind", "users", "items", "interactions": {"all", "train", ...},
        "sparsity", "per_user", "per_item", "ratings", "timestamps", "modalities":
        {name: {"dim", "masked"}}, "item_columns": {column: {"empty"}},
        "text_columns", "media_columns", "protocol", "description", "problems": [...]}``.
        ``sparsity`` (``1 - distinct pairs / (users * items)``), ``per_user``
        and ``per_item`` (min / median / mean / max counts) are over train for
        a split and over all interactions for a dataset.

    Example:
        >>> inspect_dataset(demo_split())["interactions"]["train"] > 0  # doctest: +SKIP
        True
    """
    dataset = data.dataset if isinstance(data, Split) else data
    counted = data.train if isinstance(data, Split) else dataset.interactions
    report: dict[str, Any] = {
        "name": dataset.name,
        "kind": "split" if isinstance(data, Split) else "dataset",
        "users": dataset.n_users,
        "items": dataset.n_items,
        "interactions": _part_counts(data),
        "sparsity": 1.0 - _unique_pairs(counted) / max(dataset.n_users * dataset.n_items, 1),
        "per_user": _spread(np.bincount(counted.user_index, minlength=dataset.n_users)),
        "per_item": _spread(np.bincount(counted.item_index, minlength=dataset.n_items)),
        "ratings": _ratings(dataset.interactions),
        "timestamps": dataset.interactions.timestamp is not None,
        "modalities": _modalities(dataset),
        "item_columns": _item_columns(dataset),
        "text_columns": list(dataset.text_columns),
        "media_columns": list(dataset.media_columns),
    }
    if isinstance(data, Split):
        report |= {"protocol": data.protocol, "description": data.description}
    report["problems"] = list(dataset.problems) + _findings(data)
    return report


def _part_counts(data: Split | Dataset) -> dict[str, int]:
    if isinstance(data, Dataset):
        return {"all": len(data.interactions)}
    parts = {name: len(data.part(name)) for name in ("train", "valid", "test")}  # type: ignore[arg-type]
    return {"all": sum(parts.values()), **parts}


def _unique_pairs(interactions: Interactions) -> int:
    return len(interactions) - count_duplicate_pairs(interactions)


def _spread(counts: np.ndarray) -> dict[str, float]:
    """min / median / mean / max of per-user or per-item counts."""
    if len(counts) == 0:
        return {"min": 0, "median": 0.0, "mean": 0.0, "max": 0}
    return {
        "min": int(counts.min()),
        "median": float(np.median(counts)),
        "mean": float(counts.mean()),
        "max": int(counts.max()),
    }


def _ratings(interactions: Interactions) -> dict[str, float] | None:
    if interactions.rating is None or len(interactions) == 0:
        return None
    return {"min": float(interactions.rating.min()), "max": float(interactions.rating.max())}


def _modalities(dataset: Dataset) -> dict[str, dict[str, int]]:
    """``{modality: {"dim", "masked"}}``; masked counts items whose input was unusable."""
    return {
        name: {"dim": int(dataset.features[name].shape[1]), "masked": int((~dataset.feature_mask(name)).sum())}
        for name in dataset.modalities
    }


def _item_columns(dataset: Dataset) -> dict[str, dict[str, int]]:
    """``{column: {"empty": count}}`` of the item table (empty text or missing values)."""
    table = dataset.item_table
    if table is None:
        return {}
    return {
        str(column): {"empty": int((table[column].isna() | (table[column].astype(str).str.strip() == "")).sum())}
        for column in table.columns
    }


def _findings(data: Split | Dataset) -> list[str]:
    """Problems a reader of the numbers should know about."""
    dataset = data.dataset if isinstance(data, Split) else data
    found = []
    duplicates = count_duplicate_pairs(dataset.interactions)
    if duplicates:
        found.append(f"{duplicates:,} duplicate user-item interaction(s)")
    idle_users = dataset.n_users - len(dataset.interactions.users())
    if idle_users:
        found.append(f"{idle_users:,} user(s) have no interaction at all")
    if isinstance(data, Split):
        found += validate_split(data)
        unseen = dataset.n_items - len(data.train.items())
        if unseen:
            found.append(f"{unseen:,} of {dataset.n_items:,} items never occur in train (cold or unused items)")
    else:
        unused = dataset.n_items - len(dataset.interactions.items())
        if unused:
            found.append(f"{unused:,} of {dataset.n_items:,} items have no interaction")
    return found
