"""Training callbacks: the hooks' order and arguments, a callback that stops training, progress as a callback."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.models.callbacks import Callback, TrainingRun
from fusionrec.models.train_config import History, TrainConfig
from fusionrec.models.training import train
from fusionrec.testing.datasets import checkerboard_split
from tests.models.test_training import QUIET, Scripted, _valid_recall


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=20, n_items=20, seed=2)


class Recorder(Callback):
    """Records every hook call with its arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.runs: set[int] = set()

    def on_train_start(self, run: TrainingRun) -> None:
        self.runs.add(id(run))
        self.calls.append(("train_start", run.history.epochs_run))

    def on_epoch_start(self, run: TrainingRun, epoch: int) -> None:
        self.runs.add(id(run))
        self.calls.append(("epoch_start", epoch))

    def on_epoch_end(self, run: TrainingRun, epoch: int, loss: float, seconds: float) -> None:
        assert seconds >= 0 and loss == run.history.losses[-1]
        self.calls.append(("epoch_end", epoch))

    def on_evaluate(self, run: TrainingRun, epoch: int, value: float) -> None:
        assert run.history.valid_scores[-1] == (epoch, value)
        self.calls.append(("evaluate", epoch, round(value, 6), round(run.best_valid, 6), run.best_epoch))

    def on_train_end(self, run: TrainingRun, history: History) -> None:
        self.calls.append(("train_end", history.epochs_run, history.stop_reason))


class StopAfter(Callback):
    """Asks to stop once epoch ``last`` has ended."""

    def __init__(self, last: int) -> None:
        self.last = last

    def on_epoch_end(self, run: TrainingRun, epoch: int, loss: float, seconds: float) -> None:
        if epoch == self.last:
            run.request_stop(f"epoch {epoch} was the last one asked for")


def test_hooks_are_called_in_order_with_the_loops_figures(split: Split) -> None:
    recorder = Recorder()
    config = {**QUIET, "epochs": 4, "eval_every": 2, "patience": 100, "valid_metric": "recall@5"}
    model = Scripted(good_epochs=2, train_config=config)
    model.callbacks.append(recorder)
    history = model.fit(split).history_
    assert history is not None and len(recorder.runs) == 1
    (first, v2), (second, v4) = history.valid_scores
    assert (first, second) == (2, 4) and v4 < v2  # the script peaks at epoch 2, then falls
    assert recorder.calls == [
        ("train_start", 0),
        ("epoch_start", 1),
        ("epoch_end", 1),
        ("epoch_start", 2),
        ("epoch_end", 2),
        ("evaluate", 2, round(v2, 6), round(v2, 6), 2),
        ("epoch_start", 3),
        ("epoch_end", 3),
        ("epoch_start", 4),
        ("epoch_end", 4),
        ("evaluate", 4, round(v4, 6), round(v2, 6), 2),
        ("train_end", 4, "epochs"),
    ]


def test_a_callback_stops_training_and_the_best_state_is_restored(split: Split) -> None:
    config = {**QUIET, "epochs": 50, "patience": 100, "lr": 0.1, "valid_metric": "recall@5"}
    model = Scripted(good_epochs=3, train_config=config)
    model.callbacks.append(StopAfter(5))
    history = model.fit(split).history_
    assert history is not None
    assert history.epochs_run == 5 and history.stop_reason == "callback"
    assert [epoch for epoch, _ in history.valid_scores] == [1, 2, 3, 4, 5]  # the last epoch was still evaluated
    assert history.best_epoch == 3
    assert _valid_recall(model, split) == pytest.approx(history.best_valid)


def test_train_takes_callbacks_directly_and_calls_them_in_the_order_given(split: Split) -> None:
    order: list[str] = []

    class Named(Callback):
        def __init__(self, name: str) -> None:
            self.name = name

        def on_epoch_start(self, run: TrainingRun, epoch: int) -> None:
            order.append(f"{self.name}{epoch}")

    model = Scripted(train_config={**QUIET, "epochs": 2})
    model.split_, model.train_matrix_ = split, split.train.to_csr()
    train(model, split, TrainConfig(**QUIET, epochs=2), [Named("a"), Named("b")])
    assert order == ["a1", "b1", "a2", "b2"]


def test_callbacks_are_not_hyper_parameters(split: Split) -> None:
    model = Scripted(train_config={**QUIET, "epochs": 1})
    model.callbacks.append(Recorder())
    assert "callbacks" not in model.get_params()
    rebuilt = Scripted(**model.get_params())
    assert rebuilt.callbacks == []
    assert np.isfinite(rebuilt.fit(split).score_users(np.arange(3))).all()


def test_progress_off_a_terminal_is_a_log_line_per_evaluation(split: Split, caplog: pytest.LogCaptureFixture) -> None:
    config = {**QUIET, "progress": True, "epochs": 4, "eval_every": 2, "valid_metric": "recall@5"}
    with caplog.at_level(logging.INFO, logger="fusionrec.models.callbacks"):
        Scripted(train_config=config).fit(split)
    lines = [r.getMessage() for r in caplog.records if r.name == "fusionrec.models.callbacks"]
    assert [line.split(":")[0] for line in lines] == ["train scripted epoch 2", "train scripted epoch 4"]
    assert "valid recall@5" in lines[0]
