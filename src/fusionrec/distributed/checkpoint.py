"""What a data-parallel training run saves, and how a worker continues from it.

A checkpoint is a folder: rank 0 writes ``training.pt`` (the module's and
the optimiser's state, the weight average, the best state so far and its
torch generator) and ``loop.json`` (epoch, early-stopping counters, the
:class:`~fusionrec.models.train_config.History` so far, the batch
generator's state); every other rank writes ``rank<r>.pt`` with its own
torch generator. Ray Train merges the ranks' folders into one. Tensors are
read back with ``torch.load(weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fusionrec.errors import ArtifactError
from fusionrec.models.train_config import History
from fusionrec.models.weight_average import WeightAverage

TRAINING_FILE = "training.pt"
LOOP_FILE = "loop.json"


@dataclass
class LoopState:
    """Where a training run is: last epoch done, the best evaluation and its state, the history so far."""

    epoch: int = 0
    best: float = float("-inf")
    best_epoch: int = 0
    stale: int = 0
    best_state: dict[str, torch.Tensor] | None = None
    history: History = field(default_factory=History)

    def update(self, epoch: int, value: float, module: torch.nn.Module, patience: int) -> bool:
        """Record an evaluation (keeping a copy of the state when it is the best); True when patience ran out."""
        if value > self.best:
            self.best, self.best_epoch, self.stale = value, epoch, 0
            self.best_state = copy.deepcopy(module.state_dict())
            return False
        self.stale += 1
        return self.stale >= patience

    def finished_history(self) -> History:
        """The history with the best epoch and value filled in."""
        history = copy.deepcopy(self.history)
        history.best_epoch, history.best_valid = self.best_epoch, self.best
        return history


def save_worker(
    folder: Path,
    rank: int,
    state: LoopState,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    average: WeightAverage | None,
    rng: np.random.Generator,
    final: bool,
) -> None:
    """Write this rank's part of a checkpoint into ``folder``."""
    if rank:
        torch.save({"torch_rng": torch.get_rng_state()}, folder / f"rank{rank}.pt")
        return
    tensors = {
        "module": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "average": None if average is None else list(average.averages),
        "best_state": state.best_state,
        "torch_rng": torch.get_rng_state(),
    }
    torch.save(tensors, folder / TRAINING_FILE)
    loop = {
        "epoch": state.epoch,
        "best": state.best,
        "best_epoch": state.best_epoch,
        "stale": state.stale,
        "history": dataclasses.asdict(state.finished_history() if final else state.history),
        "numpy_rng": rng.bit_generator.state,
        "final": final,
    }
    (folder / LOOP_FILE).write_text(json.dumps(loop))


def restore_worker(
    folder: Path,
    rank: int,
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    average: WeightAverage | None,
    rng: np.random.Generator,
) -> LoopState:
    """Load a checkpoint written by :func:`save_worker` into a freshly built worker; returns the loop state."""
    tensors, loop = _read(folder)
    module.load_state_dict(tensors["module"])
    optimizer.load_state_dict(tensors["optimizer"])
    if average is not None and tensors["average"] is not None:
        for target, saved in zip(average.averages, tensors["average"], strict=True):
            target.copy_(saved)
    rng.bit_generator.state = loop["numpy_rng"]
    own = folder / f"rank{rank}.pt"
    if rank == 0:
        torch.set_rng_state(tensors["torch_rng"])
    elif own.is_file():
        torch.set_rng_state(torch.load(own, weights_only=True)["torch_rng"])
    history = _history(loop["history"])
    state = LoopState(loop["epoch"], loop["best"], loop["best_epoch"], loop["stale"], tensors["best_state"], history)
    return state


def read_final_state(folder: Path) -> tuple[dict[str, torch.Tensor], History]:
    """The state to keep (the best, else the last) and the finished history of a run's last checkpoint."""
    tensors, loop = _read(folder)
    best = tensors["best_state"] if tensors["best_state"] is not None else tensors["module"]
    return best, _history(loop["history"])


def _read(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    training, loop = folder / TRAINING_FILE, folder / LOOP_FILE
    if not (training.is_file() and loop.is_file()):
        raise ArtifactError(
            f"{folder} is not a fusionrec training checkpoint: it needs {TRAINING_FILE} and {LOOP_FILE}; "
            "pass a checkpoint folder of a Ray training run (checkpoint_*)"
        )
    return torch.load(training, weights_only=True), json.loads(loop.read_text())


def _history(values: dict[str, Any]) -> History:
    values = dict(values)
    values["valid_scores"] = [(int(epoch), float(value)) for epoch, value in values["valid_scores"]]
    return History(**values)


__all__ = ["LoopState", "read_final_state", "restore_worker", "save_worker"]
