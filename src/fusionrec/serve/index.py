"""Retrieval over item vectors with faiss: exact for small catalogs, HNSW or IVF for large ones.

Scores are inner products (score = user @ item); every kind searches by
inner product directly, and the candidates it returns are rescored exactly
from the stored vectors. (Reducing inner product to L2 by norm
augmentation, Bachrach et al. 2014, was measured here and found worse for
HNSW: recall@20 0.77 against 0.94 on clustered vectors at efSearch 128.)

Slots are append-only: an item whose vector changes gets a new slot and
its old one is retired, because HNSW cannot remove vectors. Searches
over-fetch to make up for excluded (seen) items and retired slots.

Example:
    >>> index = ItemIndex(np.eye(3, dtype=np.float32))
    >>> index.search(np.array([0, 1, 0], np.float32), k=1, exclude={2})[0].tolist()
    [1]
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionrec.serve.locking import ReadWriteLock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexOptions:
    """How to build the index; ``kind="auto"`` picks exact up to ``exact_max_items`` items, else HNSW.

    ``hnsw_ef_search=None`` sizes the search to the catalog (:meth:`ef_search`).
    The defaults come from ``benchmarks/ann_sweep.py`` (``docs/capacity.md``):
    efConstruction 40 capped recall@20 at 0.94 on 200,000 items whatever the
    search width; 100 reaches 0.97 at efSearch 128 there.
    """

    kind: str = "auto"
    exact_max_items: int = 20_000
    hnsw_m: int = 16
    hnsw_ef_construction: int = 100
    hnsw_ef_search: int | None = None
    ivf_nprobe: int = 16
    cache_dir: Path | None = None
    search_threads: int = 1

    def resolve(self, n_items: int) -> str:
        """The concrete kind (``exact``, ``hnsw`` or ``ivf``) for a catalog of ``n_items``."""
        if self.kind != "auto":
            return self.kind
        return "exact" if n_items <= self.exact_max_items else "hnsw"

    def ef_search(self, n_items: int) -> int:
        """HNSW search width: ``hnsw_ef_search``, or by catalog size when it is None.

        The width needed for a given recall grows with the catalog: 128 up to
        250,000 items, then in proportion to the catalog (512 at 1,000,000, where
        the sweep measured recall@20 0.90 / 0.93 / 0.95 at 128 / 256 / 512), at most 2,048.

        Example:
            >>> IndexOptions().ef_search(100_000), IndexOptions().ef_search(1_000_000)
            (128, 512)
        """
        if self.hnsw_ef_search is not None:
            return self.hnsw_ef_search
        return int(min(MAX_AUTO_EF_SEARCH, BASE_EF_SEARCH * max(1.0, n_items / BASE_EF_ITEMS)))


BASE_EF_SEARCH = 128
"""efSearch of catalogs up to :data:`BASE_EF_ITEMS` items when it is derived from the catalog size."""
BASE_EF_ITEMS = 250_000
MAX_AUTO_EF_SEARCH = 2048


class ItemIndex:
    """A faiss index over item vectors whose results are item indices ranked by inner product.

    Args:
        vectors: float32 (n_items, d) item vectors; row ``i`` is item ``i``.
        options: index kind and parameters.
    """

    def __init__(self, vectors: np.ndarray, options: IndexOptions | None = None) -> None:
        self.options = options or IndexOptions()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        bad = ~np.isfinite(vectors).all(axis=1)
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} of {len(vectors)} item vectors have non-finite values (e.g. item index "
                f"{int(np.flatnonzero(bad)[0])}); the model's embeddings are broken, retrain or re-save it"
            )
        self.kind = self.options.resolve(len(vectors))
        self.dim = vectors.shape[1]
        self._lock = ReadWriteLock()
        self._vectors = vectors.copy()  # (n_items, d), row = item index; grows as items are added
        self._n_items = len(vectors)
        self._slot_item = np.arange(len(vectors), dtype=np.int64)  # slot -> item index, -1 when retired
        self._item_slot = np.arange(len(vectors), dtype=np.int64)  # item -> its live slot
        self._retired = 0
        self._index = _cached_or_built(vectors, self.kind, self.options)
        _faiss().omp_set_num_threads(self.options.search_threads)

    @property
    def n_items(self) -> int:
        return self._n_items

    def vectors(self, items: np.ndarray) -> np.ndarray:
        """float32 (len(items), d) current vectors of item indices."""
        with self._lock.reading():
            return self._vectors[items]

    def scores(self, query: np.ndarray) -> np.ndarray:
        """float32 (n_items,) exact inner products of ``query`` (d,) with every item's current vector."""
        with self._lock.reading():
            return self._vectors[: self._n_items] @ np.asarray(query, dtype=np.float32)

    def search(
        self, query: np.ndarray, k: int, exclude: set[int] | frozenset[int] = frozenset()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` items for one query vector, skipping ``exclude``.

        Args:
            query: float32 (d,) user or profile vector.
            k: number of items wanted.
            exclude: item indices never returned.

        Returns:
            int64 (<= k,) item indices best first and float32 (<= k,) their exact inner products.
        """
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)  # (1, d)
        with self._lock.reading():
            total = int(self._index.ntotal)
            fetch = min(total, k + len(exclude) + self._retired)
            while True:
                slots = self._search(query, max(fetch, 1))[0]
                candidates = self._live(slots, exclude)
                if len(candidates) >= k or fetch >= total:
                    scores = self._vectors[candidates] @ query[0]  # (n_candidates,) exact rescoring
                    best = np.argsort(-scores, kind="stable")[:k]
                    return candidates[best], scores[best].astype(np.float32)
                fetch = min(total, fetch * 2)

    def _search(self, query: np.ndarray, fetch: int) -> np.ndarray:
        """int64 (1, fetch) slots nearest to ``query`` (-1 padded)."""
        faiss = _faiss()
        params: Any = None
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.options.ef_search(self._n_items), fetch))
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=self.options.ivf_nprobe)
        return self._index.search(query, fetch, params=params)[1]

    def _live(self, slots: np.ndarray, exclude: set[int] | frozenset[int]) -> np.ndarray:
        """int64 items of ``slots`` that are live and not excluded, in search order."""
        items = self._slot_item[slots[slots >= 0]]  # faiss pads with -1 when it finds fewer
        # a set lookup per fetched item: fetches are k + |exclude| long, so this beats np.isin
        return items[[i for i, item in enumerate(items.tolist()) if item >= 0 and item not in exclude]]

    def upsert(self, item: int, vector: np.ndarray) -> None:
        """Give item ``item`` the float32 (d,) ``vector``; ``item == n_items`` appends a new item."""
        vector = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, self.dim)  # (1, d)
        if not np.isfinite(vector).all():
            raise ValueError(f"the vector of item index {item} has non-finite values; it cannot be indexed")
        with self._lock.writing():
            if item == self._n_items:
                self._grow()
            elif not 0 <= item < self._n_items:
                raise IndexError(f"item index {item} is outside 0..{self._n_items} (n_items is {self._n_items})")
            else:
                self._slot_item[self._item_slot[item]] = -1
                self._retired += 1
            self._index.add(vector)
            self._slot_item = np.append(self._slot_item, item)
            self._item_slot[item] = len(self._slot_item) - 1
            self._vectors[item] = vector[0]

    def _grow(self) -> None:
        if self._n_items == len(self._vectors):
            spare = max(16, self._n_items // 4)  # amortised growth keeps appends O(1)
            self._vectors = np.concatenate([self._vectors, np.zeros((spare, self.dim), np.float32)])
            self._item_slot = np.concatenate([self._item_slot, np.full(spare, -1, np.int64)])
        self._n_items += 1


def _faiss() -> Any:
    """The faiss module, imported on first use (typed loosely: its SWIG stubs are incomplete)."""
    import faiss

    return faiss


def _cached_or_built(vectors: np.ndarray, kind: str, options: IndexOptions) -> Any:
    """A built index over (n, d) ``vectors``, read from ``options.cache_dir`` when built before."""
    faiss = _faiss()
    if kind == "exact" or options.cache_dir is None:
        return _build(vectors, kind, options)
    # hashed from the array's own memory: tobytes() would copy it first while holding the interpreter lock
    # (0.3 s at 1,000,000 x 128 beside serving threads); the digest is the same
    digest = hashlib.sha256(vectors.reshape(-1).view(np.uint8).data)
    digest.update(repr((kind, options.hnsw_m, options.hnsw_ef_construction)).encode())
    path = Path(options.cache_dir) / f"{kind}-{digest.hexdigest()[:24]}.faiss"
    if path.is_file():
        logger.info("reusing the %s index in %s", kind, path)
        return faiss.read_index(str(path))
    index = _build(vectors, kind, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial-{os.getpid()}")
    faiss.write_index(index, str(partial))
    partial.replace(path)
    return index


def _build(vectors: np.ndarray, kind: str, options: IndexOptions) -> Any:
    """An inner-product faiss index holding ``vectors`` (n, d), built with every core."""
    faiss = _faiss()
    started = time.perf_counter()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    n, dim = vectors.shape
    if kind == "exact":
        index: Any = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, options.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = options.hnsw_ef_construction
    elif kind == "ivf":
        index = _trained_ivf(vectors)
    else:
        raise ValueError(f"index kind {kind!r} is unknown; use exact, hnsw, ivf or auto")
    index.add(vectors)
    logger.info("built a %s index over %d items (d=%d) in %.1f s", kind, n, dim, time.perf_counter() - started)
    return index


def _trained_ivf(vectors: np.ndarray) -> Any:
    faiss = _faiss()
    n, dim = vectors.shape
    n_lists = int(np.clip(4 * np.sqrt(n), 1, max(1, n // 39)))  # faiss wants >= 39 training points per list
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, n_lists, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(n, size=min(n, 64 * n_lists), replace=False)]
    index.train(sample)
    return index


__all__ = ["IndexOptions", "ItemIndex"]
