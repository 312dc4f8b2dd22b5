"""Polyak averaging of a module's weights: what valid sees and what training keeps, when asked for."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


class WeightAverage:
    """An exponential moving average of a module's trainable weights (Polyak averaging).

    After every optimiser step ``average = decay * average + (1 - decay) * weight``.
    The average of the last ``~1 / (1 - decay)`` steps sits nearer the
    centre of the region SGD wanders in than any single step, which ranks
    better and makes the valid curve smoother (so early stopping picks a
    less lucky epoch).

    Args:
        module: the module being trained.
        decay: weight of the old average at each step, in (0, 1).
    """

    def __init__(self, module: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.parameters = [p for p in module.parameters() if p.requires_grad]
        self.averages = [p.detach().clone() for p in self.parameters]

    def update(self) -> None:
        """Fold the current weights into the average (call after each optimiser step)."""
        with torch.no_grad():
            for average, parameter in zip(self.averages, self.parameters, strict=True):
                average.lerp_(parameter, 1.0 - self.decay)

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The module holds the averaged weights inside the block and its own weights again after it."""
        self._swap()
        try:
            yield
        finally:
            self._swap()

    def copy_to_module(self) -> None:
        """Replace the module's weights with the average for good."""
        with torch.no_grad():
            for average, parameter in zip(self.averages, self.parameters, strict=True):
                parameter.copy_(average)

    def _swap(self) -> None:
        for index, parameter in enumerate(self.parameters):
            current = parameter.data
            parameter.data = self.averages[index]
            self.averages[index] = current


__all__ = ["WeightAverage"]
