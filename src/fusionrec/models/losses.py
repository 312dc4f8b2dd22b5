"""Catalog-wide softmax and InfoNCE losses of the flagship.

:func:`softmax_loss` is the ranking loss: for each training pair
``(user, item)``, ``-log softmax_j(cos(user, j) / temperature)`` over the
whole catalog. Its (batch x n_items) logits are the one large tensor of a
training step, so the log-partition and its gradient are computed by
:class:`_CatalogSoftmax` in place (three passes over the logits instead
of autograd's six), and the logits' matrix product can run in bfloat16
(``bf16=True``) on CPUs that have bfloat16 instructions.

Example:
    >>> import torch
    >>> users, items = torch.randn(2, 4), torch.randn(5, 4)
    >>> loss = softmax_loss(users, items, torch.tensor([0, 1]), torch.tensor([3, 0]), 0.2)
    >>> loss.shape
    torch.Size([])
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
import torch.nn.functional as F


def softmax_loss(
    users: torch.Tensor,
    items: torch.Tensor,
    rows: torch.Tensor,
    positives: torch.Tensor,
    temperature: float,
    bf16: bool = False,
) -> torch.Tensor:
    """Mean of ``-log softmax_j(cos(u, j) / temperature)`` at each ``(rows, positives)`` pair.

    1/temperature scales the (batch, d) user rows rather than the logits.

    Args:
        users: float (batch, d) user vectors.
        items: float (n_items, d) item vectors.
        rows: int64 (m,) row of ``users`` of each positive pair.
        positives: int64 (m,) item of each positive pair.
        temperature: softmax temperature (> 0).
        bf16: compute the (batch, n_items) cosine product in bfloat16 (about 4x faster on CPUs with
            AVX512-BF16 or AMX, see :func:`bf16_supported`); the log-partition stays float32.
    """
    scaled_users = F.normalize(users, dim=1) / temperature
    unit_items = F.normalize(items, dim=1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = scaled_users @ unit_items.T  # (batch, n_items)
    result: torch.Tensor = _CatalogSoftmax.apply(logits.float(), rows, positives)
    return result


class _CatalogSoftmax(torch.autograd.Function):
    """``mean(logsumexp(logits[rows]) - logits[rows, positives])`` with an in-place backward.

    The gradient ``w_r * softmax(logits_r) - onehot / m`` (``w_r`` = pairs of
    row ``r`` / m) is written over the saved logits, so backward allocates
    no (batch, n_items) tensor of its own; hence the graph may be
    back-propagated once only (no ``retain_graph``).
    """

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, rows: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        log_partition = torch.logsumexp(logits, dim=1)  # (batch,)
        ctx.save_for_backward(logits, log_partition, rows, positives)
        return (log_partition[rows] - logits[rows, positives]).mean()

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        logits, log_partition, rows, positives = ctx.saved_tensors
        share = grad_output / rows.numel()
        pairs_per_row = torch.bincount(rows, minlength=logits.shape[0]).to(logits.dtype)  # (batch,)
        grad = logits.sub_(log_partition[:, None]).exp_().mul_((pairs_per_row * share)[:, None])
        grad.index_put_((rows, positives), (-share).expand(rows.shape), accumulate=True)
        return grad, None, None


def info_nce(first: torch.Tensor, second: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE between row-aligned (m, d) views: row ``j`` of each is the other's positive."""
    logits = F.normalize(first, dim=1) @ F.normalize(second, dim=1).T / temperature  # (m, m)
    labels = torch.arange(len(first))
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


@cache
def bf16_supported() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX), as oneDNN reports."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False
