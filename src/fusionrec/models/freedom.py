"""FREEDOM-style model: a frozen content item-item graph beside a LightGCN user-item graph.

Following Zhou & Shen (FREEDOM, ACM MM 2023), re-implemented here:

* For each modality a cosine top-``knn_k`` item graph is built once from
  the raw features (:func:`~fusionrec.models.knn_graph.modality_graph`,
  chunked, ``O(n_items x k)`` memory), normalised and summed with
  ``modality_weights``. It is frozen: never learned, never rebuilt.
* Item ID embeddings propagated ``n_mm_layers`` times over that graph are
  added to the LightGCN item vectors (``n_ui_layers`` propagations over
  the user-item graph).
* During training the user-item graph is pruned every epoch, keeping
  ``1 - edge_dropout`` of the edges sampled with probability
  ``1 / sqrt(d_u d_i)`` (degree-sensitive pruning); evaluation uses the
  full graph.
* Loss: BPR on the final vectors plus ``content_weight`` times a BPR loss
  of the user vectors against each modality's projected features, plus
  the usual norm penalty.

Items without any training interaction are not scored meaningfully (their
ID vectors are never trained), as in the original; see the flagship for
cold-start items.

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("freedom", knn_k=10, train_config={"lr": 1e-3})  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import scipy.sparse as sp
import torch  # this module is imported only when a FREEDOM is built (see MODEL_REGISTRY)

from fusionrec.errors import ConfigError
from fusionrec.models.baseline_configs import FreedomConfig
from fusionrec.models.batch_parts import whole_batch
from fusionrec.models.content import content_tensors, require_features
from fusionrec.models.graph import SparseOperator, normalized_adjacency, propagate
from fusionrec.models.knn_graph import modality_graph
from fusionrec.models.training import PairwiseRecommender, TrainConfig, bpr_loss, embedding_penalty

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class FREEDOM(PairwiseRecommender):
    """Frozen modality item graphs + degree-pruned LightGCN, trained with BPR.

    Args:
        embedding_dim: size of every vector.
        n_ui_layers: propagations over the user-item graph.
        n_mm_layers: propagations over the item-item content graph.
        knn_k: neighbours per item in each modality graph.
        modality_weights: ``{modality: weight}`` of the modality graphs; None = equal.
        edge_dropout: share of user-item edges pruned each training epoch (0.8 in the paper).
        content_weight: weight of the per-modality BPR terms (FREEDOM's ``reg_weight`` on them).
        reg_weight: weight of the norm penalty on the batch's ego embeddings.
        train_config: optimisation settings.
    """

    name: ClassVar[str] = "freedom"
    config_type: ClassVar[type[FreedomConfig]] = FreedomConfig

    def __init__(
        self,
        embedding_dim: int = 64,
        n_ui_layers: int = 2,
        n_mm_layers: int = 1,
        knn_k: int = 10,
        modality_weights: dict[str, float] | None = None,
        edge_dropout: float = 0.8,
        content_weight: float = 1e-4,
        reg_weight: float = 0.0,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        if not 0.0 <= edge_dropout < 1.0:
            raise ConfigError(f"FREEDOM edge_dropout must be in [0, 1), got {edge_dropout}; the paper uses 0.8")
        super().__init__(
            train_config,
            embedding_dim=embedding_dim,
            n_ui_layers=n_ui_layers,
            n_mm_layers=n_mm_layers,
            knn_k=knn_k,
            modality_weights=modality_weights,
            edge_dropout=edge_dropout,
            content_weight=content_weight,
            reg_weight=reg_weight,
        )
        self.embedding_dim, self.n_ui_layers, self.n_mm_layers = embedding_dim, n_ui_layers, n_mm_layers
        self.knn_k, self.modality_weights, self.edge_dropout = knn_k, modality_weights, edge_dropout
        self.content_weight, self.reg_weight = content_weight, reg_weight

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """Embeddings, feature projections, the frozen item graph and the full user-item graph."""
        require_features(split, self.name)
        dataset = split.dataset
        item_graph = modality_graph(dataset.features, self.knn_k, dataset.all_feature_masks(), self.modality_weights)
        features, masks = content_tensors(dataset)
        train = split.train.to_csr()
        module = FreedomModule(split.n_users, split.n_items, self.embedding_dim, features, masks)
        module.item_graph = SparseOperator(item_graph)
        module.full_graph = SparseOperator(normalized_adjacency(train))
        module.graph = module.full_graph
        module.n_ui_layers, module.n_mm_layers = self.n_ui_layers, self.n_mm_layers
        self._pruner = DegreePruner(train, self.edge_dropout)
        return module

    def batches(self, split: Split, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        """Prune the user-item graph for this epoch, then the usual BPR triples."""
        module = cast(FreedomModule, self.module_)
        if self.edge_dropout > 0:
            module.graph = SparseOperator(self._pruner.sample(rng))
        yield from super().batches(split, rng)
        module.graph = module.full_graph

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """BPR on the final vectors + ``content_weight`` x per-modality BPR + norm penalty."""
        users, positives, negatives = batch
        module = cast(FreedomModule, module)
        all_users, all_items = module()
        user = all_users[users]  # (batch, d)
        loss = bpr_loss((user * all_items[positives]).sum(1), (user * all_items[negatives]).sum(1))
        for projected in module.projected_features().values():  # each (n_items, d)
            loss = loss + self.content_weight * bpr_loss(
                (user * projected[positives]).sum(1), (user * projected[negatives]).sum(1)
            )
        if self.reg_weight:
            whole_users, whole_positives, whole_negatives = whole_batch(batch)  # the penalty is no mean over rows
            ego = (
                module.user_embedding[whole_users],
                module.item_embedding[whole_positives],
                module.item_embedding[whole_negatives],
            )
            loss = loss + self.reg_weight * embedding_penalty(*ego)
        return loss

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """float32 user (n_users, d) and item (n_items, d) vectors over the full graph."""
        module = cast(FreedomModule, module)
        module.graph = module.full_graph
        users, items = module()
        return users.detach().numpy().astype(np.float32), items.detach().numpy().astype(np.float32)


class FreedomModule(torch.nn.Module):
    """ID embeddings and one linear projection per modality; graphs are attached, not learned state."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        features: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
    ) -> None:
        super().__init__()
        self.n_users = n_users
        self.user_embedding = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_users, dim)))
        self.item_embedding = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_items, dim)))
        self.projections = torch.nn.ModuleDict({m: torch.nn.Linear(v.shape[1], dim) for m, v in features.items()})
        self.features, self.masks = features, masks
        self.graph: SparseOperator | None = None
        self.full_graph: SparseOperator | None = None
        self.item_graph: SparseOperator | None = None
        self.n_ui_layers, self.n_mm_layers = 2, 1

    def projected_features(self) -> dict[str, torch.Tensor]:
        """``{modality: (n_items, d)}`` projections; masked rows are zero (no content, not a mean)."""
        return {
            m: torch.where(self.masks[m][:, None], self.projections[m](self.features[m]), 0.0) for m in self.projections
        }

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 user (n_users, d) and item (n_items, d) vectors."""
        assert self.graph is not None and self.item_graph is not None, "build() attaches the graphs"
        content: torch.Tensor = self.item_embedding
        for _ in range(self.n_mm_layers):
            content = self.item_graph @ content  # (n_items, d)
        ego = torch.cat([self.user_embedding, self.item_embedding])  # (n_users + n_items, d)
        final = propagate(self.graph, ego, self.n_ui_layers)
        return final[: self.n_users], final[self.n_users :] + content


class DegreePruner:
    """Keeps ``1 - dropout`` of the user-item edges, drawn with probability ``1 / sqrt(d_u d_i)``.

    Args:
        train: (n_users, n_items) binary training matrix.
        dropout: share of edges removed per draw.
    """

    def __init__(self, train: sp.csr_matrix, dropout: float) -> None:
        coo = sp.coo_matrix(train)
        self.shape = coo.shape
        self.users, self.items = coo.row.astype(np.int64), coo.col.astype(np.int64)
        user_degree = np.bincount(self.users, minlength=coo.shape[0])
        item_degree = np.bincount(self.items, minlength=coo.shape[1])
        weight = 1.0 / np.sqrt(user_degree[self.users] * item_degree[self.items])
        self.probability = weight / weight.sum()
        self.n_keep = max(1, round(len(self.users) * (1.0 - dropout)))

    def sample(self, rng: np.random.Generator) -> sp.csr_matrix:
        """The normalised adjacency of one pruned draw (symmetric, (n_users + n_items) square)."""
        keep = rng.choice(len(self.users), size=self.n_keep, replace=False, p=self.probability)
        pruned = sp.csr_matrix((np.ones(len(keep), np.float32), (self.users[keep], self.items[keep])), shape=self.shape)
        return normalized_adjacency(pruned)
