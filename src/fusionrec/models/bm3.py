"""BM3-style model: self-supervised bootstrapping of a LightGCN, aligned with the content, no negatives.

Following the idea of Zhou et al. (BM3, WWW 2023), re-implemented here:

* Users and items are LightGCN vectors (the mean of ``n_layers``
  propagations of ID embeddings over the normalised user-item graph; an
  item's own ID embedding is added once more); each modality's features
  are projected linearly to the same size.
* A shared linear *predictor* maps every online vector. Its targets are
  the same vectors under dropout (``dropout``), detached: the contrastive
  views are made by the dropout, not by augmenting the graph, and no
  negative items are needed.
* Loss per (user, item) training pair: ``(1 - cos(p(u), sg(i'))) +
  (1 - cos(p(i), sg(u')))`` for the interaction, plus ``cl_weight`` times,
  for each modality ``m``, the alignment ``1 - cos(p(x_m), sg(i'))`` of its
  projected features with the item and the masked-feature term
  ``1 - cos(p(x_m), sg(x_m'))``; plus ``reg_weight`` times MMRec's norm
  penalty of all online user and item vectors
  (:func:`~fusionrec.models.training.embedding_penalty`). Rows whose
  features are missing (masked) are left out of the modality terms.
* Score: ``p(u) . p(i)``.

Content shapes the item vectors only through training, so items without a
training interaction are not scored meaningfully (as in the original); see
the flagship for cold-start items.

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("bm3", dropout=0.3, train_config={"lr": 1e-3})  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch  # this module is imported only when a BM3 is built (see MODEL_REGISTRY)
import torch.nn.functional as F

from fusionrec.errors import ConfigError
from fusionrec.models.baseline_configs import BM3Config
from fusionrec.models.batch_parts import whole_batch
from fusionrec.models.content import content_tensors, require_features
from fusionrec.models.graph import SparseOperator, normalized_adjacency, propagate
from fusionrec.models.training import PairwiseRecommender, TrainConfig, embedding_penalty

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class BM3(PairwiseRecommender):
    """Bootstrapped multimodal LightGCN (no negatives), aligned with each modality's projected features.

    Args:
        embedding_dim: size of every vector.
        n_layers: propagations over the user-item graph.
        dropout: dropout that makes the (detached) target view of each vector.
        cl_weight: weight of the modality alignment and masked-feature terms.
        reg_weight: weight of the norm penalty of the online user and item vectors (MMRec's ``EmbLoss``).
        train_config: optimisation settings (the sampler's negatives are drawn but not used).
    """

    name: ClassVar[str] = "bm3"
    config_type: ClassVar[type[BM3Config]] = BM3Config
    train_defaults: ClassVar[dict[str, Any]] = {"lr": 1e-3}

    def __init__(
        self,
        embedding_dim: int = 64,
        n_layers: int = 1,
        dropout: float = 0.3,
        cl_weight: float = 2.0,
        reg_weight: float = 0.1,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"BM3 dropout must be in [0, 1), got {dropout}; 0.3 or 0.5 is usual")
        if n_layers < 0:
            raise ConfigError(f"BM3 n_layers must be >= 0, got {n_layers}; 1 or 2 is usual")
        super().__init__(
            train_config,
            embedding_dim=embedding_dim,
            n_layers=n_layers,
            dropout=dropout,
            cl_weight=cl_weight,
            reg_weight=reg_weight,
        )

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """ID embeddings, one projection per modality, the predictor and the user-item graph."""
        require_features(split, self.name)
        features, masks = content_tensors(split.dataset)
        module = BM3Module(split.n_users, split.n_items, self.params["embedding_dim"], features, masks)
        module.graph = SparseOperator(normalized_adjacency(split.train.to_csr()))
        module.n_layers = self.params["n_layers"]
        return module

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Bootstrapped user-item term + ``cl_weight`` x modality terms + ``reg_weight`` x norms."""
        net = cast(BM3Module, module)
        users, items, _ = batch
        all_users, all_items = net()
        user, item = all_users[users], all_items[items]  # (batch, d)
        p = self.params
        user_target, item_target = (F.dropout(v.detach(), p["dropout"]) for v in (user, item))
        loss = _distance(net.predictor(user), item_target).mean() + _distance(net.predictor(item), user_target).mean()
        whole_items = whole_batch(batch)[1]  # a part's modality terms are its share of the whole batch's means
        for modality, (projected, usable) in net.projected_features(items).items():  # (m, d) usable rows
            if not usable.any():
                continue
            predicted = net.predictor(projected)
            feature_target = F.dropout(projected.detach(), p["dropout"])
            distances = _distance(predicted, item_target[usable]), _distance(predicted, feature_target)
            if len(whole_items) == len(items):  # the whole batch
                loss = loss + p["cl_weight"] * (distances[0].mean() + distances[1].mean())
            else:  # its usable rows' sums over the whole batch's usable rows, over the part's weight
                scale = len(whole_items) / len(items) / float(net.masks[modality][whole_items].sum())
                loss = loss + p["cl_weight"] * scale * (distances[0].sum() + distances[1].sum())
        return loss + p["reg_weight"] * embedding_penalty(all_users, all_items)

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """float32 predicted user (n_users, d) and item (n_items, d) vectors; score = their dot product."""
        net = cast(BM3Module, module)
        users, items = net()
        return (
            net.predictor(users).detach().numpy().astype(np.float32),
            net.predictor(items).detach().numpy().astype(np.float32),
        )


class BM3Module(torch.nn.Module):
    """ID embeddings, per-modality projections and the shared predictor; the graph is attached, not learned."""

    def __init__(
        self, n_users: int, n_items: int, dim: int, features: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]
    ) -> None:
        super().__init__()
        self.n_users = n_users
        self.user_embedding = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_users, dim)))
        self.item_embedding = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_items, dim)))
        self.projections = torch.nn.ModuleDict({m: torch.nn.Linear(v.shape[1], dim) for m, v in features.items()})
        self.predictor = torch.nn.Linear(dim, dim)
        self.features, self.masks = features, masks
        self.graph: SparseOperator | None = None
        self.n_layers = 1

    def projected_features(self, items: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{modality: (projected (m, d), usable bool (len(items),))}``: only the rows whose features exist.

        Missing rows are never projected (their stored values may be NaN, which
        would reach the projection's gradient even through a zero weight).
        """
        result = {}
        for modality, projection in self.projections.items():
            usable = self.masks[modality][items]
            result[modality] = (projection(self.features[modality][items[usable]]), usable)
        return result

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Online (LightGCN) user (n_users, d) and item (n_items, d) vectors."""
        assert self.graph is not None, "build() attaches the graph"
        ego = torch.cat([self.user_embedding, self.item_embedding])  # (n_users + n_items, d)
        final = propagate(self.graph, ego, self.n_layers)
        return final[: self.n_users], final[self.n_users :] + self.item_embedding


def _distance(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Row-wise ``1 - cos``: (m, d), (m, d) -> (m,)."""
    return 1.0 - F.cosine_similarity(predicted, target, dim=1)
