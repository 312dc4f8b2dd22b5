"""FusionGraph, the flagship: behaviour graph + content graph over an item tower that fuses ID and content.

What it is (the design is in ``docs/architecture.md``, the evidence behind
each choice in ``docs/decisions/``):

* **Item tower.** An item's layer-0 vector is its ID embedding plus the
  fusion (:mod:`fusionrec.fusion`, masked) of every modality the data
  has. Items without a training interaction have no trained ID, so their
  ID part is zero and content alone places them: cold items are scored,
  and :meth:`FusionGraph.content_item_vectors` places brand-new items in
  the same space without retraining.
* **Behaviour graph.** LightGCN propagation of users and item-tower
  vectors over the normalised user-item graph (mean of the layers).
* **Content graph.** The item-tower vectors are also propagated over a
  frozen item-item graph made by a registered builder (by default each
  modality's top-``k`` cosine graph, the FREEDOM / LATTICE idea; built in
  row chunks, ``O(n_items x k)`` memory,
  :mod:`~fusionrec.models.item_graph_registry`) and added to the item
  vectors with weight ``item_graph.weight`` (optionally raised for items
  with few training interactions, ``item_graph.boost``).
* **Loss.** A registered loss (:mod:`~fusionrec.models.loss_registry`); by
  default the full softmax over the whole catalog, on cosine scores with a
  temperature: per batch of users, ``-log softmax(cos(u, .) / t)`` of
  each training item. Catalog-wide negatives beat one-sample BPR by a
  wide margin on sparse data, and cost one (users x items) product.
* **Add-ons.** An ensemble of ``members``, the fixed content channel
  (:mod:`~fusionrec.models.content_channel`), the EASE channel and the
  second stage (:mod:`~fusionrec.models.fusion_graph_scoring`), each a
  table of the config (:mod:`~fusionrec.models.fusion_graph_config`).
* **ID dropout.** During training a share of items lose their ID part,
  so the content path learns to stand alone (cold items).

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("fusiongraph", core={"embedding_dim": 64}, train_config={"seed": 0})  # doctest: +SKIP
    >>> model.fit(split).recommend(["u1"], k=10)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import scipy.sparse as sp
import torch  # this module is imported only when a FusionGraph is built (see MODEL_REGISTRY)

from fusionrec.fusion import build_fusion
from fusionrec.models.batch_parts import user_part, whole_batch
from fusionrec.models.content import trained_items
from fusionrec.models.content_channel import ContentChannel
from fusionrec.models.freedom import DegreePruner
from fusionrec.models.fusion_graph_apart import fit_members_apart, merged_history
from fusionrec.models.fusion_graph_config import FusionGraphConfig, fusion_graph_config
from fusionrec.models.fusion_graph_content import (
    explained_vectors,
    joined,
    member_user_vectors,
    new_item_vectors,
    unit,
)
from fusionrec.models.fusion_graph_net import ID, FusionGraphMembers, FusionGraphNet, GraphInputs, graph_inputs
from fusionrec.models.fusion_graph_scoring import STAGE_PREFIX, ScoreAddOns
from fusionrec.models.graph import SparseOperator
from fusionrec.models.loss_registry import get_loss
from fusionrec.models.losses import info_nce
from fusionrec.models.training import TorchRecommender, TrainConfig, valid_figure
from fusionrec.models.user_content import build_user_content_path, user_alignment

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.ease_channel import EaseChannel
    from fusionrec.models.second_stage import BoostedTrees
    from fusionrec.models.training import History


class FusionGraph(TorchRecommender):
    """Behaviour graph + content graph over an ID-and-content item tower, trained with a catalog-wide loss.

    Args:
        train_config: optimisation settings; keys a dict leaves out take :attr:`train_defaults`
            (``batch_size`` counts users: a batch is every training item of that many users).
        **params: the settings, one table per component
            (:class:`~fusionrec.models.fusion_graph_config.FusionGraphConfig`:
            ``core``, ``loss``, ``content``, ``item_graph``, ``content_channel``, ``ease_channel``, ``members``,
            ``second_stage``, and ``user_content``, the user content path of
            :mod:`~fusionrec.models.user_content`, off unless set); the flat keys of earlier versions are read too.
            Validated here: a key that is unknown, given twice, out of range or in conflict with another
            raises a ConfigError naming it.
    """

    name: ClassVar[str] = "fusiongraph"
    scores_cold_items: ClassVar[bool] = True
    config_type: ClassVar[type[FusionGraphConfig]] = FusionGraphConfig
    train_defaults: ClassVar[dict[str, Any]] = {"lr": 0.01, "batch_size": 1024, "patience": 15, "average_decay": 0.97}

    def __init__(self, train_config: TrainConfig | dict[str, Any] | None = None, **params: Any) -> None:
        self.config = fusion_graph_config(params)
        super().__init__(train_config, **self.config.params())
        self._positives: tuple[np.ndarray, sp.csr_matrix] | None = None
        self._content_channel: ContentChannel | None = None
        self._softmax_items: tuple[torch.Tensor, torch.Tensor] | None = None
        self._degree_pruner: DegreePruner | None = None
        self._addons = ScoreAddOns(self.config.members.count, self.config.core.embedding_dim)

    def fit(self, split: Split) -> FusionGraph:
        """Train on ``split`` restricted to ``content.modalities`` (see :meth:`Split.with_modalities`)."""
        return super().fit(self._used(split))

    def _fit(self, split: Split) -> None:
        # early stopping scores without the add-ons: they are fitted once training is done
        self._addons = ScoreAddOns(self.config.members.count, self.config.core.embedding_dim)
        apart = self.config.members.count > 1 and self.config.members.training == "apart"
        if apart:
            self._fit_apart(split)
        else:
            super()._fit(split)
        assert self.history_ is not None
        started = time.perf_counter()
        train = split.train.to_csr()
        self._addons.fit_ease(train, self.config.ease_channel)
        if self.config.second_stage:
            assert self._user_vectors is not None and self._item_vectors is not None
            self._addons.fit_stage(split, train, self._user_vectors, self._item_vectors)
        if self._addons.active:
            seconds = time.perf_counter() - started
            self.history_.train_seconds += seconds
            self.history_.total_seconds += seconds
        if apart or self._addons.active:  # valid of the whole, unread by training
            self.history_.best_valid = valid_figure(self, split, self.train_config.valid_metric)

    def _fit_apart(self, split: Split) -> None:
        """Members trained one after another (:mod:`~fusionrec.models.fusion_graph_apart`), then joined."""
        no_ease = self.config.ease_channel.model_copy(update={"weight": 0.0})  # the whole adds EASE and the stage
        update = {"members": type(self.config.members)(), "ease_channel": no_ease, "second_stage": False}
        single_params = self.config.model_copy(update=update).params()

        def fit_single(seed: int) -> FusionGraph:
            config = self.train_config.model_copy(update={"seed": seed})
            return FusionGraph(**single_params, train_config=config).fit(split)

        fitted = fit_members_apart(fit_single, self.config.members.count, self.train_config.seed)
        self.module_ = FusionGraphMembers([net for model in fitted for net in model._nets()])
        first = fitted[0]  # the fixed inputs are the same for every member
        self._positives, self._softmax_items = first._positives, first._softmax_items
        self._degree_pruner, self._content_channel = first._degree_pruner, first._content_channel
        self.history_ = merged_history([cast("History", model.history_) for model in fitted])
        self.refresh_vectors()

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the vectors' product, plus the EASE channel when it is on; with a
        second stage, each user's candidates are lifted above the rest in its order."""
        scores = super().score_users(user_index)
        if not self._addons.active:
            return scores
        assert self.train_matrix_ is not None and self._user_vectors is not None and self._item_vectors is not None
        history = self.train_matrix_[user_index]
        users = self._user_vectors[user_index]
        return self._addons.apply(scores, users, self._item_vectors, history, self.train_matrix_)

    def first_stage_scores(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the score before the second stage (what it reorders; all of it without one)."""
        scores = super().score_users(user_index)
        assert self.train_matrix_ is not None
        return self._addons.first_stage(scores, self.train_matrix_[user_index])[0]

    def query_scores(self, query: np.ndarray, items: np.ndarray, history: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """float32 (n_items,): the model's full score of one query vector (a user's, or a profile built from
        events) over ``items`` (the catalog as served, new items included), with the EASE channel of
        ``history`` and the second stage, which never picks ``seen`` items. What the service ranks by."""
        assert self.train_matrix_ is not None
        scores = (query[None, :] @ items.T).astype(np.float32)
        return self._addons.query(scores, query, items, history, seen, self.train_matrix_)

    def second_stage(self) -> BoostedTrees | None:
        """The fitted second stage, or None when ``second_stage`` is off."""
        return self._addons.stage

    def ease_channel(self) -> EaseChannel | None:
        """The fitted EASE channel, or None when ``ease_channel.weight`` is 0 (vector retrieval leaves it out)."""
        return self._addons.ease

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The networks' weights and, with a second stage, its trees (``second_stage.*``)."""
        return super().state_arrays() | self._addons.arrays()

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Rebuild the networks and load their weights and second stage; the EASE channel is refitted from
        ``split.train``."""
        used = self._used(split)
        addons = ScoreAddOns(self.config.members.count, self.config.core.embedding_dim)
        addons.load_stage(arrays)
        super().load_state_arrays(used, {k: v for k, v in arrays.items() if not k.startswith(STAGE_PREFIX)})
        addons.fit_ease(used.train.to_csr(), self.config.ease_channel)
        self._addons = addons

    def _used(self, split: Split) -> Split:
        chosen = self.config.content.modalities
        return split if chosen is None else split.with_modalities(chosen)

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """The network (or ``members.count`` of them) over the features, the user-item graph and the content graph."""
        config = self.config
        inputs = graph_inputs(split, config)
        trained, train = trained_items(split), split.train.to_csr()
        nets = [self._member(split, inputs) for _ in range(config.members.count)]
        self._attach_content_channel(split)
        self._softmax_items = self._softmax_catalog(trained)
        edge_dropout = config.core.edge_dropout
        self._degree_pruner = DegreePruner(train, edge_dropout) if edge_dropout > 0 else None
        return nets[0] if len(nets) == 1 else FusionGraphMembers(nets)

    def _member(self, split: Split, inputs: GraphInputs) -> FusionGraphNet:
        """One freshly initialised network over the shared inputs (its fusion module first, then its user content
        path when ``user_content`` is set, then its embeddings)."""
        content = self.config.content
        dims = {m: int(v.shape[1]) for m, v in inputs.features.items()}
        fusion_params = {"dropout": content.dropout, **(content.fusion_params or {})}
        dim = self.config.core.embedding_dim
        fusion = build_fusion(content.fusion, dims, dim, **fusion_params) if dims else None
        user_content = build_user_content_path(split, self.config.user_content, dim)
        return FusionGraphNet(self.config.core, self.config.item_graph, inputs, fusion, user_content)

    def _softmax_catalog(self, trained: np.ndarray) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(items, position)`` of the loss's catalog: int64 item indices and each item's column (-1 = out).

        Args:
            trained: bool (n_items,) items with a training interaction.

        Returns:
            None when the loss runs over every item (``loss.negatives="all"``).
        """
        if self.config.loss.negatives == "all":
            return None
        items = np.flatnonzero(trained)
        position = np.full(len(trained), -1, dtype=np.int64)
        position[items] = np.arange(len(items))
        return torch.from_numpy(items.astype(np.int64)), torch.from_numpy(position)

    def _attach_content_channel(self, split: Split) -> None:
        """The fixed content channel (:class:`~fusionrec.models.content_channel.ContentChannel`), when weighted."""
        weight, prior = self.config.content_channel.weight, self.config.content_channel.prior
        used = split.dataset.features and weight
        self._content_channel = ContentChannel.build(split, weight, prior) if used else None

    def batches(self, split: Split, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        """Shuffled users with training items, ``batch_size`` at a time: ``(users, rows, items)``.

        ``rows`` (int64) points into ``users`` and ``items`` are the matching positives,
        one entry per training interaction of the batch's users.
        """
        if self._positives is None or self._positives[1].shape != (split.n_users, split.n_items):
            train = split.train.to_csr()
            self._positives = (np.flatnonzero(np.diff(train.indptr) > 0), train)
        active, train = self._positives
        assert self.module_ is not None
        nets = _nets(self.module_)
        pruned = None if self._degree_pruner is None else SparseOperator(self._degree_pruner.sample(rng))
        for net in nets:
            net.use_user_graph(pruned)
        order = rng.permutation(active)
        size = min(self.train_config.batch_size, -(-len(order) // self.config.core.min_batches))
        for start in range(0, len(order), size):
            users = order[start : start + size]
            block = train[users].tocoo()  # (batch, n_items) positives
            yield (
                torch.from_numpy(users.astype(np.int64)),
                torch.from_numpy(block.row.astype(np.int64)),
                torch.from_numpy(block.col.astype(np.int64)),
            )
        for net in nets:
            net.use_user_graph(None)

    def shard_batch(self, batch: tuple[torch.Tensor, ...], rank: int, world: int) -> tuple[Any, float]:
        """A contiguous run of the batch's users with their pairs; weight = its pairs over the batch's
        (the ranking loss is a mean over pairs; the alignment terms run on the whole batch in every part)."""
        return (batch, 1.0) if world == 1 else user_part(batch, rank, world)

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The configured loss (:mod:`~fusionrec.models.loss_registry`) plus ``content.align_weight`` x the
        batch's ID-content alignment; with several members, the sum of theirs (each learns as it would alone)."""
        losses = [self._member_loss(net, batch) for net in _nets(module)]
        return losses[0] if len(losses) == 1 else torch.stack(losses).sum()

    def _member_loss(self, net: FusionGraphNet, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        users, rows, items = batch
        keep = None
        id_dropout = self.config.core.id_dropout
        if id_dropout > 0:
            keep = torch.bernoulli(torch.full((net.warm.shape[0], 1), 1.0 - id_dropout))
        parts = net.item_parts(keep)
        layer0 = sum(parts.values())
        assert isinstance(layer0, torch.Tensor)
        all_users, all_items = net.propagate_items(net.layer0_users(), layer0)
        catalog, positives = all_items, items
        if self._softmax_items is not None:
            catalog, positives = all_items[self._softmax_items[0]], self._softmax_items[1][items]
        settings = self.config.loss
        loss = get_loss(settings.name)(all_users[users], catalog, rows, positives, settings)
        whole_users, _, whole_items = whole_batch(batch)  # contrastive terms over the batch, not per pair
        align_weight = self.config.content.align_weight
        if align_weight and len(parts) > 1:
            batch_items = torch.unique(whole_items)
            content = layer0[batch_items] - parts[ID][batch_items]  # (m, d): the modalities' share
            alignment = info_nce(net.item_embedding[batch_items], content, settings.temperature)
            loss = loss + align_weight * alignment
        return loss + user_alignment(net.user_content, whole_users, net.user_embedding)

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """float32 user (n_users, D) and item (n_items, D) vectors; score = user . item.

        The first ``members x embedding_dim`` columns are each member's unit-norm
        learned vectors over sqrt(members) (their product is the mean cosine);
        with ``content_channel.weight`` > 0 the fixed content channel follows
        (see :meth:`_attach_content_channel`).
        """
        outputs = [net() for net in _nets(module)]
        users = joined([unit(u) for u, _ in outputs])
        items = joined([unit(i) for _, i in outputs])
        channel = self._content_channel
        if channel is None:
            return users, items
        return np.hstack([users, channel.user_columns()]), np.hstack([items, channel.items])

    def content_item_vectors(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
        """Vectors of items known only by content, in the space of :meth:`item_embeddings`.

        An item without interactions is an isolated node of the behaviour graph and reaches the content
        graph through the rows the item-graph builder gives it, exactly as the catalog's own cold items
        (:func:`~fusionrec.models.fusion_graph_content.member_content_vectors`).

        Args:
            features: ``{modality: float (n, d_m)}``, any subset of the trained modalities.
            masks: ``{modality: bool (n,)}`` usable rows (missing = all usable).

        Returns:
            float32 (n, D) vectors: the unit learned part, then the fixed content
            channel when ``content_channel.weight`` > 0.

        Example:
            >>> vectors = model.content_item_vectors({"image": new_images}, {})  # doctest: +SKIP
            >>> scores = model.user_embeddings(users) @ vectors.T  # doctest: +SKIP
        """
        dataset = self._require_fitted().dataset
        features = {m: v for m, v in features.items() if m in dataset.features}
        masks = {m: v for m, v in masks.items() if m in dataset.features}
        learned = new_item_vectors(self._nets(), self.config.item_graph, dataset, features, masks)
        if self._content_channel is None:
            return learned
        return np.hstack([learned, self._content_channel.new_item_columns(features, masks)])

    def content_user_vectors(self, user_index: np.ndarray, content: np.ndarray) -> np.ndarray | None:
        """float32 (m, D) vectors of trained users whose user content is replaced by ``content`` (m, d_content),
        in the space of :meth:`user_embeddings`; None when ``user_content`` is off (no user path to feed)."""
        nets = self._nets()
        if nets[0].user_content is None:
            return None
        learned = joined([member_user_vectors(net, user_index, content.astype(np.float32)) for net in nets])
        if self._content_channel is None:
            return learned
        return np.hstack([learned, self._content_channel.user_columns()[user_index]])

    def modality_item_vectors(self) -> dict[str, np.ndarray]:
        """``{"id": ..., modality: ...}`` float32 (n_items, d) parts that sum to :meth:`item_embeddings`.

        ``"id"`` holds everything behaviour contributes (ID embeddings, the
        users reached through the graph, the no-content vector); each
        modality holds what its features contribute after propagation.
        """
        result = explained_vectors(self._nets())
        channel = self._content_channel
        if channel is None:
            return result
        dataset = self._require_fitted().dataset
        blocks = channel.item_blocks(dataset.features, dataset.all_feature_masks())  # each (n_items, D_content)
        for name, learned in result.items():
            block = blocks.get(name, np.zeros((len(learned), channel.space.dim), np.float32))
            result[name] = np.hstack([learned, block])
        return result

    def _nets(self) -> list[FusionGraphNet]:
        """The fitted member networks, in eval mode."""
        self._require_fitted()
        assert self.module_ is not None
        self.module_.eval()
        return _nets(self.module_)


def _nets(module: torch.nn.Module) -> list[FusionGraphNet]:
    return module.nets() if isinstance(module, FusionGraphMembers) else [cast(FusionGraphNet, module)]
