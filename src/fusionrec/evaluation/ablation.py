"""Ablation of the flagship: what each modality, the item IDs and each add-on contribute.

Variants of a FusionGraph experiment, each run like any experiment (every
seed, early stopping on valid, test read once at the valid-chosen point):

* ``all``: the experiment as configured;
* ``-<modality>``: that modality removed (the model never sees it);
* ``content only``: no item ID embeddings (items are known only by their
  features) and no EASE channel (it reads item identities);
* ``behaviour only``: no content at all;
* ``no content channel`` / ``no EASE channel`` / ``no second stage``: the
  add-on removed, where the experiment's settings use it.

Example:
    >>> [label for label, _ in ablation_variants(["image", "text"], {"ease_weight": 0.005})]
    ['all', '-image', '-text', 'content only', 'behaviour only', 'no EASE channel']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrec.errors import ConfigError
from fusionrec.evaluation.benchmark import prepare_split, run_benchmark

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig

FLAGSHIP = "fusiongraph"


def ablation_variants(modalities: Sequence[str], params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(label, parameters)`` of every variant for data with ``modalities`` and the flagship's ``params``."""
    base = dict(params)
    used = list(base.get("modalities") or modalities)
    variants: list[tuple[str, dict[str, Any]]] = [("all", base)]
    for modality in used:
        variants.append((f"-{modality}", {**base, "modalities": [m for m in used if m != modality]}))
    variants.append(("content only", {**base, "item_ids": False, "ease_weight": 0.0}))
    variants.append(("behaviour only", {**base, "modalities": []}))
    if base.get("content_similarity_weight", 0.2) and used:
        variants.append(("no content channel", {**base, "content_similarity_weight": 0.0}))
    if base.get("ease_weight"):
        variants.append(("no EASE channel", {**base, "ease_weight": 0.0}))
    if base.get("second_stage"):
        variants.append(("no second stage", {**base, "second_stage": False}))
    return variants


def run_ablation(config: ExperimentConfig, labels: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Every variant of ``config`` (a FusionGraph experiment); results go to ``output.dir/<label>/``.

    Args:
        config: the experiment (e.g. a recipe) whose model is the flagship.
        labels: only these variants (``all`` is always run); None runs every one.
    """
    if config.model.name != FLAGSHIP:
        raise ConfigError(f"the ablation takes the flagship ({FLAGSHIP!r}) apart, not {config.model.name!r}")
    split, config = prepare_split(config)
    results = []
    for label, params in ablation_variants(split.dataset.modalities, config.model.params):
        if labels and label not in labels and label != "all":
            continue
        result = run_benchmark(
            None,
            split.dataset.name,
            FLAGSHIP,
            config.seeds,
            params=params,
            train=config.train,
            ks=config.evaluation.ks,
            out_dir=Path(config.output.dir) / label.replace(" ", "-"),
            metrics=config.evaluation.metrics,
            split=split,
        )
        results.append({**result, "model": label})
    return results


__all__ = ["ablation_variants", "run_ablation"]
