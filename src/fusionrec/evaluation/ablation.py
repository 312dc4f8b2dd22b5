"""Ablation of the flagship: what each modality, the item IDs and each add-on contribute.

Variants of a FusionGraph experiment, each run like any experiment (every
seed, early stopping on valid, test read once at the valid-chosen point):

* ``all``: the experiment as configured;
* ``-<modality>``: that modality removed (the model never sees it);
* ``content only``: no item ID embeddings (items are known only by their
  features), no EASE channel (it reads item identities) and no
  ``core.unit_layer0`` (refused without item IDs);
* ``behaviour only``: no content at all;
* ``no content channel`` / ``no EASE channel`` / ``no second stage``: the
  add-on removed, where the experiment's settings use it.

Example:
    >>> [label for label, _ in ablation_variants(["image", "text"], {"ease_channel": {"weight": 0.005}})]
    ['all', '-image', '-text', 'content only', 'behaviour only', 'no content channel', 'no EASE channel']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrec.errors import ConfigError
from fusionrec.evaluation.benchmark import prepare_split, run_benchmark
from fusionrec.models.fusion_graph_config import fusion_graph_config, merge_params

if TYPE_CHECKING:
    from fusionrec.config import ExperimentConfig

FLAGSHIP = "fusiongraph"


def ablation_variants(modalities: Sequence[str], params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(label, parameters)`` of every variant for data with ``modalities`` and the flagship's ``params``.

    ``params`` may use the flat keys of earlier versions; every variant's parameters are nested tables.
    """
    config = fusion_graph_config(params)
    base = merge_params(params, {})
    used = list(config.content.modalities or modalities)

    def variant(**tables: Any) -> dict[str, Any]:
        return merge_params(base, tables)

    variants: list[tuple[str, dict[str, Any]]] = [("all", base)]
    for modality in used:
        variants.append((f"-{modality}", variant(content={"modalities": [m for m in used if m != modality]})))
    # unit_layer0 is refused without item IDs (the content-only variant collapses with it)
    content_only = variant(core={"item_ids": False, "unit_layer0": False}, ease_channel={"weight": 0.0})
    variants.append(("content only", content_only))
    variants.append(("behaviour only", variant(content={"modalities": []})))
    if config.content_channel.weight and used:
        variants.append(("no content channel", variant(content_channel={"weight": 0.0})))
    if config.ease_channel.weight:
        variants.append(("no EASE channel", variant(ease_channel={"weight": 0.0})))
    if config.second_stage:
        variants.append(("no second stage", variant(second_stage=False)))
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
