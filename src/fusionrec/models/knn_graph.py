"""Item-item k-nearest-neighbour graphs from content features, built in row chunks.

The cosine similarity of a chunk of ``chunk_size`` items against all
``n_items`` is computed, the ``k`` best columns of each row are kept and
the chunk is dropped, so the largest temporary is ``chunk_size x n_items``
floats and the result holds ``n_items x k`` entries: memory is
``O(n_items x k)``, never a dense ``n_items x n_items`` matrix.

Items whose input for a modality is missing (mask False) or all zero get
no neighbours in that modality's graph and are nobody's neighbour.

Example:
    >>> import numpy as np
    >>> graph = knn_graph(np.random.rand(100, 16).astype(np.float32), k=5)
    >>> graph.shape, graph.nnz
    ((100, 100), 500)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from fusionrec.errors import ConfigError, FeatureShapeError
from fusionrec.models.graph import symmetric_normalize

if TYPE_CHECKING:
    from fusionrec.models.fusion_graph_config import ItemGraphConfig


def knn_graph(
    features: np.ndarray,
    k: int,
    mask: np.ndarray | None = None,
    chunk_size: int = 1024,
    weighted: bool = False,
) -> sp.csr_matrix:
    """The directed top-``k`` cosine neighbour graph of the rows of ``features``.

    Args:
        features: float (n_items, d) content vectors.
        k: neighbours kept per item (the item itself counts, as in FREEDOM/LATTICE,
            since its own similarity is the highest).
        mask: bool (n_items,) usable rows; None means all.
        chunk_size: rows compared with the catalog at once; bounds the temporary to
            ``chunk_size x n_items`` floats.
        weighted: keep the cosine similarities as edge weights instead of ones.

    Returns:
        float32 CSR (n_items, n_items); row ``i`` holds ``min(k, usable items)``
        entries when item ``i`` is usable, none otherwise.
    """
    return knn_query(features, features, k, mask, mask, chunk_size, weighted)


def knn_query(
    queries: np.ndarray,
    catalog: np.ndarray,
    k: int,
    query_mask: np.ndarray | None = None,
    catalog_mask: np.ndarray | None = None,
    chunk_size: int = 1024,
    weighted: bool = False,
) -> sp.csr_matrix:
    """Top-``k`` cosine neighbours of each query row among the catalog rows, in chunks of queries.

    Args:
        queries: float (n_queries, d).
        catalog: float (n_items, d).
        k: neighbours per query.
        query_mask, catalog_mask: bool usable rows; None means all.
        chunk_size: queries compared with the catalog at once.
        weighted: cosine similarities as values instead of ones.

    Returns:
        float32 CSR (n_queries, n_items) with ``min(k, usable catalog rows)`` entries per usable query.
    """
    if k < 1 or chunk_size < 1:
        raise ConfigError(f"knn_graph needs k >= 1 and chunk_size >= 1, got k={k}, chunk_size={chunk_size}")
    query_values, query_usable = _unit_rows(queries, query_mask)
    catalog_values, catalog_usable = _unit_rows(catalog, catalog_mask)
    if query_values.shape[1] != catalog_values.shape[1]:
        raise FeatureShapeError(
            f"queries have {query_values.shape[1]} columns but the catalog has {catalog_values.shape[1]}; "
            "both must come from the same encoder"
        )
    k = min(k, int(catalog_usable.sum()))
    rows, cols, weights = [], [], []
    usable_index = np.flatnonzero(query_usable) if k > 0 else np.zeros(0, dtype=np.int64)
    for start in range(0, len(usable_index), chunk_size):
        chunk = usable_index[start : start + chunk_size]
        neighbours, similarity = _top_k_rows(query_values[chunk], catalog_values, catalog_usable, k)
        rows.append(np.repeat(chunk, k))
        cols.append(neighbours.ravel())
        weights.append(similarity.ravel())
    return _assemble(rows, cols, weights if weighted else None, (len(query_values), len(catalog_values)))


def modality_graph(
    features: Mapping[str, np.ndarray],
    k: int,
    masks: Mapping[str, np.ndarray] | None = None,
    weights: Mapping[str, float] | None = None,
    chunk_size: int = 1024,
    whiten: Collection[str] = (),
) -> sp.csr_matrix:
    """A weighted sum of the symmetric-normalised kNN graphs of several modalities (FREEDOM's frozen graph).

    Args:
        features: ``{modality: (n_items, d_m)}``.
        k: neighbours per item in each modality.
        masks: ``{modality: bool (n_items,)}`` usable rows.
        weights: ``{modality: weight}``; None weighs every modality equally. Normalised to sum to one.
        chunk_size: see :func:`knn_graph`.
        whiten: modalities compared after :class:`Whitening` (fitted on their usable rows), not raw.

    Returns:
        float32 CSR (n_items, n_items), each modality's graph ``D^-1/2 A D^-1/2``.
    """
    if not features:
        raise FeatureShapeError("modality_graph needs at least one modality; the features mapping is empty")
    share = normalized_weights(list(features), weights)
    total: sp.csr_matrix | None = None
    for name, values in features.items():
        mask = (masks or {}).get(name)
        compared = Whitening.fit(values, mask)(values) if name in whiten else values
        graph = symmetric_normalize(knn_graph(compared, k, mask, chunk_size)) * share[name]
        total = graph if total is None else total + graph
    assert total is not None
    return total.tocsr().astype(np.float32)


@dataclass(frozen=True)
class Whitening:
    """PCA whitening ``x -> (x - mean) V diag(var + eps)^-1/2``, fitted on a catalog's usable rows.

    Raw cosine is dominated by what every item shares: on TikTok the image
    features of two random items have a mean cosine of 0.86. Whitened, every
    direction of the catalog's variation counts the same, and neighbours are
    found by what sets an item apart. Rows that were unusable (all zero, not
    finite) stay zero, so they stay unusable after the transform.

    Example:
        >>> values = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
        >>> whitened = Whitening.fit(values)(values)
        >>> bool(np.allclose(np.cov(whitened.T), np.eye(4), atol=0.05))
        True
    """

    mean: np.ndarray  # float64 (d,)
    projection: np.ndarray  # float64 (d, r): the r kept eigenvectors over the square roots of their variances

    @classmethod
    def fit(cls, features: np.ndarray, mask: np.ndarray | None = None, eps: float = 1e-6) -> Whitening:
        """Fit on the usable rows of float (n, d) ``features``.

        Directions whose variance is below ``eps`` x the largest are dropped, not blown up: with fewer
        items than dimensions the catalog spans a subspace only, and a new item's component outside it
        would otherwise swamp its whitened vector.
        """
        _, usable = _unit_rows(features, mask)
        if usable.sum() < 2:
            raise FeatureShapeError(
                f"whitening needs at least 2 usable rows, got {int(usable.sum())}; "
                "give more items this modality's features or compare it raw (leave it out of graph_whitening)"
            )
        rows = np.asarray(features, dtype=np.float64)[usable]
        mean = rows.mean(axis=0)
        variances, vectors = np.linalg.eigh(np.cov(rows - mean, rowvar=False).reshape(len(mean), len(mean)))
        kept = variances > eps * max(float(variances.max()), 1e-300)
        return cls(mean=mean, projection=vectors[:, kept] / np.sqrt(variances[kept]))

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """float32 (n, r) whitened rows; rows that were unusable stay all zero."""
        _, usable = _unit_rows(features, None)
        values = np.asarray(features, dtype=np.float64)
        result = np.zeros((len(values), self.projection.shape[1]), dtype=np.float32)
        result[usable] = (values[usable] - self.mean) @ self.projection
        return result


def _unit_rows(features: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised float32 rows and the bool (n,) usable rows (masked or all-zero rows are unusable)."""
    values = np.asarray(features, dtype=np.float32)
    if values.ndim != 2:
        raise FeatureShapeError(f"features must be (n_items, d); got shape {values.shape}")
    usable = np.ones(len(values), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if usable.shape != (len(values),):
        raise FeatureShapeError(f"mask has shape {usable.shape}; ({len(values)},) booleans are expected")
    norms = np.linalg.norm(values, axis=1)
    usable = usable & (norms > 0) & np.isfinite(norms)
    unit = np.zeros_like(values)
    unit[usable] = values[usable] / norms[usable, None]
    return unit, usable


def _top_k_rows(queries: np.ndarray, catalog: np.ndarray, usable: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` usable columns of ``queries @ catalog.T``: int64 and float32 (n_queries, k)."""
    similarity = queries @ catalog.T  # (chunk, n_items): the only large temporary
    similarity[:, ~usable] = -np.inf
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]  # (chunk, k)
    return top.astype(np.int64), np.take_along_axis(similarity, top, axis=1)


def _assemble(
    rows: list[np.ndarray], cols: list[np.ndarray], weights: list[np.ndarray] | None, shape: tuple[int, int]
) -> sp.csr_matrix:
    if not rows:
        return sp.csr_matrix((np.zeros(0, np.float32), (np.zeros(0, np.int64), np.zeros(0, np.int64))), shape=shape)
    row, col = np.concatenate(rows), np.concatenate(cols)
    data = np.ones(len(row), np.float32) if weights is None else np.concatenate(weights).astype(np.float32)
    graph = sp.csr_matrix((data, (row, col)), shape=shape, dtype=np.float32)
    graph.sort_indices()
    return graph


def normalized_weights(names: list[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    """``{modality: weight}`` summing to one; None gives equal weights."""
    if weights is None:
        return {name: 1.0 / len(names) for name in names}
    missing = sorted(set(names) - set(weights))
    if missing or any(weights[name] < 0 for name in names) or sum(weights[name] for name in names) <= 0:
        raise ConfigError(f"modality graph weights must be >= 0 for every modality {names}; got {dict(weights)}")
    total = sum(weights[name] for name in names)
    return {name: weights[name] / total for name in names}


class KnnItemGraph:
    """The built-in item-graph builder ``"knn"`` (:mod:`~fusionrec.models.item_graph_registry`).

    The catalog graph is :func:`modality_graph` (each modality's top-``k`` cosine graph, symmetric-normalised,
    summed with ``modality_weights``; ``whitening`` modalities compared after :class:`Whitening`). A new item's
    row holds ``weight / k`` on each of its top-``k`` catalog neighbours in each modality it has, which is the
    catalog graph's normalisation for an item with ``k`` neighbours.
    """

    def catalog(
        self, features: Mapping[str, np.ndarray], masks: Mapping[str, np.ndarray], settings: ItemGraphConfig
    ) -> sp.csr_matrix:
        """float32 CSR (n_items, n_items)."""
        whiten = settings.whitening or ()
        return modality_graph(features, settings.k, masks, settings.modality_weights, whiten=whiten)

    def query(
        self,
        features: Mapping[str, np.ndarray],
        masks: Mapping[str, np.ndarray],
        catalog_features: Mapping[str, np.ndarray],
        catalog_masks: Mapping[str, np.ndarray],
        settings: ItemGraphConfig,
    ) -> sp.csr_matrix:
        """float32 CSR (n, n_items) rows for new items."""
        whiten = settings.whitening or ()
        share = normalized_weights(sorted(catalog_features), settings.modality_weights)
        n = len(next(iter(features.values())))
        n_items = len(next(iter(catalog_features.values())))
        total: sp.csr_matrix | None = None
        for name in sorted(catalog_features):
            if name not in features:
                continue
            catalog_mask, queries, catalog = catalog_masks[name], features[name], catalog_features[name]
            if name in whiten:  # compared in the catalog graph's space
                transform = Whitening.fit(catalog, catalog_mask)
                queries, catalog = transform(queries), transform(catalog)
            graph = knn_query(queries, catalog, settings.k, masks.get(name), catalog_mask)
            k = max(1, min(settings.k, int(catalog_mask.sum())))
            graph = graph * (share[name] / k)  # = D^-1/2 A D^-1/2 with k neighbours per row
            total = graph if total is None else total + graph
        return (total if total is not None else sp.csr_matrix((n, n_items))).astype(np.float32)


KNN_ITEM_GRAPH = KnnItemGraph()
"""The instance registered as ``"knn"``."""
