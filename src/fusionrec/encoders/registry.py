"""Encoders by name: the registry an experiment file's ``name = "..."`` refers to.

Entries are import paths, so looking a name up imports only that encoder's
module, with the libraries it needs (torch, transformers, librosa, ...): this
is where the encoders package defers its heavy dependencies, and where a
missing one is reported. Plug-ins add their own with :func:`register_encoder`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from fusionrec.encoders.base import Encoder, EncoderConfig
from fusionrec.errors import ConfigError, EncoderError

#: name -> (import path "module:Class", config overrides the name implies)
ENCODER_REGISTRY: dict[str, tuple[str, dict[str, Any]]] = {
    "sentence-transformer": ("fusionrec.encoders.text_models:SentenceTransformerEncoder", {}),
    "minilm": ("fusionrec.encoders.text_models:SentenceTransformerEncoder", {"model": "all-MiniLM-L6-v2"}),
    "hf": ("fusionrec.encoders.text_models:TransformerEncoder", {}),
    "causal-lm": ("fusionrec.encoders.text_models:CausalLMEncoder", {}),
    "smollm2": ("fusionrec.encoders.text_models:CausalLMEncoder", {"model": "smollm2"}),
    "tfidf": ("fusionrec.encoders.text:TfidfEncoder", {}),
    "efficientnet-lite0": ("fusionrec.encoders.efficientnet:EfficientNetEncoder", {}),
    "color-histogram": ("fusionrec.encoders.image:ColorHistogramEncoder", {}),
    "clip": ("fusionrec.encoders.vision:ClipImageEncoder", {}),
    "timm": ("fusionrec.encoders.timm_image:TimmImageEncoder", {}),
    "mel": ("fusionrec.encoders.audio:MelStatsEncoder", {}),
    "aisfx": ("fusionrec.encoders.sound_effects:AisfxEncoder", {}),
    "frames": ("fusionrec.encoders.video:VideoEncoder", {}),
    "precomputed": ("fusionrec.encoders.precomputed:PrecomputedEncoder", {}),
}

#: The encoder used for a kind when an experiment names none.
DEFAULT_ENCODERS = {
    "text": "minilm",
    "image": "efficientnet-lite0",
    "audio": "mel",
    "video": "frames",
    "vector": "precomputed",
}


def register_encoder(name: str, target: str | type[Encoder], **implied: Any) -> None:
    """Make ``name`` build ``target`` (a class or ``"module:Class"``), with ``implied`` config values."""
    path = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
    ENCODER_REGISTRY[name] = (path, dict(implied))


def encoder_class(name: str) -> type[Encoder]:
    """The class registered under ``name``; a ConfigError lists the known names otherwise."""
    if name not in ENCODER_REGISTRY:
        raise ConfigError(f"unknown encoder {name!r}; known encoders are {sorted(ENCODER_REGISTRY)}")
    module_name, _, class_name = ENCODER_REGISTRY[name][0].partition(":")
    cls = getattr(_import_encoder_module(name, module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise ConfigError(f"encoder {name!r} points at {ENCODER_REGISTRY[name][0]}, which is not an Encoder")
    return cls


def _import_encoder_module(name: str, module_name: str) -> ModuleType:
    """The module of encoder ``name``; an EncoderError names the package it needs when one is missing."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or module_name == exc.name or module_name.startswith(exc.name + "."):
            raise
        raise EncoderError(
            f"encoder {name!r} needs the package {exc.name!r}, which is not installed; "
            "pip install 'fusionrec[encoders]' (or the package itself), or choose another encoder "
            "(tfidf and color-histogram need no extra package)"
        ) from exc


def build_encoder(name: str, config: EncoderConfig | dict[str, Any] | None = None, **options: Any) -> Encoder:
    """Build the encoder registered as ``name`` (no model is loaded yet).

    Example:
        >>> build_encoder("tfidf", max_features=512).name
        'tfidf'
    """
    cls = encoder_class(name)
    values = dict(ENCODER_REGISTRY[name][1])
    values.update(config.model_dump() if isinstance(config, EncoderConfig) else dict(config or {}))
    values.update(options)
    encoder = cls(values)
    encoder.registry_name = name
    return encoder
