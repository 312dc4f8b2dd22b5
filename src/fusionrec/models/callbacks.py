"""Training callbacks: the public way to watch or steer :func:`~fusionrec.models.training.train`.

A :class:`Callback` overrides the hooks it needs; every hook gets the
:class:`TrainingRun` (the model, the split, the settings and the
:class:`~fusionrec.models.train_config.History` so far) first. The order is::

    on_train_start
    for each epoch:  on_epoch_start, on_epoch_end, and every eval_every epochs on_evaluate
    on_train_end

A callback stops training by calling :meth:`TrainingRun.request_stop` (from
any hook of an epoch): the loop ends with that epoch (after its evaluation,
if it has one), the best evaluated state is restored as usual, and
``history.stop_reason`` is ``"callback"``. Callbacks watch the loop; they
never replace its parts.

Give callbacks to a model before fitting it (``model.callbacks``, not a
hyper-parameter: they are neither saved nor part of ``get_params``), or to
:func:`~fusionrec.models.training.train` directly.

Example:
    >>> class StopAtLoss(Callback):
    ...     def on_epoch_end(self, run, epoch, loss, seconds):
    ...         if loss < 0.1:
    ...             run.request_stop(f"loss {loss:.3f} below 0.1")
    >>> model = build_model("bpr", train_config={"epochs": 200})  # doctest: +SKIP
    >>> model.callbacks.append(StopAtLoss())  # doctest: +SKIP
    >>> model.fit(split).history_.stop_reason  # doctest: +SKIP
    'callback'
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from fusionrec.models.train_config import History

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.train_config import TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """One call of :func:`~fusionrec.models.training.train`, as callbacks see it.

    Attributes:
        model: the model being trained (a :class:`~fusionrec.models.training.TorchRecommender`).
        split: the data it trains on.
        config: the training settings.
        history: what happened so far (losses, valid figures, seconds).
        best_valid, best_epoch: the best valid figure so far and its epoch (``-inf`` and 0 before any).
        stop_message: why a callback asked to stop, or None.
    """

    model: Any
    split: Split
    config: TrainConfig
    history: History = field(default_factory=History)
    best_valid: float = float("-inf")
    best_epoch: int = 0
    stop_message: str | None = None

    def request_stop(self, message: str) -> None:
        """Ask the loop to stop at the end of the current epoch; ``message`` says why (it is logged)."""
        if self.stop_message is None:
            self.stop_message = message


class Callback:
    """Hooks called by the training loop; each does nothing unless a subclass overrides it."""

    def on_train_start(self, run: TrainingRun) -> None:
        """The module and optimiser are built; no epoch has run."""

    def on_epoch_start(self, run: TrainingRun, epoch: int) -> None:
        """Epoch ``epoch`` (from 1) is about to run."""

    def on_epoch_end(self, run: TrainingRun, epoch: int, loss: float, seconds: float) -> None:
        """Epoch ``epoch`` ran: its mean training ``loss`` and its training ``seconds`` (evaluation excluded)."""

    def on_evaluate(self, run: TrainingRun, epoch: int, value: float) -> None:
        """Valid gave ``value`` (``config.valid_metric``) after epoch ``epoch``; ``run.best_*`` include it."""

    def on_train_end(self, run: TrainingRun, history: History) -> None:
        """Training ended and the best state is restored; ``history`` is complete."""


class CallbackList(Callback):
    """Several callbacks called in order, as one."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_train_start(self, run: TrainingRun) -> None:
        for callback in self.callbacks:
            callback.on_train_start(run)

    def on_epoch_start(self, run: TrainingRun, epoch: int) -> None:
        for callback in self.callbacks:
            callback.on_epoch_start(run, epoch)

    def on_epoch_end(self, run: TrainingRun, epoch: int, loss: float, seconds: float) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(run, epoch, loss, seconds)

    def on_evaluate(self, run: TrainingRun, epoch: int, value: float) -> None:
        for callback in self.callbacks:
            callback.on_evaluate(run, epoch, value)

    def on_train_end(self, run: TrainingRun, history: History) -> None:
        for callback in self.callbacks:
            callback.on_train_end(run, history)


class ProgressCallback(Callback):
    """The progress ``train`` shows when ``config.progress`` is on: a bar on a terminal, else log lines.

    Each evaluation updates the bar's loss and valid figures, or (not on a
    terminal, where a bar would show nothing) logs one line.
    """

    def __init__(self) -> None:
        self._bar: Any = None
        self._on_terminal = False

    def on_train_start(self, run: TrainingRun) -> None:
        self._on_terminal = sys.stderr.isatty()
        if self._on_terminal:
            self._bar = tqdm(total=run.config.epochs, desc=f"train {run.model.name}", leave=False)

    def on_epoch_end(self, run: TrainingRun, epoch: int, loss: float, seconds: float) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def on_evaluate(self, run: TrainingRun, epoch: int, value: float) -> None:
        history = run.history
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{history.losses[-1]:.4f}", valid=f"{value:.4f}", best=f"{run.best_valid:.4f}")
            return
        logger.info(
            "train %s epoch %d: loss %.4f, valid %s %.4f (best %.4f at epoch %d), %.2f s/epoch",
            run.model.name,
            epoch,
            history.losses[-1],
            run.config.valid_metric,
            value,
            run.best_valid,
            run.best_epoch,
            history.seconds_per_epoch,
        )

    def on_train_end(self, run: TrainingRun, history: History) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


__all__ = ["Callback", "CallbackList", "ProgressCallback", "TrainingRun"]
