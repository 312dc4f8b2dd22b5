"""The ``--ray-address`` options of ``encode``, ``train`` and ``benchmark``, and what they switch on."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

from fusionrec import distributed  # its names load ray on first use (lazy_loader): --help stays light
from fusionrec.errors import ConfigError
from fusionrec.models.training_loop import use_training_loop

RayAddressOption = Annotated[
    str | None,
    typer.Option(
        help="Run on Ray: 'local' (Ray inside this process, no cluster), 'auto' (the cluster this machine "
        "joined with `ray start`) or 'ray://HOST:10001'. Needs the ray extra.",
    ),
]
RayWorkersOption = Annotated[
    int, typer.Option(min=1, help="With --ray-address: data-parallel training workers (gradients all-reduced).")
]
RaySplitOption = Annotated[
    str,
    typer.Option(
        help="With --ray-address: 'batch' (every batch split across the workers: the one-process training) or "
        "'alternate' (whole batches in turn, gradients averaged: faster per epoch, not the same training).",
    ),
]
RayActorsOption = Annotated[
    int, typer.Option(min=1, help="With --ray-address: actors per encoder (each loads the model once).")
]


def check_ray_split(split: str) -> None:
    """Refuse a ``--ray-split`` other than ``batch`` or ``alternate`` (before any data is read).

    Raises:
        ConfigError: naming the value and the choices.
    """
    if split not in ("batch", "alternate"):
        raise ConfigError(f"--ray-split is {split!r}; expected 'batch' or 'alternate'")


def training_on_ray(address: str | None, workers: int, split: str = "batch") -> contextlib.AbstractContextManager[Any]:
    """A block in which torch models train on ``workers`` Ray Train workers; nothing changes when no address."""
    if address is None:
        return contextlib.nullcontext()
    distributed.connect(address)
    return use_training_loop(distributed.RayTrainingLoop(workers=workers, split=split))


__all__ = [
    "RayActorsOption",
    "RayAddressOption",
    "RaySplitOption",
    "RayWorkersOption",
    "check_ray_split",
    "training_on_ray",
]
