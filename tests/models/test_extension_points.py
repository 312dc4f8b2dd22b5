"""The flagship's public extension points: a loss and an item-graph builder, registered by name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from fusionrec.errors import ConfigError
from fusionrec.models.fusion_graph import FusionGraph
from fusionrec.models.fusion_graph_config import ItemGraphConfig, LossConfig
from fusionrec.models.item_graph_registry import get_item_graph, register_item_graph, unregister_item_graph
from fusionrec.models.knn_graph import KNN_ITEM_GRAPH
from fusionrec.models.loss_registry import get_loss, register_loss, unregister_loss
from fusionrec.models.losses import catalog_softmax
from fusionrec.testing.datasets import image_only_split

TINY = {"epochs": 2, "batch_size": 16, "progress": False, "seed": 7, "threads": 1}


class DotSoftmax:
    """A user-defined loss: softmax over dot products (not cosines), scaled by ``options["scale"]``."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self,
        users: torch.Tensor,
        items: torch.Tensor,
        rows: torch.Tensor,
        positives: torch.Tensor,
        settings: LossConfig,
    ) -> torch.Tensor:
        self.calls += 1
        logits = users[rows] @ items.T * settings.options.get("scale", 1.0)  # (m, n_catalog)
        return F.cross_entropy(logits, positives)


class RingGraph:
    """A user-defined item graph: each item's neighbours are the next ``k`` items (weight 1 / k)."""

    def __init__(self) -> None:
        self.queries = 0

    def catalog(
        self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray], settings: ItemGraphConfig
    ) -> sp.csr_matrix:
        n = len(next(iter(features.values())))
        rows = np.repeat(np.arange(n), settings.k)
        cols = (rows + np.tile(np.arange(1, settings.k + 1), n)) % n
        return sp.csr_matrix((np.full(len(rows), 1.0 / settings.k, np.float32), (rows, cols)), shape=(n, n))

    def query(
        self,
        features: Mapping[str, np.ndarray],
        masks: Mapping[str, np.ndarray],
        catalog_features: Mapping[str, np.ndarray],
        catalog_masks: Mapping[str, np.ndarray],
        settings: ItemGraphConfig,
    ) -> sp.csr_matrix:
        self.queries += 1
        n, n_items = len(next(iter(features.values()))), len(next(iter(catalog_features.values())))
        return sp.csr_matrix((np.ones(n, np.float32), (np.arange(n), np.zeros(n, np.int64))), shape=(n, n_items))


@pytest.fixture
def dot_softmax() -> Iterator[DotSoftmax]:
    loss = DotSoftmax()
    register_loss("test-dot-softmax", loss)
    yield loss
    unregister_loss("test-dot-softmax")


@pytest.fixture
def ring_graph() -> Iterator[RingGraph]:
    builder = RingGraph()
    register_item_graph("test-ring", builder)
    yield builder
    unregister_item_graph("test-ring")


def test_a_registered_loss_trains_the_flagship_with_its_own_options(dot_softmax: DotSoftmax) -> None:
    split = image_only_split(seed=1)
    users = np.arange(split.n_users)
    custom = FusionGraph(
        embedding_dim=8, loss={"name": "test-dot-softmax", "options": {"scale": 2.0}}, train_config=TINY
    )
    scores = custom.fit(split).score_users(users)
    assert dot_softmax.calls > 0 and np.isfinite(scores).all()
    default = FusionGraph(embedding_dim=8, train_config=TINY).fit(split).score_users(users)
    assert not np.allclose(scores, default)
    assert get_loss("test-dot-softmax") is dot_softmax


def test_a_registered_item_graph_builder_makes_the_content_graph_and_places_new_items(ring_graph: RingGraph) -> None:
    split = image_only_split(seed=1)
    model = FusionGraph(embedding_dim=8, item_graph={"builder": "test-ring", "k": 2}, train_config=TINY).fit(split)
    graph = model.module_.item_graph  # type: ignore[union-attr]
    assert graph is not None
    expected = ring_graph.catalog(split.dataset.features, {}, ItemGraphConfig(k=2))
    np.testing.assert_allclose(graph.matrix.toarray(), expected.toarray())
    new_items = {name: values[:3] for name, values in split.dataset.features.items()}
    vectors = model.content_item_vectors(new_items, {})
    assert ring_graph.queries == 1 and vectors.shape[0] == 3 and np.isfinite(vectors).all()


def test_names_are_checked_and_taken_names_refused(dot_softmax: DotSoftmax, ring_graph: RingGraph) -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register_loss("softmax", dot_softmax)
    with pytest.raises(ConfigError, match="already registered"):
        register_item_graph("knn", ring_graph)
    with pytest.raises(ConfigError, match="unknown loss 'nope'"):
        get_loss("nope")
    with pytest.raises(ConfigError, match="unknown item-graph builder 'nope'"):
        get_item_graph("nope")
    with pytest.raises(ConfigError, match="not a removable"):
        unregister_loss("softmax")


def test_the_built_in_loss_and_builder_are_the_flagship_defaults() -> None:
    assert get_loss("softmax") is catalog_softmax and get_item_graph("knn") is KNN_ITEM_GRAPH
    config = FusionGraph().config
    assert config.loss.name == "softmax" and config.item_graph.builder == "knn"
