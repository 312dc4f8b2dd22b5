"""User-item interactions as parallel index arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Interactions:
    """Interactions as parallel arrays of length ``n``.

    Attributes:
        user_index: int64 (n,) user indices.
        item_index: int64 (n,) item indices.
        n_users: size of the user vocabulary.
        n_items: size of the item vocabulary.
        rating: float32 (n,) explicit ratings, or None for implicit data.
        timestamp: int64 (n,) event times, or None.
    """

    user_index: np.ndarray
    item_index: np.ndarray
    n_users: int
    n_items: int
    rating: np.ndarray | None = None
    timestamp: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.user_index)
        for name in ("item_index", "rating", "timestamp"):
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise ValueError(f"Interactions.{name} has {len(column):,} rows but user_index has {n:,}")

    def __len__(self) -> int:
        return len(self.user_index)

    @classmethod
    def empty(cls, n_users: int, n_items: int) -> Interactions:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), n_users, n_items)

    def select(self, mask_or_index: np.ndarray) -> Interactions:
        """The rows picked by a boolean mask or an index array."""
        pick = mask_or_index
        return Interactions(
            self.user_index[pick],
            self.item_index[pick],
            self.n_users,
            self.n_items,
            None if self.rating is None else self.rating[pick],
            None if self.timestamp is None else self.timestamp[pick],
        )

    def with_sizes(self, n_users: int, n_items: int) -> Interactions:
        """The same rows in a larger index space (e.g. after items were added)."""
        return Interactions(self.user_index, self.item_index, n_users, n_items, self.rating, self.timestamp)

    def to_csr(self, binary: bool = True) -> sp.csr_matrix:
        """A (n_users, n_items) CSR matrix; duplicates are summed, or set to 1 if ``binary``."""
        values = np.ones(len(self), np.float32)
        if not binary and self.rating is not None:
            values = self.rating.astype(np.float32)
        matrix = sp.csr_matrix((values, (self.user_index, self.item_index)), shape=(self.n_users, self.n_items))
        matrix.sum_duplicates()
        if binary:
            matrix.data[:] = 1.0
        return matrix

    def users(self) -> np.ndarray:
        """Sorted unique user indices that have at least one interaction."""
        return np.unique(self.user_index)

    def items(self) -> np.ndarray:
        """Sorted unique item indices that have at least one interaction."""
        return np.unique(self.item_index)
