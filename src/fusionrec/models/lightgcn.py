"""LightGCN: embeddings smoothed over the user-item graph, trained with BPR.

Layer-0 ("ego") user and item embeddings are propagated ``n_layers`` times
over the symmetric-normalised bipartite graph ``D^-1/2 A D^-1/2``; the
final vector of a node is the mean of its layers (He et al., SIGIR 2020).
The loss is BPR on the final vectors plus ``reg_weight`` times the norm
of the batch's ego embeddings, as in MMRec's ``LightGCN``. That penalty is
a sum of (unsquared) Frobenius norms over the batch size, a constant-size
pull towards zero: a large weight helps on sparse data (the Baby and
TikTok recipes use 3.0) and collapses every embedding to zero on denser
data (ml100k-mm and a MovieLens-style catalog at 3.0), where valid then
stays at popularity level. The default, ``reg_weight=0.01``, never
collapsed on the data sets tried; the recipes carry each data set's value
(``fusionrec recipes``), and training warns when valid stays at
popularity level (see :attr:`collapse_hint`).

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("lightgcn", n_layers=3, train_config={"seed": 0})  # doctest: +SKIP
    >>> model.fit(split).history_.best_valid  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch  # this module is imported only when a LightGCN is built (see MODEL_REGISTRY)

from fusionrec.errors import ConfigError
from fusionrec.models.baseline_configs import LightGCNConfig
from fusionrec.models.batch_parts import whole_batch
from fusionrec.models.graph import SparseOperator, normalized_adjacency, propagate
from fusionrec.models.training import PairwiseRecommender, TrainConfig, bpr_loss, embedding_penalty

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class LightGCN(PairwiseRecommender):
    """Light graph convolution over the user-item graph.

    Args:
        embedding_dim: size of the user and item vectors.
        n_layers: propagation steps (0 is BPR-MF with LightGCN's training).
        reg_weight: weight of the norm penalty on the batch's ego embeddings.
        train_config: optimisation settings (:class:`TrainConfig` or a dict).
    """

    name: ClassVar[str] = "lightgcn"
    config_type: ClassVar[type[LightGCNConfig]] = LightGCNConfig
    train_defaults: ClassVar[dict[str, Any]] = {"lr": 5e-3}
    collapse_hint: ClassVar[str] = "lower reg_weight (e.g. --set model.params.reg_weight=1e-4) or train.lr"

    def __init__(
        self,
        embedding_dim: int = 64,
        n_layers: int = 3,
        reg_weight: float = 0.01,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        if n_layers < 0:
            raise ConfigError(f"LightGCN n_layers must be >= 0, got {n_layers}; 1 to 4 is usual")
        super().__init__(train_config, embedding_dim=embedding_dim, n_layers=n_layers, reg_weight=reg_weight)
        self.embedding_dim = embedding_dim
        self.n_layers = n_layers
        self.reg_weight = reg_weight

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """Ego embeddings (Xavier-uniform, as MMRec) plus the normalised training graph."""
        operator = SparseOperator(normalized_adjacency(split.train.to_csr()))
        return LightGCNModule(split.n_users, split.n_items, self.embedding_dim, self.n_layers, operator)

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """BPR on propagated vectors plus the ego-embedding penalty of one batch."""
        users, positives, negatives = batch
        module = cast(LightGCNModule, module)
        all_users, all_items = module()  # (n_users, d), (n_items, d)
        user, positive, negative = all_users[users], all_items[positives], all_items[negatives]
        ranking = bpr_loss((user * positive).sum(dim=1), (user * negative).sum(dim=1))
        whole_users, whole_positives, whole_negatives = whole_batch(batch)  # the penalty is no mean over rows
        ego = (
            module.user_embedding[whole_users],
            module.item_embedding[whole_positives],
            module.item_embedding[whole_negatives],
        )
        return ranking + self.reg_weight * embedding_penalty(*ego)

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """Propagated float32 user (n_users, d) and item (n_items, d) vectors."""
        users, items = module()
        return users.detach().cpu().numpy().astype(np.float32), items.detach().cpu().numpy().astype(np.float32)


class LightGCNModule(torch.nn.Module):
    """Ego embeddings as parameters; the graph is fixed and not part of the state.

    Args:
        n_users, n_items: node counts.
        dim: embedding size.
        n_layers: propagation steps.
        operator: the (n_users + n_items) square normalised adjacency.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, n_layers: int, operator: SparseOperator) -> None:
        super().__init__()
        self.n_users, self.n_layers, self.operator = n_users, n_layers, operator
        self.user_embedding = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_users, dim)))
        self.item_embedding = torch.nn.Parameter(torch.nn.init.xavier_uniform_(torch.empty(n_items, dim)))

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Final float32 user (n_users, d) and item (n_items, d) vectors."""
        ego = torch.cat([self.user_embedding, self.item_embedding])  # (n_users + n_items, d)
        final = propagate(self.operator, ego, self.n_layers)
        return final[: self.n_users], final[self.n_users :]
