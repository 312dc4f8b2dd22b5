"""The torch module behind :class:`~fusionrec.models.fusion_graph.FusionGraph`.

Everything here is linear after the item tower, which is what makes the
per-modality explanation exact: the final item vector is the sum of what
each part of the layer-0 vectors (users + item IDs, each modality) becomes
after propagation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from fusionrec.fusion.base import SHARED
from fusionrec.models.content import content_tensors, interaction_fade, trained_items
from fusionrec.models.graph import Perturbation, SparseOperator, normalized_adjacency, propagate
from fusionrec.models.item_graph_registry import get_item_graph
from fusionrec.models.user_content import with_user_content

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.fusion.base import ModalityFusion
    from fusionrec.models.fusion_graph_config import CoreConfig, FusionGraphConfig, ItemGraphConfig
    from fusionrec.models.user_content import UserContentPath

ID = "id"


@dataclass
class GraphInputs:
    """The fixed inputs of the flagship's networks, shared by every member (not learned, not saved).

    Attributes:
        n_users, n_items: table sizes.
        features: ``{modality: float (n_items, d_m)}`` content; masks: ``{modality: bool (n_items,)}`` usable rows.
        warm: bool (n_items,) items with an ID part (a training interaction, and ``core.item_ids``).
        user_graph: the normalised user-item graph, ``(n_users + n_items)`` square.
        item_graph: the item-item content graph; None = no content graph.
        content_scale: float (n_items, 1) weight of each item's content; None = 1.
        item_graph_scale: float (n_items, 1) weight of each item's content-graph term; None = 1.
    """

    n_users: int
    n_items: int
    features: dict[str, torch.Tensor]
    masks: dict[str, torch.Tensor]
    warm: torch.Tensor
    user_graph: SparseOperator
    item_graph: SparseOperator | None = None
    content_scale: torch.Tensor | None = None
    item_graph_scale: torch.Tensor | None = None


def graph_inputs(split: Split, config: FusionGraphConfig) -> GraphInputs:
    """The fixed inputs of ``split`` under ``config``: content tensors, the normalised user-item graph, the
    item-item graph of the configured builder (when the data has content and ``item_graph.weight`` > 0),
    and the per-item weights of content (``content.prior``) and of the content graph (``item_graph.boost``)."""
    dataset, settings = split.dataset, config.item_graph
    features, masks = content_tensors(dataset)
    item_graph = None
    if features and settings.weight:
        builder = get_item_graph(settings.builder)
        item_graph = SparseOperator(builder.catalog(dataset.features, dataset.all_feature_masks(), settings))
    prior, boost = config.content.prior, settings.boost
    return GraphInputs(
        n_users=split.n_users,
        n_items=split.n_items,
        features=features,
        masks=masks,
        warm=torch.from_numpy(trained_items(split) & config.core.item_ids),
        user_graph=SparseOperator(normalized_adjacency(split.train.to_csr())),
        item_graph=item_graph,
        content_scale=torch.from_numpy(interaction_fade(split, prior)) if prior else None,  # (n_items, 1)
        item_graph_scale=torch.from_numpy(1.0 + boost * interaction_fade(split, settings.prior)) if boost else None,
    )


class FusionGraphNet(nn.Module):
    """ID embeddings + a fusion module, built from its configs; the graphs and features are inputs, not state.

    Args:
        core: the graph model's settings (dimension, layers, initialisation, noise, ``unit_layer0``).
        item_graph: the content graph's settings (its weight and layers).
        inputs: the shared fixed inputs.
        fusion: the content fusion (None when the data has no content), built before the embeddings
            so that a seed gives the same initialisation as it always has.
    """

    warm: torch.Tensor

    def __init__(
        self,
        core: CoreConfig,
        item_graph: ItemGraphConfig,
        inputs: GraphInputs,
        fusion: ModalityFusion | None,
        user_content: UserContentPath | None = None,
    ) -> None:
        super().__init__()
        self.user_content = user_content  # projected user content added to the user IDs (None = off)
        self.n_users = inputs.n_users
        self.user_embedding = nn.Parameter(torch.randn(inputs.n_users, core.embedding_dim) * core.init_std)
        self.item_embedding = nn.Parameter(torch.randn(inputs.n_items, core.embedding_dim) * core.init_std)
        self.fusion = fusion
        self.register_buffer("warm", inputs.warm.float()[:, None], persistent=False)  # (n_items, 1)
        self.features, self.masks = inputs.features, inputs.masks
        self.user_graph: SparseOperator = inputs.user_graph
        self.full_graph = inputs.user_graph  # user_graph outside training epochs (edge dropout)
        self.item_graph = inputs.item_graph
        self.content_scale, self.item_graph_scale = inputs.content_scale, inputs.item_graph_scale
        self.n_layers, self.n_item_graph_layers = core.n_layers, item_graph.n_layers
        self.item_graph_weight = item_graph.weight
        self.unit_layer0 = core.unit_layer0  # layer-0 vectors scaled to unit length x their kind's mean length
        self.perturbation: Perturbation | None = None  # of each propagated layer, in training mode only
        if core.embedding_noise > 0:
            self.perturbation = Perturbation(core.embedding_noise, int(torch.randint(2**62, ())))

    def use_user_graph(self, graph: SparseOperator | None) -> None:
        """Propagate over ``graph`` (a pruned one, for one training epoch); None restores the full graph."""
        self.user_graph = self.full_graph if graph is None else graph

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

    def layer0_users(self) -> torch.Tensor:
        """Layer-0 user vectors (n_users, d): ID embeddings plus the projected user content, when there is some."""
        return with_user_content(self.user_embedding, self.user_content)

    def explained_items(self) -> dict[str, torch.Tensor]:
        """Final item vectors split by source; the parts sum to ``forward()[1]`` (linear propagation).

        The users' embeddings reach the items through the behaviour graph, so
        they count as part of ``"id"`` (behaviour).
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
