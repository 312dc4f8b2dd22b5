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
  frozen item-item top-``knn_k`` cosine graph of each modality (FREEDOM /
  LATTICE idea; built in row chunks, ``O(n_items x k)`` memory) and added
  to the item vectors with weight ``item_graph_weight`` (optionally raised for
  items with few training interactions, ``item_graph_boost``).
* **Loss.** Full softmax over the whole catalog, on cosine scores with a
  temperature: per batch of users, ``-log softmax(cos(u, .) / t)`` of
  each training item. Catalog-wide negatives beat one-sample BPR by a
  wide margin on sparse data, and cost one (users x items) product.
* **ID dropout.** During training a share of items lose their ID part,
  so the content path learns to stand alone (cold items).

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("fusiongraph", train_config={"seed": 0})  # doctest: +SKIP
    >>> model.fit(split).recommend(["u1"], k=10)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import scipy.sparse as sp
import torch  # this module is imported only when a FusionGraph is built (see MODEL_REGISTRY)
import torch.nn.functional as F

from fusionrec.errors import ConfigError
from fusionrec.fusion import build_fusion
from fusionrec.models.content import as_tensors, content_tensors, interaction_fade, trained_items
from fusionrec.models.content_channel import ContentChannel
from fusionrec.models.ease_channel import EaseChannel
from fusionrec.models.freedom import DegreePruner
from fusionrec.models.fusion_graph_apart import fit_members_apart, merged_history
from fusionrec.models.fusion_graph_net import ID, FusionGraphMembers, FusionGraphNet, unit_scale
from fusionrec.models.graph import Perturbation, SparseOperator, normalized_adjacency
from fusionrec.models.knn_graph import Whitening, knn_query, modality_graph, normalized_weights
from fusionrec.models.losses import bf16_supported, info_nce, softmax_loss
from fusionrec.models.second_stage import BoostedTrees, Candidates, ScoreParts, fit_trees, reranked_scores
from fusionrec.models.training import TorchRecommender, TrainConfig, valid_figure
from fusionrec.models.user_content import build_user_content_path, user_alignment, user_content_config

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.sampling import NegativePool
    from fusionrec.models.training import History


