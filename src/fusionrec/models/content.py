"""Helpers shared by the models that read item content: features as tensors, warm items, checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch

from fusionrec.errors import ModelError

if TYPE_CHECKING:
    from fusionrec.data.dataset import Dataset, Split


def require_features(split: Split, model: str) -> None:
    """Raise a :class:`ModelError` naming the fix when ``split``'s dataset has no content features."""
    if not split.dataset.features:
        raise ModelError(
            f"{model} needs item content features but dataset {split.dataset.name!r} has none; "
            "attach them with dataset.add_feature(modality, values, mask) or `fusionrec encode`, "
            "or pick an ID-only model (e.g. lightgcn)"
        )


def content_tensors(dataset: Dataset) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``({modality: float32 (n_items, d_m)}, {modality: bool (n_items,)})`` of every modality, sorted."""
    return as_tensors(dataset.features, dataset.all_feature_masks())


def interaction_fade(split: Split, prior: float) -> np.ndarray:
    """float32 (n_items, 1) ``prior / (prior + d)``, ``d`` each item's training interactions (> 0 ``prior``).

    Content weighed by it speaks for the items behaviour knows little about and
    falls silent as interactions accumulate; items without any keep all of it.
    """
    degree = np.bincount(split.train.item_index, minlength=split.n_items).astype(np.float32)
    return (prior / (prior + degree))[:, None].astype(np.float32)


def as_tensors(
    features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Numpy features and masks as torch tensors (float32, bool); a missing mask means all usable."""
    values = {m: torch.from_numpy(np.ascontiguousarray(features[m], dtype=np.float32)) for m in sorted(features)}
    flags = {
        m: torch.from_numpy(np.asarray(masks[m], dtype=bool))
        if m in masks
        else torch.ones(len(values[m]), dtype=torch.bool)
        for m in values
    }
    return values, flags


def trained_items(split: Split) -> np.ndarray:
    """bool (n_items,): items with at least one training interaction (their ID vectors get trained)."""
    warm = np.zeros(split.n_items, dtype=bool)
    warm[split.train.item_index] = True
    return warm
