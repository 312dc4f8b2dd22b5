"""FusionGraph, the flagship: behaviour graph + content graph over an item tower that fuses ID and content.

What it is (the design and the evidence behind each choice are in
``docs/flagship.md``):

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
  to the item vectors with weight ``item_graph_weight``.
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

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
import scipy.sparse as sp
import torch  # this module is imported only when a FusionGraph is built (see MODEL_REGISTRY)
import torch.nn.functional as F

from fusionrec.errors import ConfigError
from fusionrec.models.content import as_tensors, content_tensors, trained_items
from fusionrec.models.fusion_graph_net import FusionGraphNet
from fusionrec.models.training import TorchRecommender, TrainConfig

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split


class FusionGraph(TorchRecommender):
    """Behaviour graph + content graph over an ID-and-content item tower, trained with full softmax.

    Args:
        embedding_dim: size of every vector.
        n_layers: propagations over the user-item graph.
        knn_k: neighbours per item in each modality's item-item graph.
        item_graph_weight: weight of the content-graph term in the item vectors (0 = no content graph).
        n_item_graph_layers: propagations over the item-item graph.
        modality_weights: ``{modality: weight}`` of the modality graphs; None = equal.
        fusion: how modalities are fused: ``"weighted"``, ``"gated"``, ``"concat"`` or ``"transformer"``.
        fusion_params: keyword arguments of the fusion module (e.g. ``{"hidden": 128}``).
        temperature: softmax temperature of the cosine scores.
        id_dropout: share of items whose ID part is dropped in each training step.
        init_std: standard deviation of the ID embeddings at initialisation.
        item_ids: give items an ID embedding; False makes items purely content (the ablation's
            "content only": users still have IDs, items are known only by their features).
        train_config: optimisation settings; keys a dict leaves out take :attr:`train_defaults`
            (``batch_size`` counts users: a batch is every training item of that many users).
    """

    name: ClassVar[str] = "fusiongraph"
    scores_cold_items: ClassVar[bool] = True
    train_defaults: ClassVar[dict[str, Any]] = {"lr": 0.01, "batch_size": 1024, "patience": 10}

    def __init__(
        self,
        embedding_dim: int = 64,
        n_layers: int = 2,
        knn_k: int = 10,
        item_graph_weight: float = 1.0,
        n_item_graph_layers: int = 1,
        modality_weights: dict[str, float] | None = None,
        fusion: str = "weighted",
        fusion_params: dict[str, Any] | None = None,
        temperature: float = 0.2,
        id_dropout: float = 0.0,
        init_std: float = 0.1,
        item_ids: bool = True,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        _check(embedding_dim, n_layers, n_item_graph_layers, temperature, id_dropout)
        super().__init__(
            train_config,
            embedding_dim=embedding_dim,
            n_layers=n_layers,
            knn_k=knn_k,
            item_graph_weight=item_graph_weight,
            n_item_graph_layers=n_item_graph_layers,
            modality_weights=modality_weights,
            fusion=fusion,
            fusion_params=fusion_params,
            temperature=temperature,
            id_dropout=id_dropout,
            init_std=init_std,
            item_ids=item_ids,
        )
        self._positives: tuple[np.ndarray, sp.csr_matrix] | None = None

    def get_params(self) -> dict[str, Any]:
        return {**self.params, "train_config": self.train_config.model_dump()}

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        """The network with the catalog's features, the user-item graph and the frozen content graph."""
        from fusionrec.fusion import build_fusion
        from fusionrec.models.graph import SparseOperator, normalized_adjacency

        p = self.params
        features, masks = content_tensors(split.dataset)
        dims = {m: int(v.shape[1]) for m, v in features.items()}
        fusion = build_fusion(p["fusion"], dims, p["embedding_dim"], **(p["fusion_params"] or {})) if dims else None
        warm = torch.from_numpy(trained_items(split) & p["item_ids"])
        net = FusionGraphNet(split.n_users, split.n_items, p["embedding_dim"], fusion, warm, p["init_std"])
        net.features, net.masks = features, masks
        net.user_graph = SparseOperator(normalized_adjacency(split.train.to_csr()))
        net.n_layers, net.n_item_graph_layers = p["n_layers"], p["n_item_graph_layers"]
        net.item_graph_weight = p["item_graph_weight"]
        if dims and p["item_graph_weight"]:
            net.item_graph = SparseOperator(self._catalog_graph(split))
        return net

    def batches(self, split: Split, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        """Shuffled users with training items, ``batch_size`` at a time: ``(users, rows, items)``.

        ``rows`` (int64) points into ``users`` and ``items`` are the matching positives,
        one entry per training interaction of the batch's users.
        """
        if self._positives is None or self._positives[1].shape != (split.n_users, split.n_items):
            train = split.train.to_csr()
            self._positives = (np.flatnonzero(np.diff(train.indptr) > 0), train)
        active, train = self._positives
        order = rng.permutation(active)
        for start in range(0, len(order), self.train_config.batch_size):
            users = order[start : start + self.train_config.batch_size]
            block = train[users].tocoo()  # (batch, n_items) positives
            yield (
                torch.from_numpy(users.astype(np.int64)),
                torch.from_numpy(block.row.astype(np.int64)),
                torch.from_numpy(block.col.astype(np.int64)),
            )

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Mean over the batch's interactions of ``-log softmax_items(cos(u, i) / temperature)``."""
        net = cast(FusionGraphNet, module)
        users, rows, items = batch
        keep = None
        if self.params["id_dropout"] > 0:
            keep = torch.bernoulli(torch.full((net.warm.shape[0], 1), 1.0 - self.params["id_dropout"]))
        all_users, all_items = net(keep)
        logits = F.normalize(all_users[users], dim=1) @ F.normalize(all_items, dim=1).T  # (batch, n_items)
        log_probability = torch.log_softmax(logits / self.params["temperature"], dim=1)
        return -log_probability[rows, items].mean()

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """Unit-norm float32 user (n_users, d) and item (n_items, d) vectors (score = cosine)."""
        users, items = module()
        return _unit(users), _unit(items)

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
            float32 (n, embedding_dim) unit vectors.

        Example:
            >>> vectors = model.content_item_vectors({"image": new_images}, {})  # doctest: +SKIP
            >>> scores = model.user_embeddings(users) @ vectors.T  # doctest: +SKIP
        """
        net, split = self._net(), self._require_fitted()
        values, flags = as_tensors(features, {m: masks[m] for m in features if m in masks})
        n = next(iter(values.values())).shape[0] if values else 0
        with torch.no_grad():
            if net.fusion is None or n == 0:
                return np.zeros((n, self.params["embedding_dim"]), dtype=np.float32)
            vectors = net.fusion(values, flags) / (net.n_layers + 1)  # (n, d)
            if net.item_graph is not None:
                catalog_items = sum(net.item_parts().values())
                assert isinstance(catalog_items, torch.Tensor)
                base = net.item_graph_power(catalog_items, net.n_item_graph_layers - 1)  # (n_items, d)
                neighbours = self._query_graph(split, features, masks)  # (n, n_items)
                vectors = vectors + net.item_graph_weight * torch.from_numpy(neighbours @ base.numpy())
        return _unit(vectors)

    def modality_item_vectors(self) -> dict[str, np.ndarray]:
        """``{"id": ..., modality: ...}`` float32 (n_items, d) parts that sum to :meth:`item_embeddings`.

        ``"id"`` holds everything behaviour contributes (ID embeddings, the
        users reached through the graph, the no-content vector); each
        modality holds what its features contribute after propagation.
        """
        net = self._net()
        with torch.no_grad():
            parts = net.explained_items()
            total = sum(parts.values())
            assert isinstance(total, torch.Tensor)
            norm = total.norm(dim=1, keepdim=True).clamp_min(1e-12)  # as F.normalize
            return {name: (part / norm).numpy().astype(np.float32) for name, part in parts.items()}

    def _net(self) -> FusionGraphNet:
        self._require_fitted()
        assert self.module_ is not None
        self.module_.eval()
        return cast(FusionGraphNet, self.module_)

    def _catalog_graph(self, split: Split) -> sp.csr_matrix:
        from fusionrec.models.knn_graph import modality_graph

        dataset = split.dataset
        masks = {m: dataset.feature_mask(m) for m in dataset.features}
        return modality_graph(dataset.features, self.params["knn_k"], masks, self.params["modality_weights"])

    def _query_graph(
        self, split: Split, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray]
    ) -> sp.csr_matrix:
        """Rows of the content graph for new items: weight / k on each of their catalog neighbours."""
        from fusionrec.models.knn_graph import knn_query, normalized_weights

        dataset = split.dataset
        share = normalized_weights(sorted(dataset.features), self.params["modality_weights"])
        n = len(next(iter(features.values())))
        total: sp.csr_matrix | None = None
        for name in sorted(dataset.features):
            if name not in features:
                continue
            catalog_mask = dataset.feature_mask(name)
            graph = knn_query(
                features[name], dataset.features[name], self.params["knn_k"], masks.get(name), catalog_mask
            )
            k = max(1, min(self.params["knn_k"], int(catalog_mask.sum())))
            graph = graph * (share[name] / k)  # = D^-1/2 A D^-1/2 with k neighbours per row
            total = graph if total is None else total + graph
        return (total if total is not None else sp.csr_matrix((n, split.n_items))).astype(np.float32)


def _unit(values: torch.Tensor) -> np.ndarray:
    return F.normalize(values.detach(), dim=1).numpy().astype(np.float32)


def _check(dim: int, n_layers: int, n_item_graph_layers: int, temperature: float, id_dropout: float) -> None:
    problems = []
    if dim < 1:
        problems.append(f"embedding_dim={dim} (>= 1)")
    if n_layers < 0 or n_item_graph_layers < 1:
        problems.append(f"n_layers={n_layers} (>= 0), n_item_graph_layers={n_item_graph_layers} (>= 1)")
    if temperature <= 0:
        problems.append(f"temperature={temperature} (> 0; 0.1 to 0.3 is usual)")
    if not 0 <= id_dropout < 1:
        problems.append(f"id_dropout={id_dropout} (in [0, 1))")
    if problems:
        raise ConfigError(f"FusionGraph got invalid hyper-parameters: {'; '.join(problems)}")
