"""Recommenders: ID baselines, multimodal models from the literature and the flagship.

Models are looked up by name in :data:`MODEL_REGISTRY` (import paths, so
nothing heavy is imported until a model is built).
"""

from __future__ import annotations

import copy
import importlib
import inspect
from collections.abc import Mapping
from typing import Any

from fusionrec.errors import ConfigError
from fusionrec.models.base import Recommender
from fusionrec.models.model_config import config_of, validated_config

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
    "ease-channel": "fusionrec.models.channels:EaseChanneled",
    "content-channel": "fusionrec.models.channels:ContentChanneled",
    "llm-rerank": "fusionrec.models.llm_rerank:LLMReranked",
    "ensemble": "fusionrec.models.ensemble:Ensemble",
}
"""``{name: "module:Class"}``; models register here by name."""

CONTENT_MODELS: frozenset[str] = frozenset({"vbpr", "freedom", "bm3", "fusiongraph", "content-knn", "content-channel"})
"""Registered models that read item content features (the others use interactions only)."""

DEFAULT_MODEL = "fusiongraph"
"""The model fusionrec trains when none is named."""

WRAPPER_MODELS: frozenset[str] = frozenset({"staged", "llm-rerank", "ease-channel", "content-channel", "ensemble"})
"""Registered models that wrap a base model named by their ``base`` parameter (default :data:`DEFAULT_MODEL`)."""


def reads_content(name: str, params: dict[str, Any] | None = None) -> bool:
    """Whether model ``name`` with ``params`` reads item content (a wrapper reads what its base reads).

    Example:
        >>> reads_content("staged", {"base": "ease"}), reads_content("llm-rerank", {})
        (False, True)
    """
    params = params or {}
    if name in CONTENT_MODELS:
        return True
    if name in WRAPPER_MODELS:
        base = str(params.get("base", _default_base(name)))
        return reads_content(base, params.get("base_params") or {})
    return False


def _default_base(wrapper: str) -> str:
    """The ``base`` a wrapper model wraps when none is named (its constructor's default)."""
    default = inspect.signature(model_class(wrapper).__init__).parameters["base"].default
    return str(default)


def model_class(name: str) -> type[Recommender]:
    """The class registered as ``name`` (imported on first use)."""
    if name not in MODEL_REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of {sorted(MODEL_REGISTRY)}")
    module_name, class_name = MODEL_REGISTRY[name].split(":")
    cls: type[Recommender] = getattr(importlib.import_module(module_name), class_name)
    return cls


def model_parameters(name: str) -> list[str]:
    """The keyword hyper-parameters model ``name`` takes (``train_config`` aside): its typed config's fields."""
    return list(config_of(model_class(name)).model_fields)


def check_model_params(name: str, params: Mapping[str, Any]) -> None:
    """Raise a :class:`ConfigError` naming every key ``name`` does not take, or the value it refuses.

    One path for every model: its typed config (``config_type``, see :mod:`~fusionrec.models.model_config`)
    validates ``params``, then the model is built (which does no work). So a configuration is checked before
    any data is read.

    Example:
        >>> check_model_params("ease", {"l3": 5})
        Traceback (most recent call last):
        ...
        fusionrec.errors.ConfigError: model 'ease' got invalid parameters: l3: unknown key; allowed here: l2, max_items
    """
    validated_config(name, config_of(model_class(name)), params)
    try:
        build_model(name, **params)
    except TypeError as exc:
        raise ConfigError(f"model {name!r} refused parameters {dict(params)}: {exc}") from None


def canonical_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as model ``name``'s typed config writes them (nested tables, only what differs from its
    defaults), so that dotted keys (:func:`with_dotted`) can be laid over them.

    Example:
        >>> canonical_params("fusiongraph", {"knn_k": 5})
        {'item_graph': {'k': 5}}
    """
    check_model_params(name, params)  # a ConfigError naming the key, for bad parameters
    config = config_of(model_class(name)).model_validate(dict(params))
    dumped: dict[str, Any] = config.model_dump(exclude_none=True, exclude_defaults=True)
    return dumped


def dotted(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ``{"table.key": value}`` (tables of tables too); flat ones are unchanged.

    Example:
        >>> dotted({"item_graph": {"k": 5}, "l2": 3.0})
        {'item_graph.k': 5, 'l2': 3.0}
    """
    result: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            result |= dotted(value, f"{prefix}{key}.")
        else:
            result[prefix + key] = value
    return result


def with_dotted(params: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of nested ``params`` with each ``"table.key"`` of ``values`` set (tables created as needed).

    Example:
        >>> with_dotted({"item_graph": {"k": 5}}, {"item_graph.weight": 2.0, "l2": 1.0})
        {'item_graph': {'k': 5, 'weight': 2.0}, 'l2': 1.0}
    """
    result = copy.deepcopy(dict(params))
    for key, value in values.items():
        *tables, last = key.split(".")
        node = result
        for table in tables:
            node = node.setdefault(table, {})
        node[last] = value
    return result


def build_model(name: str, **params: Any) -> Recommender:
    """Build a registered model by name with keyword hyper-parameters (validated first by its typed config)."""
    cls = model_class(name)
    validated_config(name, config_of(cls), {key: value for key, value in params.items() if key != "train_config"})
    model: Recommender = cls(**params)
    return model


__all__ = [
    "CONTENT_MODELS",
    "DEFAULT_MODEL",
    "MODEL_REGISTRY",
    "WRAPPER_MODELS",
    "Recommender",
    "build_model",
    "canonical_params",
    "check_model_params",
    "dotted",
    "model_class",
    "model_parameters",
    "reads_content",
    "with_dotted",
]
