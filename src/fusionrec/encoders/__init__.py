"""Content encoders: a raw catalog's text, images, audio and video into modality features.

Each encoder has a ``name``, a ``kind``, a ``dim`` and a pydantic config;
``encode(batch)`` returns float32 (n, dim) values and a bool mask of the
inputs it could use. :func:`encode_dataset` runs the encoders an experiment
names through the :class:`FeatureCache` and attaches features and masks to a
dataset; :func:`read_encoded` does it for a data folder in one call.

Heavy libraries are imported only when an encoder is looked up by name: the
registry holds import paths, and the modules behind them (``text_models``,
``efficientnet``, ``vision``, ``audio``, ...) import torch, transformers or
librosa at their top.
"""

from fusionrec.encoders.base import Encoder, EncoderConfig, EncodeResult
from fusionrec.encoders.cache import FeatureCache, FeatureStore, default_cache_dir
from fusionrec.encoders.config import EncoderSpec, default_specs, load_specs, parse_specs
from fusionrec.encoders.inputs import TextTemplate
from fusionrec.encoders.loading import read_encoded, resolve_specs, write_features
from fusionrec.encoders.media import Unusable
from fusionrec.encoders.pipeline import EncodeReport, ModalityReport, encode_dataset
from fusionrec.encoders.registry import ENCODER_REGISTRY, build_encoder, register_encoder

__all__ = [
    "ENCODER_REGISTRY",
    "EncodeReport",
    "EncodeResult",
    "Encoder",
    "EncoderConfig",
    "EncoderSpec",
    "FeatureCache",
    "FeatureStore",
    "ModalityReport",
    "TextTemplate",
    "Unusable",
    "build_encoder",
    "default_cache_dir",
    "default_specs",
    "encode_dataset",
    "load_specs",
    "parse_specs",
    "read_encoded",
    "register_encoder",
    "resolve_specs",
    "write_features",
]
