"""Fusion modules over ``{modality: (n, d) tensor}`` with masks of missing inputs.

Every module takes ``(features, masks)`` - any subset of its declared
modalities, and bool (n,) masks where True means usable - and returns one
float32 (n, output_dim) vector per item. Missing inputs are excluded
through the mask, never mean-filled; an item with no content gets a
learned "no content" vector. See :mod:`fusionrec.fusion.base`.

===============  =====================================================
``concat``       :class:`ConcatFusion`: linear map of the concatenation
``weighted``     :class:`WeightedFusion`: learned modality weights
``gated``        :class:`GatedFusion`: per-item gated attention
``transformer``  :class:`TransformerFusion`: self-attention over tokens
===============  =====================================================

torch is imported only when a module is first used, so importing this
package stays cheap.

Example:
    >>> from fusionrec.fusion import build_fusion
    >>> fusion = build_fusion("gated", {"text": 384, "image": 1280}, 64)  # doctest: +SKIP
    >>> fused = fusion(features, masks)  # (n, 64)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fusionrec.errors import ConfigError

if TYPE_CHECKING:
    from fusionrec.fusion.base import ModalityFusion

FUSION_REGISTRY: dict[str, str] = {
    "concat": "fusionrec.fusion.concat:ConcatFusion",
    "weighted": "fusionrec.fusion.weighted:WeightedFusion",
    "gated": "fusionrec.fusion.gated:GatedFusion",
    "transformer": "fusionrec.fusion.transformer:TransformerFusion",
}
"""``{name: "module:Class"}`` of the fusion modules."""

_CLASSES = {path.split(":")[1]: path for path in FUSION_REGISTRY.values()}
_CLASSES["ModalityFusion"] = "fusionrec.fusion.base:ModalityFusion"


def build_fusion(kind: str, input_dims: Mapping[str, int], output_dim: int, **params: Any) -> ModalityFusion:
    """A fusion module by registry name.

    Args:
        kind: one of :data:`FUSION_REGISTRY` (``"concat"``, ``"weighted"``, ``"gated"``, ``"transformer"``).
        input_dims: ``{modality: feature size}``.
        output_dim: size of the fused vector.
        **params: the module's own keyword arguments (e.g. ``hidden``, ``dropout``).
    """
    if kind not in FUSION_REGISTRY:
        raise ConfigError(f"unknown fusion {kind!r}; choose one of {sorted(FUSION_REGISTRY)}")
    module_name, class_name = FUSION_REGISTRY[kind].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    fusion: ModalityFusion = cls(input_dims, output_dim, **params)
    return fusion


def __getattr__(name: str) -> Any:
    """Lazy access to the module classes (``from fusionrec.fusion import GatedFusion``)."""
    if name not in _CLASSES:
        raise AttributeError(f"module 'fusionrec.fusion' has no attribute {name!r}")
    module_name, class_name = _CLASSES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


__all__ = [
    "FUSION_REGISTRY",
    "ConcatFusion",
    "GatedFusion",
    "ModalityFusion",
    "TransformerFusion",
    "WeightedFusion",
    "build_fusion",
]
