"""The flagship's item-item content graph, built by a named builder: a public extension point.

A builder (:class:`ItemGraphBuilder`) makes the frozen item-item graph
the item vectors are propagated over, and the rows of that graph for new
items known only by content (so they are placed as the catalog's cold
items are). Both get the ``[model.params.item_graph]`` table
(:class:`~fusionrec.models.fusion_graph_config.ItemGraphConfig`). Built-in:
``"knn"``, each modality's top-``k`` cosine graph, symmetric-normalised and
summed with the modality weights (:class:`fusionrec.models.knn_graph.KnnItemGraph`).
Register your own with :func:`register_item_graph`; then
``[model.params.item_graph] builder = "yours"`` selects it.

Example:
    >>> import numpy as np, scipy.sparse as sp
    >>> class Identity:
    ...     def catalog(self, features, masks, settings):
    ...         n = len(next(iter(features.values())))
    ...         return sp.identity(n, np.float32, format="csr")
    ...     def query(self, features, masks, catalog_features, catalog_masks, settings):
    ...         n, n_items = len(next(iter(features.values()))), len(next(iter(catalog_features.values())))
    ...         return sp.csr_matrix((n, n_items), dtype=np.float32)
    >>> register_item_graph("identity", Identity())
    >>> "identity" in item_graph_names()
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from fusionrec.models.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

    from fusionrec.models.fusion_graph_config import ItemGraphConfig


class ItemGraphBuilder(Protocol):
    """Builds the item-item graph of a catalog, and its rows for new items."""

    def catalog(
        self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray], settings: ItemGraphConfig
    ) -> sp.csr_matrix:
        """float32 CSR (n_items, n_items) graph of the catalog from ``{modality: (n_items, d_m)}`` features
        and bool (n_items,) usable-row masks; row ``i`` holds the weights of item ``i``'s neighbours."""
        ...

    def query(
        self,
        features: Mapping[str, np.ndarray],
        masks: Mapping[str, np.ndarray],
        catalog_features: Mapping[str, np.ndarray],
        catalog_masks: Mapping[str, np.ndarray],
        settings: ItemGraphConfig,
    ) -> sp.csr_matrix:
        """float32 CSR (n, n_items): rows of the graph for ``n`` new items (any subset of the modalities)."""
        ...


_BUILDERS = Registry[ItemGraphBuilder](
    "item-graph builder", {"knn": "fusionrec.models.knn_graph:KNN_ITEM_GRAPH"}, "register_item_graph"
)


def register_item_graph(name: str, builder: ItemGraphBuilder) -> None:
    """Make ``builder`` selectable as ``item_graph.builder = name``; a name already taken is refused."""
    _BUILDERS.register(name, builder)


def unregister_item_graph(name: str) -> None:
    """Remove a builder registered with :func:`register_item_graph` (built-in builders stay)."""
    _BUILDERS.unregister(name)


def item_graph_names() -> frozenset[str]:  # reads as the constant it stands for
    """The registered builder names."""
    return _BUILDERS.names()


def get_item_graph(name: str) -> ItemGraphBuilder:
    """The builder registered as ``name`` (a built-in is imported on first use)."""
    return _BUILDERS.get(name)


__all__ = ["ItemGraphBuilder", "get_item_graph", "item_graph_names", "register_item_graph", "unregister_item_graph"]
