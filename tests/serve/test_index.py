"""Retrieval: every index kind finds the exact top-k on easy data, exclusions hold, items can be added and moved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.serve.index import IndexOptions, ItemIndex


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.standard_normal((3000, 16)).astype(np.float32)


def exact_top(vectors: np.ndarray, query: np.ndarray, k: int, exclude: set[int]) -> list[int]:
    order = np.argsort(-(vectors @ query), kind="stable")
    return [int(i) for i in order if int(i) not in exclude][:k]


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf"])
def test_each_kind_matches_brute_force(vectors: np.ndarray, kind: str) -> None:
    index = ItemIndex(vectors, IndexOptions(kind=kind, ivf_nprobe=64))
    recalls = []
    for row in range(0, 300, 30):
        query = vectors[row]
        items, scores = index.search(query, k=10, exclude={row})
        expected = exact_top(vectors, query, 10, {row})
        recalls.append(len(set(items.tolist()) & set(expected)) / 10)
        assert row not in items.tolist()
        np.testing.assert_allclose(scores, vectors[items] @ query, rtol=1e-4, atol=1e-4)
        assert np.all(np.diff(scores) <= 1e-6)
    assert np.mean(recalls) >= (1.0 if kind == "exact" else 0.9)


def test_auto_is_exact_for_small_catalogs_and_hnsw_above_the_threshold(vectors: np.ndarray) -> None:
    assert ItemIndex(vectors, IndexOptions(kind="auto", exact_max_items=5000)).kind == "exact"
    assert ItemIndex(vectors, IndexOptions(kind="auto", exact_max_items=1000)).kind == "hnsw"


def test_exclusions_are_made_up_by_fetching_more(vectors: np.ndarray) -> None:
    index = ItemIndex(vectors, IndexOptions(kind="exact"))
    query = vectors[0]
    exclude = set(exact_top(vectors, query, 50, set()))
    items, _ = index.search(query, k=20, exclude=exclude)
    assert items.tolist() == exact_top(vectors, query, 20, exclude)


def test_k_larger_than_the_catalog_returns_every_other_item() -> None:
    index = ItemIndex(np.eye(4, dtype=np.float32))
    items, _ = index.search(np.ones(4, np.float32), k=10, exclude={1})
    assert sorted(items.tolist()) == [0, 2, 3]


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf"])
def test_added_and_moved_items_are_found_and_old_slots_are_not(vectors: np.ndarray, kind: str) -> None:
    index = ItemIndex(vectors, IndexOptions(kind=kind, ivf_nprobe=64))
    direction = np.zeros(16, np.float32)
    direction[0] = float(np.linalg.norm(vectors, axis=1).max())  # as long as the longest item
    index.upsert(len(vectors), direction)
    assert index.n_items == len(vectors) + 1
    assert index.search(direction, k=1)[0].tolist() == [len(vectors)]
    index.upsert(7, 1.2 * direction)  # item 7 moves there, a bit longer, and overtakes the new item
    top = index.search(direction, k=3)[0].tolist()
    assert top[:2] == [7, len(vectors)]
    assert top.count(7) == 1  # its retired slot is never returned
    np.testing.assert_array_equal(index.vectors(np.array([7]))[0], 1.2 * direction)


def test_approximate_search_finds_inner_product_neighbours_of_varied_length() -> None:
    rng = np.random.default_rng(1)
    vectors = (rng.standard_normal((4000, 16)) * rng.uniform(0.2, 3.0, (4000, 1))).astype(np.float32)
    exact = ItemIndex(vectors, IndexOptions(kind="exact"))
    approximate = ItemIndex(vectors, IndexOptions(kind="hnsw"))
    recalls = []
    for query in rng.standard_normal((30, 16)).astype(np.float32):  # random directions, as user vectors are
        truth = set(exact.search(query, 10)[0].tolist())
        recalls.append(len(truth & set(approximate.search(query, 10)[0].tolist())) / 10)
    assert np.mean(recalls) >= 0.9


def test_an_index_outside_the_catalog_is_refused(vectors: np.ndarray) -> None:
    index = ItemIndex(vectors[:10])
    with pytest.raises(IndexError, match="outside"):
        index.upsert(12, vectors[0])


def test_approximate_indexes_are_reused_from_the_cache(vectors: np.ndarray, tmp_path: Path) -> None:
    options = IndexOptions(kind="hnsw", cache_dir=tmp_path)
    first = ItemIndex(vectors, options)
    assert len(list(tmp_path.glob("hnsw-*.faiss"))) == 1
    second = ItemIndex(vectors, options)
    query = vectors[5]
    assert first.search(query, 10)[0].tolist() == second.search(query, 10)[0].tolist()


def test_items_added_at_run_time_are_found_without_a_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of items added one by one to a built HNSW index are each found first for their own direction."""
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((6000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = ItemIndex(vectors[:5000], IndexOptions(kind="hnsw"))

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("the index was built again")

    monkeypatch.setattr("fusionrec.serve.index._build", no_rebuild)
    for item in range(5000, 6000):
        index.upsert(item, vectors[item])
    assert index.n_items == 6000
    found = [index.search(vectors[item], k=1)[0].tolist() == [item] for item in range(5000, 6000)]
    assert np.mean(found) >= 0.99


def test_search_width_grows_with_the_catalog_unless_it_is_set() -> None:
    derived = IndexOptions()
    widths = [derived.ef_search(n) for n in (1_000, 250_000, 1_000_000, 4_000_000, 10**9)]
    assert widths == [128, 128, 512, 2048, 2048]
    assert IndexOptions(hnsw_ef_search=64).ef_search(10**7) == 64
