"""The torch module behind :class:`~fusionrec.models.fusion_graph.FusionGraph`.

Everything here is linear after the item tower, which is what makes the
per-modality explanation exact: the final item vector is the sum of what
each part of the layer-0 vectors (users + item IDs, each modality) becomes
after propagation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from fusionrec.fusion.base import SHARED
from fusionrec.models.graph import propagate
from fusionrec.models.user_content import with_user_content

if TYPE_CHECKING:
    from fusionrec.fusion.base import ModalityFusion
    from fusionrec.models.graph import Perturbation, SparseOperator
    from fusionrec.models.user_content import UserContentPath

ID = "id"


class FusionGraphNet(nn.Module):
    """ID embeddings + a fusion module; the graphs and features are attached inputs, not learned state.

    Args:
        n_users, n_items: table sizes.
        dim: vector size.
        fusion: the content fusion (None when the data has no content).
        warm: bool (n_items,) items with a training interaction (the others have no ID part).
        init_std: standard deviation of the ID embeddings' normal initialisation.
    """

    warm: torch.Tensor

    def __init__(
        self, n_users: int, n_items: int, dim: int, fusion: ModalityFusion | None, warm: torch.Tensor, init_std: float
    ) -> None:
        super().__init__()
        self.n_users = n_users
        self.user_embedding = nn.Parameter(torch.randn(n_users, dim) * init_std)
        self.item_embedding = nn.Parameter(torch.randn(n_items, dim) * init_std)
        self.fusion = fusion
        self.register_buffer("warm", warm.float()[:, None], persistent=False)  # (n_items, 1)
        self.features: dict[str, torch.Tensor] = {}
        self.masks: dict[str, torch.Tensor] = {}
        self.user_graph: SparseOperator | None = None
        self.full_graph: SparseOperator | None = None  # user_graph outside training epochs (edge dropout)
        self.item_graph: SparseOperator | None = None
        self.content_scale: torch.Tensor | None = None  # (n_items, 1) weight of each item's content; None = 1
        self.item_graph_scale: torch.Tensor | None = None  # (n_items, 1) weight of each item's content-graph term
        self.n_layers, self.n_item_graph_layers, self.item_graph_weight = 2, 1, 1.0
        self.perturbation: Perturbation | None = None  # of each propagated layer, in training mode only
        self.unit_layer0 = False  # layer-0 vectors scaled to unit length x their kind's mean length (layer0_scales)
        self.user_content: UserContentPath | None = None  # projected user content added to the user IDs

    def layer0_users(self) -> torch.Tensor:
        """Layer-0 user vectors (n_users, d): ID embeddings plus the projected user content, when there is some."""
        return with_user_content(self.user_embedding, self.user_content)

    def item_parts(self, id_keep: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Layer-0 item vectors split by source: ``{"id": (n_items, d), modality: (n_items, d)}``.

        Args:
            id_keep: optional float (n_items, 1) 0/1 multiplier of the ID part (ID dropout).
        """
        keep = self.warm if id_keep is None else self.warm * id_keep
        parts = {ID: self.item_embedding * keep}
        if self.fusion is not None:
            content = self.fusion.contributions(self.features, self.masks)
            if self.content_scale is not None:
                content = {name: part * self.content_scale for name, part in content.items()}
            parts[ID] = parts[ID] + content.pop(SHARED)
            parts.update(content)
        return parts

    def layer0_items(self, id_keep: torch.Tensor | None = None) -> torch.Tensor:
        """Layer-0 item vectors (n_items, d): the sum of :meth:`item_parts`."""
        items = sum(self.item_parts(id_keep).values())
        assert isinstance(items, torch.Tensor)
        return items

    def propagate_items(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        scales: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Behaviour graph + content graph: final user (n_users, d) and item (n_items, d) vectors.

        In training mode each propagated layer goes through ``perturbation`` (see
        :class:`~fusionrec.models.graph.Perturbation`); in eval mode the result is exact and linear.
        With ``unit_layer0`` the layer-0 vectors are first multiplied by ``scales`` (default:
        :meth:`layer0_scales` of these vectors; parts of a vector pass the scales of the whole).
        """
        assert self.user_graph is not None, "build() attaches the user-item graph"
        if self.unit_layer0:
            user_scale, item_scale = scales if scales is not None else self.layer0_scales(users, items)
            users, items = users * user_scale, items * item_scale
        perturbation = self.perturbation if self.training else None
        final = propagate(self.user_graph, torch.cat([users, items]), self.n_layers, perturbation)
        final_users, final_items = final[: self.n_users], final[self.n_users :]
        if self.item_graph is not None and self.item_graph_weight:
            content_graph = self.item_graph_power(items)
            if self.item_graph_scale is not None:
                content_graph = content_graph * self.item_graph_scale
            final_items = final_items + self.item_graph_weight * content_graph
        return final_users, final_items

    @staticmethod
    def layer0_scales(users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n_users, 1) and (n_items, 1) factors that give each vector unit length times its kind's mean length.

        The mean is a constant of the step (no gradient flows through it), so the scaled vector is
        ``normalize(v) * mean length``: propagation weighs users and items by the graph, not by how
        long training happened to make their vectors.
        """
        return unit_scale(users), unit_scale(items)

    def item_graph_power(self, items: torch.Tensor, layers: int | None = None) -> torch.Tensor:
        """``S^layers items`` over the frozen item-item graph (``n_item_graph_layers`` by default)."""
        assert self.item_graph is not None
        for _ in range(self.n_item_graph_layers if layers is None else layers):
            items = self.item_graph @ items
        return items

    def forward(self, id_keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Unnormalised final user (n_users, d) and item (n_items, d) vectors."""
        return self.propagate_items(self.layer0_users(), self.layer0_items(id_keep))

    def explained_items(self) -> dict[str, torch.Tensor]:
        """Final item vectors split by source; the parts sum to ``forward()[1]`` (linear propagation).

        The users' embeddings reach the items through the behaviour graph, so
        they count as part of ``"id"`` (behaviour), user content included.
        """
        parts = self.item_parts()
        whole = sum(parts.values())
        assert isinstance(whole, torch.Tensor)
        layer0_users = self.layer0_users()
        scales = self.layer0_scales(layer0_users, whole) if self.unit_layer0 else None
        result = {}
        for name, items in parts.items():
            users = layer0_users if name == ID else torch.zeros_like(layer0_users)
            result[name] = self.propagate_items(users, items, scales)[1]
        return result


class FusionGraphMembers(nn.Module):
    """Independently initialised :class:`FusionGraphNet` members trained side by side (an ensemble).

    Each member has its own ID embeddings and fusion module and its own
    loss; the graphs and features are shared inputs. The ensemble's score
    is the mean of the members' cosine scores.
    """

    def __init__(self, members: list[FusionGraphNet]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def nets(self) -> list[FusionGraphNet]:
        return [cast(FusionGraphNet, member) for member in self.members]


def unit_scale(vectors: torch.Tensor, mean_length: torch.Tensor | None = None) -> torch.Tensor:
    """(n, 1) factors giving each row of ``vectors`` the length ``mean_length`` (default: their own mean row
    length, a constant of the step); lengths under 1e-12 count as 1e-12, as in ``F.normalize``."""
    lengths = vectors.norm(dim=1, keepdim=True)
    target = lengths.mean().detach() if mean_length is None else mean_length
    return target / lengths.clamp_min(1e-12)
