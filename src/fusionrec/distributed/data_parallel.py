"""One data-parallel training epoch: how the workers share each optimiser step.

Every worker holds equal weights and draws every batch of the epoch from
the same generator, so all of them see the same batches in the same order.
Two ways to share them (``RayTrainConfig.split``):

* ``"batch"`` (the default): every batch is split across the workers by
  the model's :meth:`~fusionrec.models.training.TorchRecommender.shard_batch`.
  Worker ``r`` back-propagates ``weight_r x loss(part_r)`` and one
  all-reduce sums the gradients; the weights of a batch's parts sum to 1,
  so the summed gradient is the whole batch's gradient. Every worker
  draws dropout and noise from the one-process torch stream, so a draw
  shaped by the whole catalog (content dropout, noise on the propagated
  vectors) is the one-process draw; one shaped by the part (BM3's target
  dropout) is drawn by each worker from the same point of the stream
  instead of once over the batch, and the streams part after it (as they
  do after an empty part, whose worker draws nothing). A step
  sees exactly the one-process batch and an epoch takes the one-process
  steps: the same training as one process, with each worker computing
  ``1/N`` of each batch's loss terms (and the parts of a step a model
  cannot split, such as a graph propagation, in full).
* ``"alternate"``: worker ``r`` trains on whole batches ``r, r + N, ...``
  and the all-reduce averages the gradients of the workers that had one.
  A step sees ``N`` batches and an epoch takes ``1/N`` of the steps: fewer,
  larger steps, faster per epoch, but not the same training (at the same
  learning rate it needs more epochs and may end at a different quality).

A parameter no worker computed a gradient for keeps ``None`` (the
optimiser skips it, as in one process). With one worker both ways are the
in-process loop's epoch exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
import torch.distributed as dist

from fusionrec.models.training import TorchRecommender
from fusionrec.models.weight_average import WeightAverage

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split

BatchSplit = Literal["batch", "alternate"]


def shared_epoch(
    model: TorchRecommender,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    rng: np.random.Generator,
    average: WeightAverage | None,
    world: int,
    how: BatchSplit = "batch",
) -> float:
    """One epoch shared by ``world`` workers as ``how`` says; returns the epoch's mean batch loss over all workers.

    The loss of a batch is the all-reduced weighted sum of its parts' losses (the whole batch's loss);
    the epoch's is their mean over the batches.
    """
    module.train()
    rank = dist.get_rank() if world > 1 else 0
    parameters = [p for p in module.parameters() if p.requires_grad]
    batches = iter(model.batches(split, rng))
    steps = batch_parts(model, batches, rank, world) if how == "batch" else alternate_batches(batches, rank, world)
    totals = torch.zeros(2, dtype=torch.float64)  # (weighted loss sum, weight sum)
    while True:
        optimizer.zero_grad()
        part, weight = next(steps)
        if part is None and how == "batch":  # every worker drew the same batches: all end here together
            break
        if part is not None and weight > 0:
            loss = model.loss(module, part)
            (loss if weight == 1.0 else loss * weight).backward()
            totals += torch.tensor([float(loss.detach()) * weight, weight], dtype=torch.float64)
        if not all_reduce_gradients(parameters, part is not None, world, mean=how == "alternate"):
            break
        optimizer.step()
        if average is not None:
            average.update()
    if world > 1:
        dist.all_reduce(totals)
    return float(totals[0] / max(float(totals[1]), 1.0))


def batch_parts(model: TorchRecommender, batches: Iterator[Any], rank: int, world: int) -> Iterator[tuple[Any, float]]:
    """``model.shard_batch(batch, rank, world)`` of every batch, then ``(None, 0.0)`` for ever."""
    for batch in batches:
        yield model.shard_batch(batch, rank, world)
    while True:
        yield None, 0.0


def alternate_batches(batches: Iterator[Any], rank: int, world: int) -> Iterator[tuple[Any, float]]:
    """``(batch, 1.0)`` for batch ``rank`` of every ``world`` consecutive ones, then ``(None, 0.0)`` for ever.

    Every batch is drawn, each in its turn (the generator advances the same on every worker, a batch is drawn
    just before this rank trains on it, as in one process, and a model's epoch-end steps run after the last).
    """
    exhausted = False

    def draw() -> Any:
        nonlocal exhausted
        item = None if exhausted else next(batches, None)
        exhausted = exhausted or item is None
        return item

    while True:
        for _ in range(rank):
            draw()
        mine = draw()
        yield mine, 0.0 if mine is None else 1.0
        for _ in range(world - rank - 1):
            draw()


def all_reduce_gradients(parameters: list[torch.nn.Parameter], active: bool, world: int, mean: bool) -> bool:
    """Replace every gradient by its sum over the workers (``mean``: its mean over those that were ``active``);
    False when no worker was active.

    One all-reduce of all gradients, a has-gradient flag per parameter and the active count. A parameter no
    worker computed a gradient for keeps ``None``.
    """
    if world == 1:
        return active
    grads = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel()) for p in parameters]
    flags = [1.0 if p.grad is not None else 0.0 for p in parameters]
    buffer = torch.cat([*grads, torch.tensor([*flags, float(active)])]).to(torch.float32)  # (n_weights + n + 1,)
    dist.all_reduce(buffer)
    workers = float(buffer[-1])
    if workers == 0:
        return False
    scale = 1.0 / workers if mean else 1.0
    offset = 0
    for parameter, flag in zip(parameters, buffer[-1 - len(parameters) : -1].tolist(), strict=True):
        size = parameter.numel()
        parameter.grad = (buffer[offset : offset + size] * scale).view_as(parameter) if flag else None
        offset += size
    return True


__all__ = ["BatchSplit", "all_reduce_gradients", "alternate_batches", "batch_parts", "shared_epoch"]
