"""use_training_loop: torch models fitted inside the block train with the installed loop, others as always."""

from __future__ import annotations

from typing import Any

from fusionrec.models import build_model
from fusionrec.models.train_config import History, TrainConfig
from fusionrec.models.training import train
from fusionrec.models.training_loop import active_training_loop, use_training_loop
from fusionrec.testing.datasets import checkerboard_split


def test_the_installed_loop_trains_inside_the_block_only() -> None:
    split = checkerboard_split()
    calls: list[tuple[str, int]] = []

    def recording_loop(model: Any, split: Any, config: TrainConfig) -> History:
        calls.append((model.name, config.epochs))
        return train(model, split, config)

    settings = {"epochs": 2, "progress": False}
    with use_training_loop(recording_loop):
        assert active_training_loop(train) is recording_loop
        build_model("bpr", train_config=settings).fit(split)
        build_model("pop").fit(split)  # not a torch model: no loop
    build_model("bpr", train_config=settings).fit(split)
    assert calls == [("bpr", 2)]
    assert active_training_loop(train) is train
