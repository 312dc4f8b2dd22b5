"""Recommenders: ID baselines, multimodal models from the literature and the flagship.

Models are looked up by name in :data:`MODEL_REGISTRY` (import paths, so
nothing heavy is imported until a model is built).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from fusionrec.errors import ConfigError
from fusionrec.models.base import Recommender

MODEL_REGISTRY: dict[str, str] = {
    "pop": "fusionrec.models.popularity:Popularity",
    "random": "fusionrec.models.random_ranking:RandomRanking",
    "content-knn": "fusionrec.models.content_knn:ContentKNN",
    "itemknn": "fusionrec.models.itemknn:ItemKNN",
    "ease": "fusionrec.models.ease:EASE",
    "bpr": "fusionrec.models.bpr:BPRMF",
    "lightgcn": "fusionrec.models.lightgcn:LightGCN",
    "vbpr": "fusionrec.models.vbpr:VBPR",
    "freedom": "fusionrec.models.freedom:FREEDOM",
    "bm3": "fusionrec.models.bm3:BM3",
    "fusiongraph": "fusionrec.models.fusion_graph:FusionGraph",
    "staged": "fusionrec.models.staged:Staged",
    "llm-rerank": "fusionrec.models.llm_rerank:LLMReranked",
}
"""``{name: "module:Class"}``; models register here by name."""

CONTENT_MODELS: frozenset[str] = frozenset({"vbpr", "freedom", "bm3", "fusiongraph", "content-knn"})
"""Registered models that read item content features (the others use interactions only)."""

DEFAULT_MODEL = "fusiongraph"
"""The model fusionrec trains when none is named."""

WRAPPER_MODELS: frozenset[str] = frozenset({"staged", "llm-rerank"})
"""Registered models that wrap a base model named by their ``base`` parameter (default :data:`DEFAULT_MODEL`)."""


def reads_content(name: str, params: dict[str, Any] | None = None) -> bool:
    """Whether model ``name`` with ``params`` reads item content (a wrapper reads what its base reads).

    Example:
        >>> reads_content("staged", {"base": "ease"}), reads_content("llm-rerank", {})
        (False, True)
    """
    if name in WRAPPER_MODELS:
        return str((params or {}).get("base", DEFAULT_MODEL)) in CONTENT_MODELS
    return name in CONTENT_MODELS


def model_class(name: str) -> type[Recommender]:
    """The class registered as ``name`` (imported on first use)."""
    if name not in MODEL_REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODEL_REGISTRY)}")
    module_name, class_name = MODEL_REGISTRY[name].split(":")
    cls: type[Recommender] = getattr(importlib.import_module(module_name), class_name)
    return cls


def model_parameters(name: str) -> list[str]:
    """The keyword hyper-parameters model ``name`` takes (``train_config`` aside)."""
    signature = inspect.signature(model_class(name).__init__)
    return [p for p in signature.parameters if p not in ("self", "train_config") and not p.startswith("_")]


def check_model_params(name: str, params: dict[str, Any]) -> None:
    """Raise a :class:`ConfigError` naming every key ``name`` does not take, or the value it refuses.

    Building a model does no work, so this checks a configuration before any data is read.

    Example:
        >>> check_model_params("ease", {"l3": 5})
        Traceback (most recent call last):
        ...
        fusionrec.errors.ConfigError: model 'ease' takes no parameter ['l3']; its parameters are ['l2', 'max_items']
    """
    allowed = model_parameters(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"model {name!r} takes no parameter {unknown}; its parameters are {allowed}")
    try:
        build_model(name, **params)
    except TypeError as exc:
        raise ConfigError(f"model {name!r} refused parameters {params}: {exc}") from None


def build_model(name: str, **params: Any) -> Recommender:
    """Build a registered model by name with keyword hyper-parameters."""
    model: Recommender = model_class(name)(**params)
    return model


__all__ = [
    "CONTENT_MODELS",
    "DEFAULT_MODEL",
    "MODEL_REGISTRY",
    "WRAPPER_MODELS",
    "Recommender",
    "build_model",
    "check_model_params",
    "model_class",
    "model_parameters",
    "reads_content",
]
