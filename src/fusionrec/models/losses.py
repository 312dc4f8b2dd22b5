"""Catalog-wide softmax and InfoNCE losses of the flagship.

:func:`softmax_loss` is the ranking loss: for each training pair
``(user, item)``, ``-log softmax_j(cos(user, j) / temperature)`` over the
whole catalog. Its (n_items x batch) logits are the one large tensor of a
training step, so the product, the log-partition and the gradient are
fused in :class:`_CatalogSoftmax`, in place over one reused buffer, and
the logits' matrix products can run in bfloat16
(``bf16=True``) on CPUs that have bfloat16 instructions.

Example:
    >>> import torch
    >>> users, items = torch.randn(2, 4), torch.randn(5, 4)
    >>> loss = softmax_loss(users, items, torch.tensor([0, 1]), torch.tensor([3, 0]), 0.2)
    >>> loss.shape
    torch.Size([])
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from fusionrec.models.fusion_graph_config import LossConfig


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
    result: torch.Tensor = _CatalogSoftmax.apply(scaled_users, unit_items, rows, positives, bf16)
    return result


class _CatalogSoftmax(torch.autograd.Function):
    """``mean(logsumexp(logits[rows]) - logits[rows, positives])`` of ``logits = users @ items.T``, fused.

    The one large tensor of a training step, the logits, is held item-major,
    ``(n_items, batch)``: ``items @ users.T`` is the faster product on CPU
    (on a 2-vCPU AMD EPYC without bfloat16, 19-24 ms against 33-40 ms for
    ``users @ items.T`` at 1,024 x 128 x 6,245). It is written into a
    reused buffer (:class:`_BufferPool`; on that CPU a TikTok epoch took
    1.71-1.76 s with it, 1.79-1.80 s with a fresh tensor per step), and
    every later pass runs in place over it: one ``exp`` gives the partition in the forward pass and, scaled by
    ``w_r / Z_r`` (``w_r`` = pairs of row ``r`` / m), the gradient
    ``w_r * softmax(logits_r) - onehot / m`` in the backward pass. Hence
    the graph may be back-propagated once only (no ``retain_graph``).
    """

    @staticmethod
    def forward(
        ctx: Any, users: torch.Tensor, items: torch.Tensor, rows: torch.Tensor, positives: torch.Tensor, bf16: bool
    ) -> torch.Tensor:
        logits = _product(items, users.T, bf16, out=_POOL.take(items.shape[0] * users.shape[0]))  # (n_items, batch)
        positive_logits = logits[positives, rows]  # (m,), a copy
        peak = logits.amax(dim=0)  # (batch,)
        exponentials = logits.sub_(peak).exp_()  # exp(logit - peak), in place
        partition = exponentials.sum(dim=0)  # (batch,)
        ctx.bf16 = bf16
        ctx.save_for_backward(users, items, exponentials, partition, rows, positives)
        return (partition.log()[rows] + peak[rows] - positive_logits).mean()

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None, None]:
        users, items, exponentials, partition, rows, positives = ctx.saved_tensors
        share = grad_output / rows.numel()
        pairs_per_row = torch.bincount(rows, minlength=users.shape[0]).to(exponentials.dtype)  # (batch,)
        grad = exponentials.mul_(pairs_per_row * share / partition)  # (n_items, batch): w_r * softmax
        grad.index_put_((positives, rows), (-share).expand(rows.shape), accumulate=True)
        grad_users, grad_items = _product(grad.T, items, ctx.bf16), _product(grad, users, ctx.bf16)
        _POOL.give_back(grad)
        return grad_users, grad_items, None, None, None


def _product(first: torch.Tensor, second: torch.Tensor, bf16: bool, out: torch.Tensor | None = None) -> torch.Tensor:
    """``first @ second`` in float32 (into ``out`` when given), or in bfloat16 with a float32 result."""
    if bf16:
        result = (first.bfloat16() @ second.bfloat16()).float()
        return result if out is None else out.view(result.shape).copy_(result)
    if out is None:
        return first @ second
    return torch.mm(first, second, out=out.view(first.shape[0], second.shape[1]))


class _BufferPool:
    """Float32 buffers for the catalog softmax's logits, handed back after the backward pass.

    A buffer is taken in the forward pass and given back once its backward
    pass has used it, so several losses built before one ``backward()``
    (members trained side by side) each hold their own. A buffer whose
    backward never runs (a loss built without gradients) is simply dropped.
    A lock keeps models trained in threads of one process from sharing one.
    """

    def __init__(self, keep: int = 2) -> None:
        self.free: list[torch.Tensor] = []
        self.keep = keep
        self.lock = threading.Lock()

    def take(self, size: int) -> torch.Tensor:
        """A flat float32 buffer of exactly ``size`` elements (a view of a free buffer when one is large enough)."""
        with self.lock:
            for index, buffer in enumerate(self.free):
                if buffer.numel() >= size:
                    return self.free.pop(index)[:size]
        return torch.empty(size)

    def give_back(self, used: torch.Tensor) -> None:
        """Return a buffer (any view of it) for reuse; the largest ``keep`` are kept."""
        base = used if used._base is None else used._base
        with self.lock:
            self.free = sorted([*self.free, base.view(-1)], key=torch.Tensor.numel, reverse=True)[: self.keep]


_POOL = _BufferPool()


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


def catalog_softmax(
    users: torch.Tensor, items: torch.Tensor, rows: torch.Tensor, positives: torch.Tensor, settings: LossConfig
) -> torch.Tensor:
    """The built-in loss ``"softmax"`` (:mod:`~fusionrec.models.loss_registry`): :func:`softmax_loss` at
    ``settings.temperature``, in bfloat16 where ``settings.bf16_scores`` says (None = :func:`bf16_supported`)."""
    bf16 = bf16_supported() if settings.bf16_scores is None else settings.bf16_scores
    return softmax_loss(users, items, rows, positives, settings.temperature, bf16)
