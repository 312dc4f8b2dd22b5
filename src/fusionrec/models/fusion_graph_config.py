"""The flagship's typed configuration: one small pydantic config per component, composed.

:class:`FusionGraphConfig` is what ``[model.params]`` of a ``fusiongraph``
experiment holds, one table per component::

    [model]
    name = "fusiongraph"

    [model.params.core]
    embedding_dim = 128
    unit_layer0 = true

    [model.params.item_graph]
    k = 10
    boost = 2.0

    [model.params.ease_channel]
    weight = 0.005

Every table forbids unknown keys, and the rules between options are
validators (e.g. ``core.unit_layer0`` needs ``core.item_ids``). The flat
keys of earlier versions (``knn_k``, ``ease_weight``, ...; :data:`FLAT_KEYS`)
are still read, mapped to their table in one place
(:func:`nest_flat_keys`), so experiment files, ``--set model.params.knn_k=20``
and artifacts saved with flat parameters keep working; giving one option
both ways is an error naming both spellings.

Example:
    >>> config = FusionGraphConfig.model_validate({"knn_k": 20, "core": {"embedding_dim": 64}})
    >>> config.item_graph.k, config.core.embedding_dim
    (20, 64)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fusionrec.errors import ConfigError
from fusionrec.models.item_graph_registry import item_graph_names
from fusionrec.models.loss_registry import loss_names
from fusionrec.models.model_config import describe_problems

_STRICT = ConfigDict(extra="forbid", frozen=True)

NegativePool = Literal["train", "all"]


class CoreConfig(BaseModel):
    """The graph model: embeddings, propagation over the user-item graph and what training perturbs."""

    model_config = _STRICT

    embedding_dim: int = Field(default=128, ge=1, description="size of every vector")
    n_layers: int = Field(default=2, ge=0, description="propagations over the user-item graph")
    init_std: float = Field(default=0.1, gt=0, description="standard deviation of the ID embeddings at initialisation")
    id_dropout: float = Field(default=0.0, ge=0, lt=1, description="share of items whose ID part is dropped per step")
    embedding_noise: float = Field(
        default=0.1, ge=0, description="radius of SimGCL's noise on each propagated layer in training (0 = off)"
    )
    edge_dropout: float = Field(
        default=0.0, ge=0, lt=1, description="share of user-item edges pruned per training epoch"
    )
    unit_layer0: bool = Field(
        default=False, description="layer-0 vectors scaled to unit length x their kind's mean length"
    )
    item_ids: bool = Field(default=True, description="items have an ID embedding (False = items known by content only)")
    min_batches: int = Field(
        default=8, ge=1, description="the fewest batches per epoch (the batch shrinks to get them)"
    )


class LossConfig(BaseModel):
    """The ranking loss, chosen by name from :mod:`~fusionrec.models.loss_registry`."""

    model_config = _STRICT

    name: str = Field(default="softmax", description="a registered loss (register_loss)")
    temperature: float = Field(default=0.2, gt=0, description="temperature of the cosine scores (0.1 to 0.3 is usual)")
    negatives: NegativePool = Field(
        default="train", description="the catalog: items with a training interaction, or all"
    )
    bf16_scores: bool | None = Field(
        default=None, description="the (batch, n_items) product in bfloat16; None = if native"
    )
    options: dict[str, Any] = Field(default_factory=dict, description="a registered loss's own settings")

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in loss_names():
            raise ValueError(f"expected a registered loss, one of {sorted(loss_names())}; register_loss() adds one")
        return name


class ContentConfig(BaseModel):
    """The item tower's content path: which modalities, how they are fused and how much they weigh."""

    model_config = _STRICT

    modalities: list[str] | None = Field(default=None, description="modalities used (None = every one the data has)")
    fusion: str = Field(default="weighted", description="'weighted', 'gated', 'concat' or 'transformer'")
    fusion_params: dict[str, Any] | None = Field(default=None, description="other arguments of the fusion module")
    dropout: float = Field(default=0.5, ge=0, lt=1, description="dropout on content features entering the fusion")
    prior: float = Field(default=0.0, ge=0, description="c > 0 weighs content by c / (c + interactions); 0 = off")
    align_weight: float = Field(default=0.0, ge=0, description="weight of the ID-content InfoNCE alignment (0 = off)")

    @field_validator("fusion_params")
    @classmethod
    def _no_second_dropout(cls, params: dict[str, Any] | None) -> dict[str, Any] | None:
        if params and "dropout" in params:
            raise ValueError("fusion_params must not set 'dropout'; set content.dropout instead")
        return params


