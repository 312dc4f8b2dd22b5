"""VBPR: matrix factorisation whose item vectors carry a projection of the item's content.

``score(u, i) = gamma_u . gamma_i + theta_u . F(x_i)`` where ``F`` is a
:class:`~fusionrec.fusion.concat.ConcatFusion` of every modality the data
has (masked inputs excluded), trained with BPR (He & McAuley, AAAI 2016;
the form MMRec uses: one user vector ``[gamma_u; theta_u]`` against
``[gamma_i; F(x_i)]``). Items without a training interaction have no
trained ID vector; their ID half is zeroed, so they are scored by content
alone.

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("vbpr", train_config={"lr": 1e-3})  # doctest: +SKIP
    >>> model.fit(split).score_users(np.array([0]))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import torch  # this module is imported only when a VBPR is built (see MODEL_REGISTRY)

from fusionrec.fusion.concat import ConcatFusion
from fusionrec.models.baseline_configs import VBPRConfig
from fusionrec.models.batch_parts import whole_batch
from fusionrec.models.content import content_tensors, require_features, trained_items
from fusionrec.models.training import PairwiseRecommender, TrainConfig, bpr_loss, embedding_penalty

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class VBPR(PairwiseRecommender):
    """Visual (here: any-modality) BPR.

    Args:
        embedding_dim: size of the ID part and of the content part (vectors are twice this).
        reg_weight: weight of the norm penalty on the batch's vectors.
        train_config: optimisation settings.
    """

    name: ClassVar[str] = "vbpr"
    config_type: ClassVar[type[VBPRConfig]] = VBPRConfig
    scores_cold_items: ClassVar[bool] = True

    collapse_hint: ClassVar[str] = "lower reg_weight (e.g. --set model.params.reg_weight=1e-4) or train.lr"

    def __init__(
        self,
        embedding_dim: int = 64,
        reg_weight: float = 1e-4,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(train_config, embedding_dim=embedding_dim, reg_weight=reg_weight)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """ID tables, the content fusion and the (fixed) features of ``split``'s catalog."""
        require_features(split, self.name)
        features, masks = content_tensors(split.dataset)
        fusion = ConcatFusion({m: v.shape[1] for m, v in features.items()}, self.embedding_dim)
        warm = torch.from_numpy(trained_items(split))
        return VBPRModule(split.n_users, split.n_items, self.embedding_dim, fusion, features, masks, warm)

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """BPR plus the norm penalty of one ``(users, positives, negatives)`` batch."""
        users, positives, negatives = batch
        module = cast(VBPRModule, module)
        all_users, all_items = module()  # (n_users, 2d), (n_items, 2d)
        user, positive, negative = all_users[users], all_items[positives], all_items[negatives]
        ranking = bpr_loss((user * positive).sum(dim=1), (user * negative).sum(dim=1))
        whole = whole_batch(batch)  # the penalty is no mean over rows: a part's runs on the whole batch
        penalised = (user, positive, negative)
        if whole is not batch:
            penalised = (all_users[whole[0]], all_items[whole[1]], all_items[whole[2]])
        return ranking + self.reg_weight * embedding_penalty(*penalised)

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """float32 user (n_users, 2d) and item (n_items, 2d) vectors."""
        users, items = module()
        return users.detach().numpy().astype(np.float32), items.detach().numpy().astype(np.float32)


class VBPRModule(torch.nn.Module):
    """``[gamma_u; theta_u]`` user vectors and ``[gamma_i; F(x_i)]`` item vectors.

    Args:
        n_users, n_items: table sizes.
        dim: size of each half.
        fusion: the content map ``F``.
        features, masks: the catalog's ``{modality: (n_items, d_m)}`` and bool (n_items,) masks (buffers).
        warm: bool (n_items,) items with a training interaction (the others get a zero ID half).
    """

    warm: torch.Tensor

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int,
        fusion: torch.nn.Module,
        features: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
        warm: torch.Tensor,
    ) -> None:
        super().__init__()
        self.user_embedding = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(n_users, 2 * dim)))
        self.item_embedding = torch.nn.Parameter(torch.nn.init.xavier_normal_(torch.empty(n_items, dim)))
        self.fusion = fusion
        self.features, self.masks = features, masks  # fixed inputs, not learned state
        self.register_buffer("warm", warm.float()[:, None], persistent=False)

    def forward(self) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 user (n_users, 2d) and item (n_items, 2d) vectors."""
        content = self.fusion(self.features, self.masks)  # (n_items, d)
        items = torch.cat([self.item_embedding * self.warm, content], dim=1)
        return self.user_embedding, items
