"""Chunked modality kNN graphs: equal to the dense computation, bounded temporaries, masks respected."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from fusionrec.errors import ConfigError, FeatureShapeError
from fusionrec.models.knn_graph import Whitening, knn_graph, modality_graph


def dense_knn(values: np.ndarray, k: int) -> np.ndarray:
    unit = values / np.linalg.norm(values, axis=1, keepdims=True)
    similarity = unit @ unit.T  # the dense n x n matrix the chunked version avoids
    graph = np.zeros_like(similarity)
    top = np.argsort(-similarity, axis=1)[:, :k]
    np.put_along_axis(graph, top, 1.0, axis=1)
    return graph


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_chunked_graph_equals_the_dense_computation(chunk_size: int) -> None:
    values = np.random.default_rng(0).normal(size=(120, 12)).astype(np.float32)
    graph = knn_graph(values, k=6, chunk_size=chunk_size)
    np.testing.assert_array_equal(graph.toarray(), dense_knn(values, 6))
    assert graph.nnz == 120 * 6
    assert np.all(graph.diagonal() == 1), "each item is its own nearest neighbour"


def test_weighted_graph_keeps_cosine_similarities() -> None:
    values = np.random.default_rng(1).normal(size=(30, 5)).astype(np.float32)
    graph = knn_graph(values, k=3, weighted=True).tocoo()
    unit = values / np.linalg.norm(values, axis=1, keepdims=True)
    np.testing.assert_allclose(graph.data, (unit[graph.row] * unit[graph.col]).sum(axis=1), rtol=1e-5)


def test_chunk_size_bounds_the_temporary_memory() -> None:
    n_items, k, chunk = 3000, 10, 100
    values = np.random.default_rng(2).normal(size=(n_items, 16)).astype(np.float32)
    tracemalloc.start()
    try:
        knn_graph(values, k=k, chunk_size=chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense_bytes = n_items * n_items * 4
    bound = 4 * chunk * n_items * 8 + 40 * n_items * k + 2 * values.nbytes  # chunk temporaries + result
    assert peak < bound, f"peak {peak:,} bytes exceeds the chunked bound {bound:,}"
    assert peak < dense_bytes / 4, f"peak {peak:,} bytes is close to a dense matrix ({dense_bytes:,})"


def test_masked_and_zero_rows_get_no_edges_and_are_nobodys_neighbour() -> None:
    values = np.random.default_rng(3).normal(size=(20, 4)).astype(np.float32)
    values[5] = 0.0
    mask = np.ones(20, dtype=bool)
    mask[[2, 9]] = False
    graph = knn_graph(values, k=4, mask=mask, chunk_size=6).toarray()
    for item in (2, 5, 9):
        assert graph[item].sum() == 0 and graph[:, item].sum() == 0
    assert np.all(graph.sum(axis=1)[[i for i in range(20) if i not in (2, 5, 9)]] == 4)


def test_modality_graph_is_a_weighted_sum_of_normalised_graphs() -> None:
    rng = np.random.default_rng(4)
    features = {"image": rng.normal(size=(40, 6)), "audio": rng.normal(size=(40, 3))}
    equal = modality_graph(features, k=5)
    image_only = modality_graph(features, k=5, weights={"image": 1.0, "audio": 0.0})
    assert equal.shape == (40, 40)
    assert equal.nnz >= image_only.nnz
    np.testing.assert_allclose(image_only.toarray(), modality_graph({"image": features["image"]}, k=5).toarray())


def test_whitening_decorrelates_the_catalog_and_keeps_unusable_rows_zero() -> None:
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(4, 4))
    values = (rng.normal(size=(300, 4)) @ mixing + 20.0).astype(np.float32)  # correlated, far from the origin
    values[7] = 0.0
    mask = np.ones(300, dtype=bool)
    mask[3] = False
    transform = Whitening.fit(values, mask)
    whitened = transform(values)
    usable = np.setdiff1d(np.arange(300), [7])  # the masked row is not fitted on, but is transformed
    kept = np.setdiff1d(usable, [3])
    np.testing.assert_allclose(np.cov(whitened[kept].T), np.eye(4), atol=1e-6)
    np.testing.assert_allclose(whitened[kept].mean(axis=0), 0.0, atol=1e-4)
    assert np.all(whitened[7] == 0), "an all-zero (unusable) row stays unusable"
    np.testing.assert_allclose(transform(values[:5]), whitened[:5], atol=1e-6)


def test_whitening_a_catalog_with_fewer_items_than_dimensions_keeps_its_subspace() -> None:
    rng = np.random.default_rng(7)
    catalog = rng.normal(size=(5, 20))  # 5 items span 4 directions around their mean
    transform = Whitening.fit(catalog)
    assert transform.projection.shape == (20, 4)
    outside = catalog.mean(axis=0) + 1e3 * np.linalg.svd(catalog - catalog.mean(axis=0))[2][-1]
    np.testing.assert_allclose(transform(outside[None]), 0.0, atol=1e-6)  # no variance there: not amplified


def test_whitened_graph_finds_neighbours_by_what_sets_items_apart() -> None:
    rng = np.random.default_rng(6)
    shared = np.full((60, 8), 10.0)  # a common component that dominates raw cosine
    values = shared + rng.normal(size=(60, 8))
    values[1] = values[0] + 0.01 * rng.normal(size=8)  # item 1 is item 0 up to noise
    values[:, 0] *= 25.0  # one dimension with a large spread that raw cosine follows
    raw = modality_graph({"image": values}, k=2).toarray()
    whitened = modality_graph({"image": values}, k=2, whiten=["image"]).toarray()
    assert whitened[0, 1] > 0 and whitened[1, 0] > 0
    assert not np.array_equal(raw > 0, whitened > 0)
    with pytest.raises(FeatureShapeError, match="at least 2 usable rows"):
        Whitening.fit(np.zeros((5, 3)))


def test_bad_arguments_are_explained() -> None:
    with pytest.raises(ConfigError, match="k >= 1"):
        knn_graph(np.ones((3, 2)), k=0)
    with pytest.raises(FeatureShapeError, match="mask has shape"):
        knn_graph(np.ones((3, 2)), k=1, mask=np.ones(4, dtype=bool))
    with pytest.raises(ConfigError, match="weights"):
        modality_graph({"image": np.ones((3, 2))}, k=1, weights={"audio": 1.0})