class ItemGraphConfig(BaseModel):
    """The frozen item-item content graph, from a registered builder (:mod:`~fusionrec.models.item_graph_registry`)."""

    model_config = _STRICT

    builder: str = Field(default="knn", description="a registered item-graph builder (register_item_graph)")
    k: int = Field(default=10, ge=1, description="neighbours per item in each modality's graph")
    weight: float = Field(default=1.0, ge=0, description="weight of the content-graph term (0 = no content graph)")
    boost: float = Field(
        default=0.0, ge=0, description="b > 0 raises the term by 1 + b c / (c + interactions); 0 = off"
    )
    prior: float = Field(default=10.0, gt=0, description="c of boost")
    n_layers: int = Field(default=1, ge=1, description="propagations over the item-item graph")
    modality_weights: dict[str, float] | None = Field(default=None, description="{modality: weight}; None = equal")
    whitening: list[str] | None = Field(default=None, description="modalities compared after PCA whitening")
    options: dict[str, Any] = Field(default_factory=dict, description="a registered builder's own settings")

    @field_validator("builder")
    @classmethod
    def _registered(cls, builder: str) -> str:
        if builder not in item_graph_names():
            raise ValueError(
                f"expected a registered item-graph builder, one of {sorted(item_graph_names())}; "
                "register_item_graph() adds one"
            )
        return builder


class ContentChannelConfig(BaseModel):
    """The fixed content-similarity channel (:mod:`~fusionrec.models.content_channel`)."""

    model_config = _STRICT

    weight: float = Field(
        default=0.2, ge=0, description="weight of the mean content similarity to the history (0 = off)"
    )
    prior: float = Field(default=10.0, ge=0, description="c > 0 fades an item's channel by c / (c + interactions)")


class EaseChannelConfig(BaseModel):
    """EASE's standardised item-item scores added after training (:mod:`~fusionrec.models.ease_channel`)."""

    model_config = _STRICT

    weight: float = Field(default=0.0, ge=0, description="weight of the channel (0 = off)")
    l2: float = Field(default=200.0, gt=0, description="EASE's ridge penalty (50 to 500 is usual)")


class MembersConfig(BaseModel):
    """An ensemble of independently initialised networks scored by their mean cosine."""

    model_config = _STRICT

    count: int = Field(default=1, ge=1, description="networks (1 = a single model)")
    training: Literal["joint", "apart"] = Field(default="joint", description="side by side in one loop, or one by one")