class FusionGraph(TorchRecommender):
    """Behaviour graph + content graph over an ID-and-content item tower, trained with full softmax.

    Args:
        embedding_dim: size of every vector.
        n_layers: propagations over the user-item graph.
        knn_k: neighbours per item in each modality's item-item graph.
        item_graph_weight: weight of the content-graph term in the item vectors (0 = no content graph).
        item_graph_boost: ``b`` > 0 raises an item's content-graph term by ``1 + b * c / (c + d)``, ``d``
            being its training interactions and ``c`` ``item_graph_prior``: items behaviour knows little
            about lean more on their content neighbours (items without interactions, and new items, get
            ``1 + b``); 0 = the same weight for every item.
        item_graph_prior: ``c`` of ``item_graph_boost`` (> 0).
        n_item_graph_layers: propagations over the item-item graph.
        modality_weights: ``{modality: weight}`` of the modality graphs; None = equal.
        fusion: how modalities are fused: ``"weighted"``, ``"gated"``, ``"concat"`` or ``"transformer"``.
        fusion_params: other keyword arguments of the fusion module (e.g. ``{"hidden": 128}``).
        content_dropout: dropout on the content features as they enter the fusion (training only);
            it keeps the content path from memorising the catalog, which is what lets it place
            items never seen in training.
        temperature: softmax temperature of the cosine scores.
        id_dropout: share of items whose ID part is dropped in each training step.
        align_weight: weight of the InfoNCE alignment between an item's ID embedding and its
            content vector (items of the batch; 0 = off), which teaches the content path what
            behaviour says about an item, for items that have no behaviour yet.
        init_std: standard deviation of the ID embeddings at initialisation.
        content_similarity_weight: weight of the fixed content channel: the score gains this times
            the mean content similarity between the item and the user's training items (0 = off).
        content_similarity_prior: ``c`` > 0 fades the content channel of an item by ``c / (c + d)``, ``d``
            being its training interactions (:mod:`~fusionrec.models.content_channel`): content similarity
            speaks for the items behaviour knows little about; 0 = every item keeps the full channel.
        min_batches: the fewest batches per epoch: on data with few users the batch is shrunk
            below ``train_config.batch_size`` so that an epoch still takes this many steps.
        item_ids: give items an ID embedding; False makes items purely content (the ablation's
            "content only": users still have IDs, items are known only by their features).
        bf16_scores: compute the training loss's (batch, n_items) score product in bfloat16;
            None = where the CPU has bfloat16 instructions (:func:`~fusionrec.models.losses.bf16_supported`).
            Scoring for evaluation and serving is always float32.
        negatives: the softmax's catalog: ``"train"`` = items with a training interaction, ``"all"`` =
            every item. Items nobody has interacted with are never a positive, so over ``"all"``
            every step pushes them away from every user, and the content path learns to bury
            exactly the cold items it exists to place.
        modalities: the modalities to use (None = every one the data has); the others are ignored
            in training, for new items and in explanations.
        edge_dropout: share of user-item edges pruned each training epoch, degree-sensitively as in
            FREEDOM (:class:`~fusionrec.models.freedom.DegreePruner`); evaluation uses the full graph.
        content_prior: ``c`` > 0 weighs an item's content by ``c / (c + d)``, ``d`` being its training
            interactions: content is a prior that behaviour overrides as evidence grows (items without
            interactions, and new items, keep all of it). 0 = the same weight for every item.
        members: independently initialised networks trained side by side, each with its own loss, and
            scored by the mean of their cosines (an ensemble; the graphs and features are shared).
            Each member costs what one model costs per epoch; valid chooses the epoch of the whole.
        member_training: ``"joint"`` trains the members side by side in one loop (an epoch costs
            ``members`` single epochs; valid chooses one epoch for all); ``"apart"`` trains them one after
            another, each with its own seed and early stopping (an epoch costs what a single model's
            does; see :mod:`~fusionrec.models.fusion_graph_apart`).
        embedding_noise: radius of the random perturbation added to every propagated layer of the
            user-item graph in training (SimGCL's uniform noise, :class:`~fusionrec.models.graph.Perturbation`);
            0 = off. Scoring, evaluation and explanations use the exact propagation.
        graph_whitening: modalities whose item-item graph compares PCA-whitened features
            (:class:`~fusionrec.models.knn_graph.Whitening`, fitted on the catalog) instead of raw ones;
            new items are whitened with the catalog's transform. None = raw features for every modality.
        ease_weight: weight of EASE's item-item scores of the user's training items, standardised per user
            over the catalog, added to the score once training is done
            (:class:`~fusionrec.models.ease_channel.EaseChannel`); 0 = off. Early stopping does not see it;
            scoring, evaluation and serving do. ``B`` is a dense n_items x n_items matrix.
        ease_l2: EASE's ridge penalty for ``ease_weight``.
        second_stage: after training (and the EASE channel), fit a second stage on ``split.valid``'s
            held-out items that reorders each user's 100 best items from a few features of the score's parts
            and of the item's and user's training interactions (:mod:`~fusionrec.models.second_stage`);
            scoring, evaluation and serving apply it. Needs a valid part; valid figures read afterwards are
            in-sample for it. False = off.
        unit_layer0: scale every layer-0 user and item vector to unit length times the mean length of
            its kind before propagation (the mean is a constant of the step), so that the graph, not
            the length training gave a vector, decides how much a neighbour counts. Cold and new items
            are placed with the catalog's mean length. False = the vectors as they are. Not for
            ``item_ids=False``: TikTok's content-only variant collapses with it
            (``docs/decisions/0002-content-path.md``).
        user_content: settings of the user content path (:mod:`~fusionrec.models.user_content`): a user's layer-0
            vector is its ID plus the projection of ``split.user_content``, aligned with the ID by InfoNCE
            (``align_weight``); None = off. Needs a split with user content.
        train_config: optimisation settings; keys a dict leaves out take :attr:`train_defaults`
            (``batch_size`` counts users: a batch is every training item of that many users).
    """

    name: ClassVar[str] = "fusiongraph"
    scores_cold_items: ClassVar[bool] = True
    train_defaults: ClassVar[dict[str, Any]] = {"lr": 0.01, "batch_size": 1024, "patience": 15, "average_decay": 0.97}

    def __init__(
        self,
        embedding_dim: int = 128,
        n_layers: int = 2,
        knn_k: int = 10,
        item_graph_weight: float = 1.0,
        item_graph_boost: float = 0.0,
        item_graph_prior: float = 10.0,
        n_item_graph_layers: int = 1,
        modality_weights: dict[str, float] | None = None,
        fusion: str = "weighted",
        fusion_params: dict[str, Any] | None = None,
        content_dropout: float = 0.5,
        temperature: float = 0.2,
        id_dropout: float = 0.0,
        align_weight: float = 0.0,
        init_std: float = 0.1,
        item_ids: bool = True,
        content_similarity_weight: float = 0.2,
        content_similarity_prior: float = 10.0,
        min_batches: int = 8,
        bf16_scores: bool | None = None,
        negatives: NegativePool = "train",
        modalities: list[str] | None = None,
        edge_dropout: float = 0.0,
        content_prior: float = 0.0,
        members: int = 1,
        member_training: str = "joint",
        embedding_noise: float = 0.1,
        graph_whitening: list[str] | None = None,
        ease_weight: float = 0.0,
        ease_l2: float = 200.0,
        unit_layer0: bool = False,
        second_stage: bool = False,
        user_content: dict[str, Any] | None = None,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            train_config,
            embedding_dim=embedding_dim,
            n_layers=n_layers,
            knn_k=knn_k,
            item_graph_weight=item_graph_weight,
            item_graph_boost=item_graph_boost,
            item_graph_prior=item_graph_prior,
            n_item_graph_layers=n_item_graph_layers,
            modality_weights=modality_weights,
            fusion=fusion,
            fusion_params=fusion_params,
            content_dropout=content_dropout,
            temperature=temperature,
            id_dropout=id_dropout,
            align_weight=align_weight,
            init_std=init_std,
            item_ids=item_ids,
            content_similarity_weight=content_similarity_weight,
            content_similarity_prior=content_similarity_prior,
            min_batches=min_batches,
            bf16_scores=bf16_scores,
            negatives=negatives,
            modalities=modalities,
            edge_dropout=edge_dropout,
            content_prior=content_prior,
            members=members,
            member_training=member_training,
            embedding_noise=embedding_noise,
            graph_whitening=graph_whitening,
            ease_weight=ease_weight,
            ease_l2=ease_l2,
            unit_layer0=unit_layer0,
            second_stage=second_stage,
            user_content=user_content,
        )
        _check(self.params)
        self._positives: tuple[np.ndarray, sp.csr_matrix] | None = None
        self._content_channel: ContentChannel | None = None
        self._softmax_items: tuple[torch.Tensor, torch.Tensor] | None = None
        self._degree_pruner: DegreePruner | None = None
        self._ease_channel: EaseChannel | None = None
        self._second_stage: BoostedTrees | None = None

    def get_params(self) -> dict[str, Any]:
        return {**self.params, "train_config": self.train_config.model_dump()}

    def fit(self, split: Split) -> FusionGraph:
        """Train on ``split`` restricted to ``modalities`` (see :meth:`Split.with_modalities`)."""
        return super().fit(self._used(split))

    def _fit(self, split: Split) -> None:
        self._ease_channel = self._second_stage = None  # early stopping scores without them
        apart = self.params["members"] > 1 and self.params["member_training"] == "apart"
        if apart:
            self._fit_apart(split)
        else:
            super()._fit(split)
        assert self.history_ is not None
        started = time.perf_counter()
        with_channel = self._attach_ease_channel(split)
        if self.params["second_stage"]:
            self._second_stage = self._fit_second_stage(split)
        if with_channel or self._second_stage is not None:
            seconds = time.perf_counter() - started
            self.history_.train_seconds += seconds
            self.history_.total_seconds += seconds
        if apart or with_channel or self._second_stage is not None:  # valid of the whole, unread by training
            self.history_.best_valid = valid_figure(self, split, self.train_config.valid_metric)

    def _fit_apart(self, split: Split) -> None:
        """Members trained one after another (:mod:`~fusionrec.models.fusion_graph_apart`), then joined."""
        fitted = fit_members_apart(self, split)
        self.module_ = FusionGraphMembers([net for single in fitted for net in single._nets()])
        first = fitted[0]  # the fixed inputs are the same for every member
        self._positives, self._softmax_items, self._degree_pruner = (
            first._positives,
            first._softmax_items,
            first._degree_pruner,
        )
        self._content_channel = first._content_channel
        self.history_ = merged_history([cast("History", single.history_) for single in fitted])
        self.refresh_vectors()

    def _attach_ease_channel(self, split: Split) -> bool:
        """Fit the EASE channel on ``split.train`` when ``ease_weight`` > 0; True when it was fitted."""
        weight = self.params["ease_weight"]
        if weight:
            self._ease_channel = EaseChannel.fit(split.train.to_csr(), self.params["ease_l2"], weight)
        return bool(weight)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the vectors' product, plus the EASE channel when ``ease_weight`` > 0; with a
        second stage, each user's candidates are lifted above the rest in its order."""
        scores, ease, history = self._first_stage(user_index)
        if self._second_stage is None:
            return scores
        assert self._user_vectors is not None and self._item_vectors is not None
        return self._staged(scores, self._user_vectors[user_index], self._item_vectors, ease, history, history)

    def first_stage_scores(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the score before the second stage (what it reorders; all of it without one)."""
        return self._first_stage(user_index)[0]

    def _first_stage(self, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, sp.csr_matrix]:
        """(scores, the EASE channel's part or None, the users' training rows)."""
        scores = super().score_users(user_index)
        assert self.train_matrix_ is not None
        history = self.train_matrix_[user_index]
        ease = None if self._ease_channel is None else self._ease_channel.scores(history)
        if ease is not None:
            scores += ease
        return scores, ease, history

    def query_scores(self, query: np.ndarray, items: np.ndarray, history: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """float32 (n_items,): the model's full score of one query vector (a user's, or a profile built from
        events) over ``items`` (the catalog as served, new items included), with the EASE channel of
        ``history`` and the second stage, which never picks ``seen`` items. What the service ranks by."""
        n_items = len(items)
        scores = (query[None, :] @ items.T).astype(np.float32)
        ease = None
        if self._ease_channel is not None:
            ease = self._ease_channel.history_scores(np.asarray(history, dtype=np.int64), n_items)[None, :]
            scores += ease
        if self._second_stage is not None:
            scores = self._staged(scores, query[None, :], items, ease, _row(history, n_items), _row(seen, n_items))
        return np.asarray(scores[0])

    def second_stage(self) -> BoostedTrees | None:
        """The fitted second stage, or None when ``second_stage`` is off."""
        return self._second_stage

    def _staged(
        self,
        scores: np.ndarray,
        users: np.ndarray,
        items: np.ndarray,
        ease: np.ndarray | None,
        history: sp.csr_matrix,
        seen: sp.csr_matrix,
    ) -> np.ndarray:
        """``scores`` (n, n_items) with each row's candidates reordered by the second stage, in row chunks."""
        assert self._second_stage is not None
        result, degree = np.empty_like(scores), self._item_degree(len(items))
        for rows in _chunks(len(scores)):
            part = None if ease is None else ease[rows]
            candidates = self._candidates(users[rows], items, part, history[rows], seen[rows], degree)
            result[rows] = reranked_scores(scores[rows], candidates, self._second_stage)
        return result

    def _candidates(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ease: np.ndarray | None,
        history: sp.csr_matrix,
        seen: sp.csr_matrix,
        item_degree: np.ndarray,
    ) -> Candidates:
        """The second stage's candidates of ``users`` (n, D) and their features."""
        parts = self._score_parts(users, items, ease)
        return Candidates.build(parts, seen, item_degree, np.diff(history.indptr).astype(np.float64))

    def _score_parts(self, users: np.ndarray, items: np.ndarray, ease: np.ndarray | None) -> ScoreParts:
        """The first stage's score of ``users`` (n, D) over ``items`` by part: members, content, EASE."""
        members, dim = self.params["members"], self.params["embedding_dim"]
        cosines = tuple(members * (users[:, b] @ items[:, b].T) for b in _member_blocks(members, dim))
        learned = members * dim
        content = users[:, learned:] @ items[:, learned:].T if users.shape[1] > learned else np.zeros_like(cosines[0])
        return ScoreParts(cosines, content, np.zeros_like(cosines[0]) if ease is None else ease)

    def _item_degree(self, n_items: int) -> np.ndarray:
        """float64 (n_items,) training interactions of each item (0 for items added after training)."""
        assert self.train_matrix_ is not None
        counts = np.bincount(self.train_matrix_.indices, minlength=self.train_matrix_.shape[1]).astype(np.float64)
        return np.pad(counts, (0, max(0, n_items - len(counts))))[:n_items]

    def _fit_second_stage(self, split: Split) -> BoostedTrees:
        """The second stage, fitted on the held-out items of ``split.valid``'s users."""
        valid, train = split.valid.to_csr(), split.train.to_csr()
        users = np.flatnonzero(np.diff(valid.indptr) > 0)
        if not len(users):
            raise ConfigError(
                "second_stage=True needs valid interactions to learn from, but the split's valid part is empty; "
                "split with a valid part or set second_stage=False"
            )
        assert self._user_vectors is not None and self._item_vectors is not None
        degree, features, labels = self._item_degree(split.n_items), [], []
        for rows in _chunks(len(users)):
            chunk = users[rows]
            history = train[chunk]
            ease = None if self._ease_channel is None else self._ease_channel.scores(history)
            candidates = self._candidates(self._user_vectors[chunk], self._item_vectors, ease, history, history, degree)
            features.append(candidates.features)
            labels.append(candidates.labels(valid[chunk]))
        return fit_trees(np.vstack(features), np.concatenate(labels))

    def ease_channel(self) -> EaseChannel | None:
        """The fitted EASE channel, or None when ``ease_weight`` is 0 (vector retrieval leaves it out)."""
        return self._ease_channel

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The networks' weights and, with a second stage, its trees (``second_stage.*``)."""
        arrays = super().state_arrays()
        if self._second_stage is not None:
            arrays |= self._second_stage.arrays(_STAGE_PREFIX)
        return arrays

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        """Rebuild the networks and load their weights and second stage; the EASE channel is refitted from
        ``split.train``."""
        used = self._used(split)
        stage = {k: v for k, v in arrays.items() if k.startswith(_STAGE_PREFIX)}
        super().load_state_arrays(used, {k: v for k, v in arrays.items() if k not in stage})
        self._attach_ease_channel(used)
        self._second_stage = BoostedTrees.from_arrays(stage, _STAGE_PREFIX) if stage else None

    def _used(self, split: Split) -> Split:
        chosen = self.params["modalities"]
        return split if chosen is None else split.with_modalities(chosen)

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """The network (or ``members`` of them) with the features, the user-item graph and the content graph."""
        p = self.params
        features, masks = content_tensors(split.dataset)
        trained, train = trained_items(split), split.train.to_csr()
        user_graph = SparseOperator(normalized_adjacency(train))
        item_graph = SparseOperator(self._catalog_graph(split)) if features and p["item_graph_weight"] else None
        scales = self._content_scale(split), self._item_graph_scale(split)
        nets = [
            self._member(split, features, masks, trained, (user_graph, item_graph), scales) for _ in range(p["members"])
        ]
        self._attach_content_channel(split)
        self._softmax_items = self._softmax_catalog(trained)
        self._degree_pruner = DegreePruner(train, p["edge_dropout"]) if p["edge_dropout"] > 0 else None
        return nets[0] if len(nets) == 1 else FusionGraphMembers(nets)

    def _member(
        self,
        split: Split,
        features: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
        trained: np.ndarray,
        graphs: tuple[SparseOperator, SparseOperator | None],
        scales: tuple[torch.Tensor | None, torch.Tensor | None],
    ) -> FusionGraphNet:
        """One freshly initialised network over the shared features, ``(user-item, item-item)`` graphs and
        per-item weights of content and of the content graph (:meth:`_content_scale`, :meth:`_item_graph_scale`)."""
        p = self.params
        dims = {m: int(v.shape[1]) for m, v in features.items()}
        fusion_params = {"dropout": p["content_dropout"], **(p["fusion_params"] or {})}
        fusion = build_fusion(p["fusion"], dims, p["embedding_dim"], **fusion_params) if dims else None
        warm = torch.from_numpy(trained & p["item_ids"])
        net = FusionGraphNet(split.n_users, split.n_items, p["embedding_dim"], fusion, warm, p["init_std"])
        net.features, net.masks = features, masks
        net.user_graph = net.full_graph = graphs[0]
        net.n_layers, net.n_item_graph_layers = p["n_layers"], p["n_item_graph_layers"]
        net.item_graph_weight, net.item_graph = p["item_graph_weight"], graphs[1]
        net.content_scale, net.item_graph_scale = scales
        net.unit_layer0 = bool(p["unit_layer0"])
        net.user_content = build_user_content_path(split, user_content_config(p["user_content"]), p["embedding_dim"])
        if p["embedding_noise"] > 0:
            net.perturbation = Perturbation(p["embedding_noise"], int(torch.randint(2**62, ())))
        return net

    def _content_scale(self, split: Split) -> torch.Tensor | None:
        """float (n_items, 1) ``c / (c + training interactions)`` of each item (``content_prior`` = c); None = off."""
        prior = self.params["content_prior"]
        if not prior:
            return None
        return torch.from_numpy(interaction_fade(split, prior))

    def _item_graph_scale(self, split: Split) -> torch.Tensor | None:
        """float (n_items, 1) ``1 + b * c / (c + training interactions)`` (``item_graph_boost`` = b); None = off."""
        boost = self.params["item_graph_boost"]
        if not boost:
            return None
        return torch.from_numpy(1.0 + boost * interaction_fade(split, self.params["item_graph_prior"]))

    def _softmax_catalog(self, trained: np.ndarray) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(items, position)`` of the softmax's catalog: int64 item indices and each item's column (-1 = out).

        Args:
            trained: bool (n_items,) items with a training interaction.

        Returns:
            None when the softmax runs over every item (``negatives="all"``).
        """
        if self.params["negatives"] == "all":
            return None
        items = np.flatnonzero(trained)
        position = np.full(len(trained), -1, dtype=np.int64)
        position[items] = np.arange(len(items))
        return torch.from_numpy(items.astype(np.int64)), torch.from_numpy(position)

    def _attach_content_channel(self, split: Split) -> None:
        """The fixed content channel (:class:`~fusionrec.models.content_channel.ContentChannel`), when weighted."""
        weight = self.params["content_similarity_weight"]
        prior = self.params["content_similarity_prior"]
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
        if self._degree_pruner is not None:
            pruned = SparseOperator(self._degree_pruner.sample(rng))
            for net in nets:
                net.user_graph = pruned
        order = rng.permutation(active)
        size = min(self.train_config.batch_size, -(-len(order) // max(self.params["min_batches"], 1)))
        for start in range(0, len(order), size):
            users = order[start : start + size]
            block = train[users].tocoo()  # (batch, n_items) positives
            yield (
                torch.from_numpy(users.astype(np.int64)),
                torch.from_numpy(block.row.astype(np.int64)),
                torch.from_numpy(block.col.astype(np.int64)),
            )
        for net in nets:
            net.user_graph = net.full_graph

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Softmax over the catalog (see ``negatives``) plus ``align_weight`` x the batch's ID-content alignment.

        The ranking term is the mean over the batch's interactions of
        ``-log softmax_items(cos(u, i) / temperature)``; with several ``members``
        the loss is the sum of theirs, so each member learns as it would alone.
        """
        losses = [self._member_loss(net, batch) for net in _nets(module)]
        return losses[0] if len(losses) == 1 else torch.stack(losses).sum()

    def _member_loss(self, net: FusionGraphNet, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        users, rows, items = batch
        keep = None
        if self.params["id_dropout"] > 0:
            keep = torch.bernoulli(torch.full((net.warm.shape[0], 1), 1.0 - self.params["id_dropout"]))
        parts = net.item_parts(keep)
        layer0 = sum(parts.values())
        assert isinstance(layer0, torch.Tensor)
        all_users, all_items = net.propagate_items(net.layer0_users(), layer0)
        bf16 = self.params["bf16_scores"]
        bf16 = bf16_supported() if bf16 is None else bf16
        catalog, positives = all_items, items
        if self._softmax_items is not None:
            catalog, positives = all_items[self._softmax_items[0]], self._softmax_items[1][items]
        loss = softmax_loss(all_users[users], catalog, rows, positives, self.params["temperature"], bf16)
        if self.params["align_weight"] and len(parts) > 1:
            batch_items = torch.unique(items)
            content = layer0[batch_items] - parts[ID][batch_items]  # (m, d): the modalities' share
            alignment = info_nce(net.item_embedding[batch_items], content, self.params["temperature"])
            loss = loss + self.params["align_weight"] * alignment
        return loss + user_alignment(net.user_content, users, net.user_embedding)

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """float32 user (n_users, D) and item (n_items, D) vectors; score = user . item.

        The first ``members x embedding_dim`` columns are each member's unit-norm
        learned vectors over sqrt(members) (their product is the mean cosine);
        with ``content_similarity_weight`` > 0 the fixed content channel follows
        (see :meth:`_attach_content_channel`).
        """
        outputs = [net() for net in _nets(module)]
        users = _joined([_unit(u) for u, _ in outputs])
        items = _joined([_unit(i) for _, i in outputs])
        channel = self._content_channel
        if channel is None:
            return users, items
        return np.hstack([users, channel.user_columns()]), np.hstack([items, channel.items])

    def content_item_vectors(self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]) -> np.ndarray:
        """Vectors of items known only by content, in the space of :meth:`item_embeddings`.

        An item without interactions is an isolated node of the behaviour
        graph (its propagated vector is its content vector over
        ``n_layers + 1``) and reaches the content graph through its top-``knn_k``
        neighbours among the catalog, exactly as the catalog's own cold items.

        Args:
            features: ``{modality: float (n, d_m)}``, any subset of the trained modalities.
            masks: ``{modality: bool (n,)}`` usable rows (missing = all usable).

        Returns:
            float32 (n, D) vectors: the unit learned part, then the fixed content
            channel when ``content_similarity_weight`` > 0.

        Example:
            >>> vectors = model.content_item_vectors({"image": new_images}, {})  # doctest: +SKIP
            >>> scores = model.user_embeddings(users) @ vectors.T  # doctest: +SKIP
        """
        used = self._require_fitted().dataset.features
        features = {m: v for m, v in features.items() if m in used}
        masks = {m: v for m, v in masks.items() if m in used}
        learned = self._learned_content_vectors(features, masks)
        if self._content_channel is None:
            return learned
        return np.hstack([learned, self._content_channel.new_item_columns(features, masks)])

    def _learned_content_vectors(
        self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """float32 (n, members x embedding_dim) learned part for content-only items (as :meth:`embed`)."""
        split = self._require_fitted()
        values, flags = as_tensors(features, {m: masks[m] for m in features if m in masks})
        n = next(iter(values.values())).shape[0] if values else 0
        graph_used = n and values and self.params["item_graph_weight"]
        neighbours = self._query_graph(split, features, masks) if graph_used else None  # (n, n_items)
        return _joined([self._member_content_vectors(net, values, flags, neighbours) for net in self._nets()])

    def _member_content_vectors(
        self,
        net: FusionGraphNet,
        values: dict[str, torch.Tensor],
        flags: dict[str, torch.Tensor],
        neighbours: sp.csr_matrix | None,
    ) -> np.ndarray:
        """float32 (n, embedding_dim) unit vectors of one member for content-only items."""
        n = next(iter(values.values())).shape[0] if values else 0
        with torch.no_grad():
            if net.fusion is None or n == 0:
                return np.zeros((n, self.params["embedding_dim"]), dtype=np.float32)
            layer0 = net.fusion(values, flags)  # (n, d)
            graph_used = net.item_graph is not None and neighbours is not None
            if not (net.unit_layer0 or graph_used):  # nothing here reads the catalog
                return _unit(layer0 / (net.n_layers + 1))
            catalog_items = net.layer0_items()
            if net.unit_layer0:  # as propagate_items scales the catalog's layer 0: to the catalog's mean length
                mean_length = catalog_items.norm(dim=1).mean()
                layer0 = layer0 * unit_scale(layer0, mean_length)
                catalog_items = catalog_items * unit_scale(catalog_items, mean_length)
            vectors = layer0 / (net.n_layers + 1)
            if graph_used:
                assert neighbours is not None
                base = net.item_graph_power(catalog_items, net.n_item_graph_layers - 1)  # (n_items, d)
                scale = 1.0 + self.params["item_graph_boost"]  # a new item has no training interactions
                vectors = vectors + net.item_graph_weight * scale * torch.from_numpy(neighbours @ base.numpy())
        return _unit(vectors)

    def modality_item_vectors(self) -> dict[str, np.ndarray]:
        """``{"id": ..., modality: ...}`` float32 (n_items, d) parts that sum to :meth:`item_embeddings`.

        ``"id"`` holds everything behaviour contributes (ID embeddings, the
        users reached through the graph, the no-content vector); each
        modality holds what its features contribute after propagation.
        """
        per_member = [_explained_unit_parts(net) for net in self._nets()]
        result = {name: _joined([parts[name] for parts in per_member]) for name in per_member[0]}
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

    def _catalog_graph(self, split: Split) -> sp.csr_matrix:
        dataset = split.dataset
        masks = dataset.all_feature_masks()
        p = self.params
        whiten = p["graph_whitening"] or ()
        return modality_graph(dataset.features, p["knn_k"], masks, p["modality_weights"], whiten=whiten)

    def _query_graph(
        self, split: Split, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]
    ) -> sp.csr_matrix:
        """Rows of the content graph for new items: weight / k on each of their catalog neighbours."""
        dataset = split.dataset
        whiten = self.params["graph_whitening"] or ()
        share = normalized_weights(sorted(dataset.features), self.params["modality_weights"])
        n = len(next(iter(features.values())))
        total: sp.csr_matrix | None = None
        for name in sorted(dataset.features):
            if name not in features:
                continue
            catalog_mask, queries, catalog = dataset.feature_mask(name), features[name], dataset.features[name]
            if name in whiten:  # compared in the catalog graph's space
                transform = Whitening.fit(catalog, catalog_mask)
                queries, catalog = transform(queries), transform(catalog)
            graph = knn_query(queries, catalog, self.params["knn_k"], masks.get(name), catalog_mask)
            k = max(1, min(self.params["knn_k"], int(catalog_mask.sum())))
            graph = graph * (share[name] / k)  # = D^-1/2 A D^-1/2 with k neighbours per row
            total = graph if total is None else total + graph
        return (total if total is not None else sp.csr_matrix((n, split.n_items))).astype(np.float32)


