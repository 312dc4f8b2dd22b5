"""Recommenders: ID baselines, multimodal models from the literature and the flagship.

Models are looked up by name in :data:`MODEL_REGISTRY` (import paths, so
nothing heavy is imported until a model is built).
"""

from __future__ import annotations

import importlib
from typing import Any

from fusionrec.errors import ConfigError
from fusionrec.models.base import Recommender

MODEL_REGISTRY: dict[str, str] = {
    "pop": "fusionrec.models.popularity:Popularity",
    "itemknn": "fusionrec.models.itemknn:ItemKNN",
    "ease": "fusionrec.models.ease:EASE",
    "bpr": "fusionrec.models.bpr:BPRMF",
    "lightgcn": "fusionrec.models.lightgcn:LightGCN",
    "vbpr": "fusionrec.models.vbpr:VBPR",
    "freedom": "fusionrec.models.freedom:FREEDOM",
    "bm3": "fusionrec.models.bm3:BM3",
    "fusiongraph": "fusionrec.models.fusion_graph:FusionGraph",
}
"""``{name: "module:Class"}``; models register here by name."""

CONTENT_MODELS: frozenset[str] = frozenset({"vbpr", "freedom", "bm3", "fusiongraph"})
"""Registered models that read item content features (the others use interactions only)."""

DEFAULT_MODEL = "fusiongraph"
"""The model fusionrec trains when none is named."""


def build_model(name: str, **params: Any) -> Recommender:
    """Build a registered model by name with keyword hyper-parameters."""
    if name not in MODEL_REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODEL_REGISTRY)}")
    module_name, class_name = MODEL_REGISTRY[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    model: Recommender = cls(**params)
    return model


__all__ = ["CONTENT_MODELS", "DEFAULT_MODEL", "MODEL_REGISTRY", "Recommender", "build_model"]