class UserContentConfig(BaseModel):
    """Settings of the user content path.

    Attributes:
        align_weight: weight of the InfoNCE alignment between projected content and ID embeddings (0 = off).
        temperature: the alignment's temperature.
        dropout: dropout on the user content as it enters the projection (training only).
        init_std: standard deviation of the projection's initial weights, times ``1 / sqrt(content dim)``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    align_weight: float = Field(default=0.0, ge=0.0)
    temperature: float = Field(default=0.2, gt=0.0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    init_std: float = Field(default=1.0, gt=0.0)


class FusionGraphConfig(BaseModel):
    """Every setting of :class:`~fusionrec.models.fusion_graph.FusionGraph`, one table per component."""

    model_config = _STRICT

    core: CoreConfig = Field(default_factory=CoreConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    content: ContentConfig = Field(default_factory=ContentConfig)
    item_graph: ItemGraphConfig = Field(default_factory=ItemGraphConfig)
    content_channel: ContentChannelConfig = Field(default_factory=ContentChannelConfig)
    ease_channel: EaseChannelConfig = Field(default_factory=EaseChannelConfig)
    members: MembersConfig = Field(default_factory=MembersConfig)
    second_stage: bool = Field(
        default=False, description="fit a second stage on valid that reorders each user's best 100"
    )
    user_content: UserContentConfig | None = Field(
        default=None,
        description="the user content path: a user's layer-0 vector is its ID plus the projection of "
        "split.user_content, aligned with the ID (fusionrec.models.user_content); None = off",
    )

    @classmethod
    def key_aliases(cls) -> dict[str, str]:
        """``{flat key: "table.key"}``: the top-level spellings read besides the tables (see :data:`FLAT_KEYS`).

        :func:`~fusionrec.models.model_config.describe_problems` offers them for a misspelt top-level key.
        """
        return {flat: f"{table}.{key}" for flat, (table, key) in FLAT_KEYS.items()}

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_keys(cls, data: Any) -> Any:
        return nest_flat_keys(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _compatible(self) -> FusionGraphConfig:
        if self.core.unit_layer0 and not self.core.item_ids:
            raise ValueError(
                "core.unit_layer0=True does not work with core.item_ids=False (the content-only variant collapses "
                "with it, docs/decisions/0002-content-path.md); set core.unit_layer0=false or core.item_ids=true"
            )
        graph = self.item_graph
        if graph.boost and not graph.weight:
            raise ValueError(
                f"item_graph.boost={graph.boost} raises a content-graph term that item_graph.weight=0 turns off; "
                "set item_graph.weight > 0 or item_graph.boost=0"
            )
        chosen, weights = self.content.modalities, graph.modality_weights
        missing = sorted(set(chosen or ()) - set(weights or {})) if weights is not None else []
        if missing:
            raise ValueError(
                f"item_graph.modality_weights={weights} has no weight for the chosen modalities {missing} "
                f"(content.modalities={chosen}); give every chosen modality a weight"
            )
        return self

    def params(self) -> dict[str, Any]:
        """The nested settings without the unset (None) ones: TOML- and JSON-ready, and accepted back."""
        return self.model_dump(exclude_none=True)


FLAT_KEYS: dict[str, tuple[str, str]] = {
    **{key: ("core", key) for key in CoreConfig.model_fields},
    "temperature": ("loss", "temperature"),
    "negatives": ("loss", "negatives"),
    "bf16_scores": ("loss", "bf16_scores"),
    "modalities": ("content", "modalities"),
    "fusion": ("content", "fusion"),
    "fusion_params": ("content", "fusion_params"),
    "content_dropout": ("content", "dropout"),
    "content_prior": ("content", "prior"),
    "align_weight": ("content", "align_weight"),
    "knn_k": ("item_graph", "k"),
    "item_graph_weight": ("item_graph", "weight"),
    "item_graph_boost": ("item_graph", "boost"),
    "item_graph_prior": ("item_graph", "prior"),
    "n_item_graph_layers": ("item_graph", "n_layers"),
    "modality_weights": ("item_graph", "modality_weights"),
    "graph_whitening": ("item_graph", "whitening"),
    "content_similarity_weight": ("content_channel", "weight"),
    "content_similarity_prior": ("content_channel", "prior"),
    "ease_weight": ("ease_channel", "weight"),
    "ease_l2": ("ease_channel", "l2"),
    "member_training": ("members", "training"),
}
"""``{flat key of earlier versions: (table, key)}``; ``members = N`` (an integer) is ``members.count``."""


def nest_flat_keys(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every flat key (:data:`FLAT_KEYS`) moved into its table.

    Raises:
        ConfigError: an option is given both flat and in its table.

    Example:
        >>> nest_flat_keys({"knn_k": 5, "members": 2, "core": {"n_layers": 3}})
        {'core': {'n_layers': 3}, 'members': {'count': 2}, 'item_graph': {'k': 5}}
    """
    nested = {key: dict(value) if isinstance(value, dict) else value for key, value in params.items()}
    moves = [(key, FLAT_KEYS[key]) for key in params if key in FLAT_KEYS]
    count = params.get("members")
    if isinstance(count, int) and not isinstance(count, bool):  # before member_training goes into the table
        nested["members"] = {"count": nested.pop("members")}
    for flat, (table, key) in moves:
        value = nested.pop(flat)
        section = nested.setdefault(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"fusiongraph parameter {table} must be a table of settings, got {section!r}")
        if key in section:
            raise ConfigError(
                f"fusiongraph parameter {table}.{key} is given twice: as {table}.{key}={section[key]!r} and as "
                f"the flat key {flat}={value!r}; keep only {table}.{key}"
            )
        section[key] = value
    return nested


def merge_params(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it, table by table; either may use flat keys (the result is nested).

    Example:
        >>> merge_params({"knn_k": 5, "core": {"n_layers": 3}}, {"core": {"item_ids": False}})
        {'core': {'n_layers': 3, 'item_ids': False}, 'item_graph': {'k': 5}}
    """
    merged = nest_flat_keys(dict(base))
    for table, value in nest_flat_keys(dict(update)).items():
        if isinstance(value, dict) and isinstance(merged.get(table), dict):
            merged[table] = {**merged[table], **value}
        else:
            merged[table] = value
    return merged


def fusion_graph_config(params: Mapping[str, Any]) -> FusionGraphConfig:
    """The validated config of ``params`` (nested or flat); ConfigError naming each bad key and the fix."""
    try:
        return FusionGraphConfig.model_validate(dict(params))
    except ValidationError as exc:
        raise ConfigError(f"fusiongraph got invalid parameters: {describe_errors(exc)}") from None


def describe_errors(exc: ValidationError) -> str:
    """One ``key: got value; what was expected`` per problem, joined by ``; `` (an unknown key: the closest ones)."""
    return describe_problems(exc, FusionGraphConfig)


__all__ = [
    "FLAT_KEYS",
    "ContentChannelConfig",
    "ContentConfig",
    "CoreConfig",
    "EaseChannelConfig",
    "FusionGraphConfig",
    "ItemGraphConfig",
    "LossConfig",
    "MembersConfig",
    "describe_errors",
    "fusion_graph_config",
    "merge_params",
    "nest_flat_keys",
]
