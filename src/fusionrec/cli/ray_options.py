"""The ``--ray-address`` options of ``encode``, ``train`` and ``benchmark``, and what they switch on."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer

from fusionrec import distributed  # its names load ray on first use (lazy_loader): --help stays light
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
RayActorsOption = Annotated[
    int, typer.Option(min=1, help="With --ray-address: actors per encoder (each loads the model once).")
]


def training_on_ray(address: str | None, workers: int) -> contextlib.AbstractContextManager[Any]:
    """A block in which torch models train on ``workers`` Ray Train workers; nothing changes when no address."""
    if address is None:
        return contextlib.nullcontext()
    distributed.connect(address)
    return use_training_loop(distributed.RayTrainingLoop(workers=workers))


__all__ = ["RayActorsOption", "RayAddressOption", "RayWorkersOption", "training_on_ray"]
