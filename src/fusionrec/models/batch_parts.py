"""Parts of one training batch, for data-parallel training that splits every batch across the workers.

Data-parallel training (:mod:`fusionrec.distributed.ray_train`) gives each
of ``world`` workers a part of every batch: worker ``rank`` computes the
loss of its part, scales it by the part's weight (its share of the
batch's loss terms) and back-propagates; the workers' gradients are
summed. For a loss that is a mean over the batch's examples, part ``p``
holding ``n_p`` of the ``n`` examples has weight ``n_p / n`` and
``sum_p (n_p / n) * mean_p = mean``: the summed gradient is the whole
batch's. A term that is not a mean over examples (the pairwise models'
norm penalty, a contrastive term over the batch's items) is computed on
:func:`whole_batch` of the part by every worker: the weights of a batch's
parts sum to 1, so the term counts once. A mean over some of the rows
(BM3's modality terms, over the items that have the modality) is the
part's sum over the whole batch's count, divided by the part's weight.

Example:
    >>> import torch
    >>> batch = (torch.arange(5), torch.arange(5) * 10)
    >>> part, weight = row_part(batch, rank=1, world=2)
    >>> [t.tolist() for t in part], weight, whole_batch(part) is batch
    ([[3, 4], [30, 40]], 0.4, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fusionrec.errors import ModelError


class BatchPart(tuple[torch.Tensor, ...]):
    """Some rows of a batch, unpacked exactly as the batch is, with the whole batch they come from (``whole``)."""

    whole: tuple[torch.Tensor, ...]

    def __new__(cls, rows: Sequence[torch.Tensor], whole: tuple[torch.Tensor, ...]) -> BatchPart:
        part = super().__new__(cls, rows)
        part.whole = whole
        return part


def whole_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The batch that ``batch`` is a part of; a batch that is no part is its own whole."""
    return batch.whole if isinstance(batch, BatchPart) else batch


def share_bounds(total: int, rank: int, world: int) -> tuple[int, int]:
    """``(start, stop)`` of run ``rank`` when ``total`` rows are cut into ``world`` contiguous runs.

    The runs are ``np.array_split``'s: the first ``total % world`` are one row longer; a run may be empty.
    """
    base, extra = divmod(total, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def row_part(batch: Any, rank: int, world: int) -> tuple[BatchPart, float]:
    """Run ``rank`` of ``world`` of the rows of a tuple of tensors with equal first dimension; weight = its rows
    over all rows (0 for an empty batch).

    Raises:
        ModelError: the batch is not a tuple of tensors of one length.
    """
    if not isinstance(batch, tuple) or not batch or not all(isinstance(t, torch.Tensor) for t in batch):
        raise ModelError(
            f"data-parallel training splits a batch that is a tuple of tensors, got {type(batch).__name__}; "
            "override TorchRecommender.shard_batch for this model's batches"
        )
    lengths = {len(t) for t in batch}
    if len(lengths) != 1:
        raise ModelError(
            f"data-parallel training splits a batch's tensors by rows, but their lengths differ: "
            f"{[len(t) for t in batch]}; override TorchRecommender.shard_batch for this model's batches"
        )
    total = lengths.pop()
    start, stop = share_bounds(total, rank, world)
    return BatchPart([t[start:stop] for t in batch], batch), (stop - start) / total if total else 0.0


def user_part(batch: tuple[torch.Tensor, ...], rank: int, world: int) -> tuple[BatchPart, float]:
    """Run ``rank`` of ``world`` of a ``(users, rows, items)`` batch's users with their pairs.

    ``rows`` (m,) point into ``users``, one per training pair; the part keeps the pairs of its users, with
    ``rows`` re-indexed into its own users. Weight = its pairs over all pairs (0 when the batch has none).
    """
    users, rows, items = batch
    start, stop = share_bounds(len(users), rank, world)
    keep = (rows >= start) & (rows < stop)  # (m,) this part's pairs
    pairs = int(keep.sum())
    part = BatchPart([users[start:stop], rows[keep] - start, items[keep]], batch)
    return part, pairs / len(rows) if len(rows) else 0.0


__all__ = ["BatchPart", "row_part", "share_bounds", "user_part", "whole_batch"]