def _nets(module: torch.nn.Module) -> list[FusionGraphNet]:
    return module.nets() if isinstance(module, FusionGraphMembers) else [cast(FusionGraphNet, module)]


_STAGE_PREFIX = "second_stage."
_STAGE_ROWS = 512  # users whose candidates are built at once: bounds the stage's (rows x n_items) temporaries


def _chunks(n: int, size: int = _STAGE_ROWS) -> Iterator[slice]:
    """Consecutive row slices of at most ``size`` covering ``range(n)``."""
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


def _row(items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """A (1, n_items) binary row of ``items``."""
    items = np.unique(np.asarray(items, dtype=np.int64))
    items = items[(items >= 0) & (items < n_items)]
    return sp.csr_matrix((np.ones(len(items), np.float32), (np.zeros(len(items), np.int64), items)), (1, n_items))


def _member_blocks(members: int, dim: int) -> list[slice]:
    """The columns of each member's learned block in the joined vectors."""
    return [slice(m * dim, (m + 1) * dim) for m in range(members)]


def _joined(blocks: list[np.ndarray]) -> np.ndarray:
    """Members' unit-vector blocks side by side over sqrt(members): their product is the mean cosine."""
    if len(blocks) == 1:
        return blocks[0]
    return (np.hstack(blocks) / np.float32(np.sqrt(len(blocks)))).astype(np.float32)


def _explained_unit_parts(net: FusionGraphNet) -> dict[str, np.ndarray]:
    """One member's final item vectors split by source, over the norm of their sum (they sum to its unit vectors)."""
    with torch.no_grad():
        parts = net.explained_items()
        total = sum(parts.values())
        assert isinstance(total, torch.Tensor)
        norm = total.norm(dim=1, keepdim=True).clamp_min(1e-12)  # as F.normalize
        return {name: (part / norm).numpy().astype(np.float32) for name, part in parts.items()}


def _unit(values: torch.Tensor) -> np.ndarray:
    return F.normalize(values.detach(), dim=1).numpy().astype(np.float32)


def _check(params: dict[str, Any]) -> None:
    """Raise one ConfigError naming every invalid hyper-parameter with what it must be."""
    p = params
    problems = []
    if p["embedding_dim"] < 1:
        problems.append(f"embedding_dim={p['embedding_dim']} (>= 1)")
    if p["n_layers"] < 0 or p["n_item_graph_layers"] < 1:
        problems.append(f"n_layers={p['n_layers']} (>= 0), n_item_graph_layers={p['n_item_graph_layers']} (>= 1)")
    if p["temperature"] <= 0:
        problems.append(f"temperature={p['temperature']} (> 0; 0.1 to 0.3 is usual)")
    if not 0 <= p["id_dropout"] < 1:
        problems.append(f"id_dropout={p['id_dropout']} (in [0, 1))")
    if p["negatives"] not in ("train", "all"):
        problems.append(f"negatives={p['negatives']!r} ('train' or 'all')")
    if p["members"] < 1:
        problems.append(f"members={p['members']} (>= 1; 1 = a single model)")
    if p["member_training"] not in ("joint", "apart"):
        problems.append(f"member_training={p['member_training']!r} ('joint' or 'apart')")
    if p["ease_weight"] < 0 or p["ease_l2"] <= 0:
        problems.append(
            f"ease_weight={p['ease_weight']} (>= 0; 0 = off), ease_l2={p['ease_l2']} (> 0; 50 to 500 usual)"
        )
    if p["item_graph_prior"] <= 0:
        problems.append(f"item_graph_prior={p['item_graph_prior']} (> 0; 10 is usual)")
    usual = {
        "embedding_noise": "0.1",
        "content_prior": "5 to 20",
        "content_similarity_prior": "5 to 20",
        "item_graph_boost": "1 to 2",
    }
    problems += [f"{name}={p[name]} (>= 0; 0 = off, {hint} usual)" for name, hint in usual.items() if p[name] < 0]
    user_content_config(p["user_content"])  # raises naming a bad setting
    if problems:
        raise ConfigError(f"FusionGraph got invalid hyper-parameters: {'; '.join(problems)}")
