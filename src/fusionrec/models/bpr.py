"""BPR-MF: matrix factorisation trained with the BPR pairwise loss.

``score(u, i) = user_u . item_i`` with ``embedding_dim``-sized vectors,
trained on (user, positive, negative) triples with
``-log sigmoid(s_pos - s_neg) + reg_weight * ||batch embeddings|| / batch``
(Rendle et al., UAI 2009; MMRec's ``BPR``). The penalty is MMRec's
unsquared-norm ``EmbLoss`` on the batch's user, positive and negative
vectors; ``reg_weight=0.3`` with Adam lr 1e-3 was chosen on Baby's valid
split (0.03: 0.0571, 0.1: 0.0595, 0.3: 0.0639 valid Recall@20; 0.5 and 1.0 never
left the initial point).

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("bpr", embedding_dim=64, train_config={"seed": 0})  # doctest: +SKIP
    >>> model.fit(split).recommend(["0"], k=10)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch  # this module is imported only when a BPR-MF is built (see MODEL_REGISTRY)

from fusionrec.models.baseline_configs import BPRConfig
from fusionrec.models.batch_parts import whole_batch
from fusionrec.models.training import PairwiseRecommender, TrainConfig, bpr_loss, embedding_penalty

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class BPRMF(PairwiseRecommender):
    """Matrix factorisation with BPR loss.

    Args:
        embedding_dim: size of the user and item vectors.
        reg_weight: weight of the norm penalty on the batch's embeddings.
        train_config: optimisation settings (:class:`TrainConfig` or a dict).
    """

    name: ClassVar[str] = "bpr"
    config_type: ClassVar[type[BPRConfig]] = BPRConfig

    collapse_hint: ClassVar[str] = "lower reg_weight (e.g. --set model.params.reg_weight=1e-3) or train.lr"

    def __init__(
        self,
        embedding_dim: int = 64,
        reg_weight: float = 0.3,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(train_config, embedding_dim=embedding_dim, reg_weight=reg_weight)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """User (n_users, d) and item (n_items, d) embedding tables, Xavier-normal initialised (as MMRec)."""
        return MFModule(split.n_users, split.n_items, self.embedding_dim)

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """BPR loss plus the norm penalty of one ``(users, positives, negatives)`` batch."""
        users, positives, negatives = batch
        module = cast(MFModule, module)
        user = module.user_embedding(users)  # (batch, d)
        positive, negative = module.item_embedding(positives), module.item_embedding(negatives)  # (batch, d)
        ranking = bpr_loss((user * positive).sum(dim=1), (user * negative).sum(dim=1))
        whole = whole_batch(batch)  # the penalty is no mean over rows: a part's runs on the whole batch
        ego = (user, positive, negative) if whole is batch else _rows(module, *whole)
        return ranking + self.reg_weight * embedding_penalty(*ego)

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """The embedding tables: float32 (n_users, d) and (n_items, d)."""
        module = cast(MFModule, module)
        users = module.user_embedding.weight.detach().cpu().numpy()
        items = module.item_embedding.weight.detach().cpu().numpy()
        return users.astype(np.float32, copy=True), items.astype(np.float32, copy=True)


def _rows(
    module: MFModule, users: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """The (batch, d) embeddings of a batch's users, positives and negatives."""
    return module.user_embedding(users), module.item_embedding(positives), module.item_embedding(negatives)


class MFModule(torch.nn.Module):
    """User (n_users, d) and item (n_items, d) embedding tables, Xavier-normal initialised as in MMRec."""

    def __init__(self, n_users: int, n_items: int, dim: int) -> None:
        super().__init__()
        self.user_embedding = torch.nn.Embedding(n_users, dim)
        self.item_embedding = torch.nn.Embedding(n_items, dim)
        torch.nn.init.xavier_normal_(self.user_embedding.weight)
        torch.nn.init.xavier_normal_(self.item_embedding.weight)
