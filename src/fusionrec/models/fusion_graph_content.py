"""The flagship's vectors read from its fitted networks: joined members, new items placed from content, and
the per-modality parts behind an explanation.

The flagship's item vector is, per member, its unit final vector; members
sit side by side over sqrt(members), so the product of two joined vectors
is the mean of the members' cosines (:func:`joined`). An item known only by
content is an isolated node of the behaviour graph: its propagated vector
is its content vector over ``n_layers + 1``, and it reaches the content
graph through the rows the item-graph builder gives it
(:func:`member_content_vectors`), exactly as the catalog's own cold items.
Everything after the item tower is linear, so the final item vectors split
exactly into what each source contributes (:func:`explained_unit_parts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from fusionrec.models.content import as_tensors
from fusionrec.models.fusion_graph_net import unit_scale
from fusionrec.models.item_graph_registry import get_item_graph

if TYPE_CHECKING:
    import scipy.sparse as sp

    from fusionrec.data.dataset import Dataset
    from fusionrec.models.fusion_graph_config import ItemGraphConfig
    from fusionrec.models.fusion_graph_net import FusionGraphNet


def joined(blocks: list[np.ndarray]) -> np.ndarray:
    """Members' unit-vector blocks side by side over sqrt(members): their product is the mean cosine."""
    if len(blocks) == 1:
        return blocks[0]
    return (np.hstack(blocks) / np.float32(np.sqrt(len(blocks)))).astype(np.float32)


def unit(values: torch.Tensor) -> np.ndarray:
    """float32 rows of ``values`` scaled to unit length (as ``F.normalize``)."""
    return F.normalize(values.detach(), dim=1).numpy().astype(np.float32)


def member_content_vectors(
    net: FusionGraphNet,
    values: dict[str, torch.Tensor],
    flags: dict[str, torch.Tensor],
    neighbours: sp.csr_matrix | None,
    boost: float,
) -> np.ndarray:
    """float32 (n, embedding_dim) unit vectors of one member for ``n`` items known only by content.

    Args:
        net: a fitted member, in eval mode.
        values: ``{modality: float (n, d_m)}``; flags: ``{modality: bool (n,)}`` usable rows.
        neighbours: (n, n_items) rows of the item-item graph for the new items; None = no content graph.
        boost: ``item_graph.boost``: a new item has no training interactions, so its term is ``1 + boost``.
    """
    n = next(iter(values.values())).shape[0] if values else 0
    with torch.no_grad():
        if net.fusion is None or n == 0:
            return np.zeros((n, net.item_embedding.shape[1]), dtype=np.float32)
        layer0 = net.fusion(values, flags)  # (n, d)
        graph_used = net.item_graph is not None and neighbours is not None
        if not (net.unit_layer0 or graph_used):  # nothing here reads the catalog
            return unit(layer0 / (net.n_layers + 1))
        catalog_items = net.layer0_items()
        if net.unit_layer0:  # as propagate_items scales the catalog's layer 0: to the catalog's mean length
            mean_length = catalog_items.norm(dim=1).mean()
            layer0 = layer0 * unit_scale(layer0, mean_length)
            catalog_items = catalog_items * unit_scale(catalog_items, mean_length)
        vectors = layer0 / (net.n_layers + 1)
        if graph_used:
            assert neighbours is not None
            base = net.item_graph_power(catalog_items, net.n_item_graph_layers - 1)  # (n_items, d)
            scale = 1.0 + boost
            vectors = vectors + net.item_graph_weight * scale * torch.from_numpy(neighbours @ base.numpy())
    return unit(vectors)


def new_item_vectors(
    nets: list[FusionGraphNet],
    settings: ItemGraphConfig,
    dataset: Dataset,
    features: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
) -> np.ndarray:
    """float32 (n, members x embedding_dim) joined unit vectors of ``n`` items known only by content.

    Args:
        nets: the fitted members, in eval mode.
        settings: the item-graph table (its builder gives the new items' rows of the content graph).
        dataset: the catalog the model was fitted on.
        features: ``{modality: float (n, d_m)}`` of the new items, modalities of ``dataset`` only.
        masks: ``{modality: bool (n,)}`` usable rows (missing = all usable).
    """
    values, flags = as_tensors(features, {m: masks[m] for m in features if m in masks})
    n = next(iter(values.values())).shape[0] if values else 0
    neighbours = None
    if n and values and settings.weight:  # (n, n_items) rows of the content graph
        builder = get_item_graph(settings.builder)
        neighbours = builder.query(features, masks, dataset.features, dataset.all_feature_masks(), settings)
    return joined([member_content_vectors(net, values, flags, neighbours, settings.boost) for net in nets])


def member_user_vectors(net: FusionGraphNet, users: np.ndarray, content: np.ndarray) -> np.ndarray:
    """float32 (m, embedding_dim) unit final vectors of one member's ``users`` with their user content replaced.

    The users' layer-0 vectors become ID + projection of ``content`` (float (m, d_content)); the whole graph is
    propagated again (it is linear in eval mode), and only the users' own rows are kept: items and other users
    stay as served.
    """
    assert net.user_content is not None
    index = torch.from_numpy(users.astype(np.int64))
    with torch.no_grad():
        layer0 = net.layer0_users().clone()  # (n_users, d)
        layer0[index] = net.user_embedding[index] + net.user_content.projection(torch.from_numpy(content))
        final_users, _ = net.propagate_items(layer0, net.layer0_items())
    return unit(final_users[index])


def explained_vectors(nets: list[FusionGraphNet]) -> dict[str, np.ndarray]:
    """``{"id": ..., modality: ...}`` float32 (n_items, members x embedding_dim) joined parts of the members'
    unit item vectors; they sum to the joined vectors."""
    per_member = [explained_unit_parts(net) for net in nets]
    return {name: joined([parts[name] for parts in per_member]) for name in per_member[0]}


def explained_unit_parts(net: FusionGraphNet) -> dict[str, np.ndarray]:
    """One member's final item vectors split by source, over the norm of their sum (they sum to its unit vectors)."""
    with torch.no_grad():
        parts = net.explained_items()
        total = sum(parts.values())
        assert isinstance(total, torch.Tensor)
        norm = total.norm(dim=1, keepdim=True).clamp_min(1e-12)  # as F.normalize
        return {name: (part / norm).numpy().astype(np.float32) for name, part in parts.items()}


__all__ = [
    "explained_unit_parts",
    "explained_vectors",
    "joined",
    "member_content_vectors",
    "member_user_vectors",
    "new_item_vectors",
    "unit",
]
