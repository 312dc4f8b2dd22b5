"""The typed configs of the baselines: one small pydantic config per model, its documented schema.

Each model declares its config as ``config_type``; the fields and defaults
are the model's keyword arguments (``train_config`` is the experiment's
``[train]`` section, not a model parameter). Unknown keys and values out of
range are refused before any data is read
(:func:`~fusionrec.models.model_config.validated_config`). In an experiment file::

    [model]
    name = "lightgcn"
    params = { embedding_dim = 64, n_layers = 3, reg_weight = 0.01 }

Example:
    >>> LightGCNConfig(n_layers=2).reg_weight
    0.01
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from fusionrec.models.model_config import STRICT

DEFAULT_MAX_ITEMS = 30_000
"""The largest catalog whose dense EASE matrix is fitted unless told otherwise."""


class PopularityConfig(BaseModel):
    """Most-popular ranking: no settings."""

    model_config = STRICT


class ContentKNNConfig(BaseModel):
    """Content similarity to the user's history: no settings."""

    model_config = STRICT


class RandomConfig(BaseModel):
    """Uniformly random scores."""

    model_config = STRICT

    seed: int = Field(default=0, ge=0, description="seed of the random scores")


class ItemKNNConfig(BaseModel):
    """Item-item cosine neighbours."""

    model_config = STRICT

    k: int = Field(default=200, ge=1, description="neighbours kept per item")
    shrinkage: float = Field(default=500.0, ge=0, description="added to the cosine's denominator (damps rare pairs)")
    chunk_size: int = Field(default=1024, ge=1, description="items whose similarities are computed at once")


class EASEConfig(BaseModel):
    """Closed-form linear item-item autoencoder."""

    model_config = STRICT

    l2: float = Field(default=200.0, gt=0, description="ridge penalty (chosen on valid, e.g. 20-1,000)")
    max_items: int = Field(default=DEFAULT_MAX_ITEMS, ge=1, description="the largest catalog fitted (dense matrix)")


class BPRConfig(BaseModel):
    """Matrix factorisation trained with BPR."""

    model_config = STRICT

    embedding_dim: int = Field(default=64, ge=1, description="size of every vector")
    reg_weight: float = Field(default=0.3, ge=0, description="weight of the embedding norm penalty")


class LightGCNConfig(BaseModel):
    """LightGCN propagation over the user-item graph, trained with BPR."""

    model_config = STRICT

    embedding_dim: int = Field(default=64, ge=1, description="size of every vector")
    n_layers: int = Field(default=3, ge=0, description="propagations over the user-item graph (1 to 4 is usual)")
    reg_weight: float = Field(default=0.01, ge=0, description="weight of the embedding norm penalty")


class VBPRConfig(BaseModel):
    """BPR with a content part of every item vector."""

    model_config = STRICT

    embedding_dim: int = Field(default=64, ge=1, description="size of every vector")
    reg_weight: float = Field(default=1e-4, ge=0, description="weight of the embedding norm penalty")


class FreedomConfig(BaseModel):
    """Frozen modality item graphs + degree-pruned LightGCN."""

    model_config = STRICT

    embedding_dim: int = Field(default=64, ge=1, description="size of every vector")
    n_ui_layers: int = Field(default=2, ge=0, description="propagations over the user-item graph")
    n_mm_layers: int = Field(default=1, ge=0, description="propagations over the item-item content graph")
    knn_k: int = Field(default=10, ge=1, description="neighbours per item in each modality graph")
    modality_weights: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        default=None, description="{modality: weight} of the modality graphs; None = equal"
    )
    edge_dropout: float = Field(default=0.8, ge=0, lt=1, description="share of user-item edges pruned per epoch")
    content_weight: float = Field(default=1e-4, ge=0, description="weight of the per-modality BPR terms")
    reg_weight: float = Field(default=0.0, ge=0, description="weight of the norm penalty on the ego embeddings")


class BM3Config(BaseModel):
    """Bootstrapped multimodal LightGCN (no negatives)."""

    model_config = STRICT

    embedding_dim: int = Field(default=64, ge=1, description="size of every vector")
    n_layers: int = Field(default=1, ge=0, description="propagations over the user-item graph (1 or 2 is usual)")
    dropout: float = Field(default=0.3, ge=0, lt=1, description="dropout that makes the target view")
    cl_weight: float = Field(default=2.0, ge=0, description="weight of the alignment and masked-feature terms")
    reg_weight: float = Field(default=0.1, ge=0, description="weight of the online vectors' norm penalty")


__all__ = [
    "DEFAULT_MAX_ITEMS",
    "BM3Config",
    "BPRConfig",
    "ContentKNNConfig",
    "EASEConfig",
    "FreedomConfig",
    "ItemKNNConfig",
    "LightGCNConfig",
    "PopularityConfig",
    "RandomConfig",
    "VBPRConfig",
]
