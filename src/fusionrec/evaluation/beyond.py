"""Beyond-accuracy metrics: what the recommended lists look like, whatever the held-out items.

Every function takes ``lists``: int64 (n_users, K), row ``u`` the items
recommended to user ``u`` best first, ``-1`` in a slot that holds no item
(a user with fewer than K rankable items), and a cut-off ``k <= K``. Items
are indices in ``[0, n_items)`` of the catalog the lists were drawn from.

- coverage@k: share of the catalog recommended to at least one user.
- gini@k: Gini index of the items' exposure (how often each catalog item,
  unrecommended ones included, appears in the top k): 0 when every item is
  shown equally often, (n_items - 1) / n_items when one item takes every place.
- popularity@k: mean number of training users of the recommended items.
- popularity_share@k: the same over the number of users, the share of users
  who trained on a recommended item, in [0, 1].
- novelty@k: mean self-information ``-log2(share)`` of the recommended items;
  an item without training users counts as trained on by one, so its
  novelty is ``log2(n_users)``, the largest finite value.
- ild@k: intra-list diversity, the mean cosine distance ``1 - cos`` over the
  pairs of a list, from item vectors (content or model); a zero vector has
  cosine 0 with everything.

Coverage and Gini describe all lists together; the others are per-user
values (NaN where a list has no item, or fewer than two for ILD) averaged
over the users where they are defined.

Example:
    >>> import numpy as np
    >>> lists = np.array([[0, 1], [0, 2]])
    >>> catalog_coverage(lists, n_items=4, k=2)
    0.75
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BEYOND_METRICS = ("coverage", "gini", "popularity", "popularity_share", "novelty", "ild")
"""Every beyond-accuracy metric name, in report order."""

ILD_USERS_PER_BLOCK = 512
"""Users whose list vectors are gathered at once by :func:`intra_list_diversity`."""


def _top(lists: np.ndarray, k: int) -> np.ndarray:
    """int64 (n_users, min(k, K)) the first ``k`` slots; ValueError for k below 1."""
    if k < 1:
        raise ValueError(f"cut-off k must be at least 1, got {k}")
    return np.asarray(lists, dtype=np.int64)[:, :k]


def exposure(lists: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """int64 (n_items,) how many users' top ``k`` hold each item.

    Raises:
        ValueError: an item index outside ``[0, n_items)`` (other than the empty slot ``-1``).
    """
    top = _top(lists, k)
    items = top[top >= 0]
    if len(items) and (items.max() >= n_items or top.min() < -1):
        raise ValueError(
            f"lists hold item indices from {top.min()} to {items.max()} but the catalog has {n_items:,} items; "
            "expected indices in [0, n_items) and -1 for an empty slot"
        )
    return np.bincount(items, minlength=n_items).astype(np.int64)


def catalog_coverage(lists: np.ndarray, n_items: int, k: int) -> float:
    """Share of the ``n_items`` catalog items that appear in at least one user's top ``k``."""
    if n_items < 1:
        raise ValueError(f"the catalog must have at least one item, got n_items={n_items}")
    return float(np.count_nonzero(exposure(lists, n_items, k)) / n_items)


def gini_index(values: np.ndarray) -> float:
    """Gini index of non-negative ``values``: 0 when all are equal, near 1 when one holds everything.

    ``G = sum_i (2 i - n - 1) x_(i) / (n sum x)`` over the values sorted ascending (i = 1..n);
    0.0 when every value is 0.

    Example:
        >>> gini_index(np.array([0.0, 0.0, 0.0, 3.0]))
        0.75
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if len(x) and (x[0] < 0 or not np.isfinite(x[-1])):
        raise ValueError(f"Gini needs finite non-negative values; got a minimum {x[0]} and a maximum {x[-1]}")
    total = x.sum()
    if len(x) == 0 or total == 0:
        return 0.0
    n = len(x)
    weights = 2 * np.arange(1, n + 1) - n - 1
    return float(max(0.0, (weights @ x) / (n * total)))


def exposure_gini(lists: np.ndarray, n_items: int, k: int) -> float:
    """Gini index of the exposure of every catalog item in the top ``k`` (unrecommended items count as 0)."""
    return gini_index(exposure(lists, n_items, k))


def _per_list_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """float64 (n_users,) mean of ``values`` (n_users, k) over the valid slots; NaN for a list without any."""
    counts = valid.sum(axis=1)
    sums = np.where(valid, values, 0.0).sum(axis=1)
    return np.divide(sums, counts, out=np.full(len(counts), np.nan), where=counts > 0)


def _item_values(lists: np.ndarray, per_item: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, valid): float64 (n_users, k) ``per_item`` of each slot's item and bool whether the slot holds one."""
    top = _top(lists, k)
    valid = top >= 0
    if valid.any() and top[valid].max() >= len(per_item):
        raise ValueError(f"lists hold item index {top[valid].max()} but only {len(per_item):,} items have values")
    return np.asarray(per_item, dtype=np.float64)[np.where(valid, top, 0)], valid


