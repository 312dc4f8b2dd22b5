"""Negative sampling and batching for pairwise (BPR) training, vectorised in numpy.

One epoch of training rows is drawn at once: the training interactions
are shuffled and every row gets one negative item, drawn uniformly from
a pool of items (by default the items that occur in training, as MMRec
does) and redrawn until it is not one of the user's training items.
Only the rows that collided are redrawn, so an epoch costs a few
vectorised passes whatever its size.

Example:
    >>> sampler = NegativeSampler(split.train.to_csr())  # doctest: +SKIP
    >>> for users, positives, negatives in sampler.epoch(rng, batch_size=2048):  # doctest: +SKIP
    ...     ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from fusionrec.errors import DataError

if TYPE_CHECKING:
    import scipy.sparse as sp

NegativePool = Literal["train", "all"]
_MAX_ROUNDS = 1000


class NegativeSampler:
    """Draws (user, positive, negative) training triples from a user-item matrix.

    Args:
        train: (n_users, n_items) CSR of training interactions (nonzero = positive).
        pool: ``"train"`` draws negatives among items with at least one
            training interaction (MMRec's choice); ``"all"`` among every item.
    """

    def __init__(self, train: sp.csr_matrix, pool: NegativePool = "train") -> None:
        train = train.tocsr()
        train.sum_duplicates()
        self.n_users, self.n_items = train.shape
        self.users = np.repeat(np.arange(self.n_users, dtype=np.int64), np.diff(train.indptr))  # (nnz,)
        self.items = train.indices.astype(np.int64)  # (nnz,)
        self._keys = np.sort(self.users * self.n_items + self.items)  # sorted (nnz,) for membership tests
        self.pool = _pool_items(train, pool)
        _check_room(train, self.pool, pool)

    def __len__(self) -> int:
        """Number of training rows (positives) per epoch."""
        return len(self.users)

    def negatives(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform negative item per entry of ``users``, never a training item of that user.

        Args:
            users: int64 (n,) user indices.
            rng: the random generator (seeded by the caller).

        Returns:
            int64 (n,) item indices.
        """
        users = np.asarray(users, dtype=np.int64)
        drawn = self.pool[rng.integers(0, len(self.pool), size=len(users))]
        todo = np.flatnonzero(self._is_positive(users, drawn))
        for _ in range(_MAX_ROUNDS):
            if not len(todo):
                return drawn
            drawn[todo] = self.pool[rng.integers(0, len(self.pool), size=len(todo))]
            todo = todo[self._is_positive(users[todo], drawn[todo])]
        raise DataError(f"negative sampling did not converge: {len(todo):,} rows still collide after {_MAX_ROUNDS}")

    def epoch_arrays(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every training row once, shuffled, with one negative each: three int64 (nnz,) arrays."""
        order = rng.permutation(len(self.users))
        users, positives = self.users[order], self.items[order]
        return users, positives, self.negatives(users, rng)

    def epoch(self, rng: np.random.Generator, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """Batches of int64 tensors ``(users, positives, negatives)``, each (<= batch_size,)."""
        arrays = [torch.from_numpy(a) for a in self.epoch_arrays(rng)]
        for start in range(0, len(self.users), batch_size):
            yield tuple(a[start : start + batch_size] for a in arrays)

    def _is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """bool (n,): whether each (user, item) pair is a training interaction."""
        keys = users * self.n_items + items
        where = np.searchsorted(self._keys, keys)
        where[where == len(self._keys)] = 0
        found: np.ndarray = self._keys[where] == keys
        return found


def _pool_items(train: sp.csr_matrix, pool: NegativePool) -> np.ndarray:
    if pool == "all":
        return np.arange(train.shape[1], dtype=np.int64)
    if pool == "train":
        return np.unique(train.indices).astype(np.int64)
    raise DataError(f"negative pool must be 'train' or 'all', got {pool!r}")


def _check_room(train: sp.csr_matrix, pool: np.ndarray, name: str) -> None:
    """Every user needs at least one pool item outside its training set."""
    if not len(pool):
        raise DataError(f"the {name!r} negative pool is empty: the training matrix {train.shape} has no interaction")
    degrees = np.diff(train.indptr)
    full = np.flatnonzero(degrees >= len(pool))
    if len(full):
        raise DataError(
            f"{len(full):,} user(s) (e.g. index {int(full[0])}) interacted with all {len(pool):,} items of the "
            f"{name!r} negative pool, so no negative can be drawn; drop those users or use pool='all'"
        )
