"""The settings and the record of a training run, apart from the loop so that reading them needs no torch.

:class:`TrainConfig` is what an experiment file's ``[train]`` table holds;
:class:`History` is what :func:`fusionrec.models.training.train` returns.
Both are re-exported by :mod:`fusionrec.models.training`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


class TrainConfig(BaseModel):
    """Optimisation settings shared by every trainable model."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(300, ge=1)
    batch_size: int = Field(2048, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    patience: int = Field(20, ge=1, description="evaluations without improvement before stopping")
    min_epochs: int = Field(
        0, ge=0, description="patience stops training only from this epoch on (a floor under early stopping)"
    )
    eval_every: int = Field(1, ge=1)
    valid_metric: str = "recall@20"
    seed: int = 0
    threads: int | None = Field(None, ge=1, description="torch threads; None keeps torch's default")
    progress: bool = True
    max_seconds: float | None = Field(None, gt=0, description="stop after this much training time (seconds)")
    average_decay: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="decay of an exponential moving average of the weights, which is what valid sees "
        "and what training keeps (None = the raw weights)",
    )


@dataclass
class History:
    """What happened during training; ``best_epoch`` is the valid-chosen point.

    Attributes:
        valid_scores: ``(epoch, valid metric)`` at every evaluation.
        losses: mean training loss of every epoch.
        best_epoch: the epoch whose state was restored (0 = never evaluated).
        best_valid: the valid metric at ``best_epoch``.
        epochs_run: epochs trained before stopping.
        train_seconds: time spent in training epochs (sampling + steps).
        eval_seconds: time spent evaluating valid.
        total_seconds: wall time of the whole :func:`train` call.
        stop_reason: ``"patience"``, ``"epochs"`` or ``"max_seconds"``.
        warnings: what training noticed that a user should act on (e.g. valid at popularity level).
    """

    valid_scores: list[tuple[int, float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_valid: float = float("-inf")
    epochs_run: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    total_seconds: float = 0.0
    stop_reason: str = "epochs"
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        """Training seconds per epoch, evaluation excluded."""
        return self.train_seconds / max(self.epochs_run, 1)
