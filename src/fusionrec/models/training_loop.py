"""Which loop trains a :class:`~fusionrec.models.training.TorchRecommender`.

By default :func:`~fusionrec.models.training.train`, in this process. A caller
may install another loop for a block (:func:`use_training_loop`), e.g. the
data-parallel loop of :mod:`fusionrec.distributed`, and every torch model
fitted inside the block (a benchmark's seeds, an ensemble's members, a
staged model's first stage) trains with it; the model's own steps before and
after training (an EASE channel, a second stage) stay where they are.

Example:
    >>> from fusionrec.distributed import RayTrainingLoop  # doctest: +SKIP
    >>> with use_training_loop(RayTrainingLoop(workers=2)):  # doctest: +SKIP
    ...     model.fit(split)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.train_config import History, TrainConfig

TrainingLoop = Callable[[Any, "Split", "TrainConfig"], "History"]
"""``loop(model, split, config) -> History``: trains ``model.module_`` and leaves its best state in it."""

_ACTIVE_LOOP: ContextVar[TrainingLoop | None] = ContextVar("fusionrec_training_loop", default=None)


@contextlib.contextmanager
def use_training_loop(loop: TrainingLoop) -> Iterator[None]:
    """Torch models fitted inside the block train with ``loop`` instead of the in-process loop."""
    token = _ACTIVE_LOOP.set(loop)
    try:
        yield
    finally:
        _ACTIVE_LOOP.reset(token)


def active_training_loop(default: TrainingLoop) -> TrainingLoop:
    """The loop installed by :func:`use_training_loop`, else ``default``."""
    return _ACTIVE_LOOP.get() or default


__all__ = ["TrainingLoop", "active_training_loop", "use_training_loop"]