def _check_counts(item_counts: np.ndarray, n_users: int) -> np.ndarray:
    counts = np.asarray(item_counts)
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    if len(counts) and (counts.min() < 0 or counts.max() > n_users):
        raise ValueError(
            f"item_counts range from {counts.min()} to {counts.max()} but must lie in [0, n_users={n_users:,}]: "
            "count each item's distinct training users"
        )
    return counts


def average_popularity(lists: np.ndarray, item_counts: np.ndarray, k: int) -> np.ndarray:
    """float64 (n_users,) mean training users (``item_counts`` (n_items,)) of each user's top ``k``; NaN if empty."""
    values, valid = _item_values(lists, item_counts, k)
    return _per_list_mean(values, valid)


def popularity_share(lists: np.ndarray, item_counts: np.ndarray, n_users: int, k: int) -> np.ndarray:
    """float64 (n_users,) :func:`average_popularity` over ``n_users``: the mean share of users who trained on one."""
    return average_popularity(lists, _check_counts(item_counts, n_users), k) / n_users


def novelty(lists: np.ndarray, item_counts: np.ndarray, n_users: int, k: int) -> np.ndarray:
    """float64 (n_users,) mean self-information ``-log2(max(count, 1) / n_users)`` of each user's top ``k``.

    Example:
        >>> novelty(np.array([[0, 1]]), np.array([4, 1]), n_users=4, k=2).tolist()  # (0 + 2) / 2
        [1.0]
    """
    counts = _check_counts(item_counts, n_users)
    information = -np.log2(np.maximum(counts, 1) / n_users)
    values, valid = _item_values(lists, information, k)
    return _per_list_mean(values, valid)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit length; zero rows stay zero. ValueError for a non-finite value."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"item vectors must be (n_items, dim), got shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        bad = int((~np.isfinite(vectors)).any(axis=1).sum())
        raise ValueError(f"{bad:,} of {len(vectors):,} item vectors hold NaN or infinite values; they must be finite")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def intra_list_diversity(lists: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    """float64 (n_users,) mean cosine distance over the pairs of each user's top ``k``; NaN below two items.

    With unit rows ``v`` and the sum ``s`` of a list's m vectors, the pairs' cosines add up to
    ``|s|^2 - sum |v|^2`` over the m (m - 1) ordered pairs, so no k x k matrix is built.

    Args:
        lists: int64 (n_users, K) item indices, -1 for an empty slot.
        vectors: float (n_items, dim) item vectors (normalised here).
        k: cut-off.
    """
    unit = unit_rows(vectors)
    top = _top(lists, k)
    if (top >= len(unit)).any():
        raise ValueError(f"lists hold item index {top.max()} but only {len(unit):,} item vectors were given")
    result = np.full(len(top), np.nan)
    for start in range(0, len(top), ILD_USERS_PER_BLOCK):
        block = top[start : start + ILD_USERS_PER_BLOCK]
        valid = block >= 0
        gathered = unit[np.where(valid, block, 0)] * valid[..., None]  # (n, k, dim), empty slots zero
        total = gathered.sum(axis=1, dtype=np.float64)  # (n, dim)
        self_similarity = np.square(gathered, dtype=np.float64).sum(axis=(1, 2))  # (n,)
        m = valid.sum(axis=1)
        pairs = m * (m - 1.0)
        cosine = np.divide(
            np.square(total).sum(axis=1) - self_similarity, pairs, out=np.full(len(m), np.nan), where=pairs > 0
        )
        result[start : start + len(block)] = np.clip(1.0 - cosine, 0.0, 2.0)  # float32 unit rows round by ~1e-7
    return result


@dataclass(frozen=True)
class ItemStatistics:
    """What the beyond-accuracy metrics know about the catalog of an evaluation.

    Attributes:
        item_counts: int64 (n_items,) distinct training users of each item.
        n_users: users of the split (the denominator of the popularity share).
        vectors: float32 (n_items, dim) item vectors for ILD, or None (ILD is then not computed).
        vectors_source: what the vectors are, for reports (e.g. ``"content: audio+image ..."``).
        catalog: sorted item indices that may be recommended (cold protocol), None for every item.
    """

    item_counts: np.ndarray
    n_users: int
    vectors: np.ndarray | None = None
    vectors_source: str = "none"
    catalog: np.ndarray | None = None

    @property
    def n_catalog(self) -> int:
        """Items coverage and Gini are taken over."""
        return len(self.item_counts) if self.catalog is None else len(self.catalog)


def beyond_metrics(lists: np.ndarray, items: ItemStatistics, ks: tuple[int, ...]) -> dict[str, float]:
    """``{"coverage@20": ..., "gini@20": ..., ...}`` for every metric of :data:`BEYOND_METRICS` and cut-off.

    ILD is left out when ``items.vectors`` is None. Per-user metrics are averaged over the users
    where they are defined (0.0 when none is).

    Args:
        lists: int64 (n_users, K >= max(ks)) item indices into the whole catalog, -1 for an empty slot.
        items: the catalog's statistics.
        ks: cut-offs.
    """
    catalog_lists = _in_catalog(lists, items.catalog)
    result: dict[str, float] = {}
    for k in ks:
        result[f"coverage@{k}"] = catalog_coverage(catalog_lists, items.n_catalog, k)
        result[f"gini@{k}"] = exposure_gini(catalog_lists, items.n_catalog, k)
    per_user = {
        "popularity": lambda k: average_popularity(lists, items.item_counts, k),
        "popularity_share": lambda k: popularity_share(lists, items.item_counts, items.n_users, k),
        "novelty": lambda k: novelty(lists, items.item_counts, items.n_users, k),
    }
    if items.vectors is not None:
        vectors = items.vectors
        per_user["ild"] = lambda k: intra_list_diversity(lists, vectors, k)
    for name, function in per_user.items():
        for k in ks:
            result[f"{name}@{k}"] = _mean_defined(function(k))
    return {f"{name}@{k}": result[f"{name}@{k}"] for name in BEYOND_METRICS for k in ks if f"{name}@{k}" in result}


def _in_catalog(lists: np.ndarray, catalog: np.ndarray | None) -> np.ndarray:
    """``lists`` with item indices replaced by their positions in ``catalog`` (sorted); ValueError outside it."""
    lists = np.asarray(lists, dtype=np.int64)
    if catalog is None:
        return lists
    valid = lists >= 0
    if len(catalog) == 0:
        raise ValueError("the catalog is empty: at least one item must be rankable")
    positions = np.searchsorted(catalog, np.where(valid, lists, 0))
    clipped = np.minimum(positions, len(catalog) - 1)
    outside = valid & (catalog[clipped] != lists)
    if outside.any():
        raise ValueError(
            f"{int(outside.sum()):,} recommended items are not in the {len(catalog):,}-item catalog "
            f"(e.g. item index {lists[outside][0]}); rank only the catalog's items"
        )
    return np.where(valid, clipped, -1)


def _mean_defined(values: np.ndarray) -> float:
    """Mean over the non-NaN entries; 0.0 when there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else 0.0


__all__ = [
    "BEYOND_METRICS",
    "ItemStatistics",
    "average_popularity",
    "beyond_metrics",
    "catalog_coverage",
    "exposure",
    "exposure_gini",
    "gini_index",
    "intra_list_diversity",
    "novelty",
    "popularity_share",
    "unit_rows",
]
