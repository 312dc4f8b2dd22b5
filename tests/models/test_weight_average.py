"""Weight averaging (``TrainConfig.average_decay``): valid sees the average and training keeps it."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.models.training import TrainConfig, WeightAverage
from fusionrec.testing.datasets import checkerboard_split
from tests.models.test_training import QUIET, Scripted


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=20, n_items=20, seed=2)


def test_update_folds_the_weights_into_the_average() -> None:
    import torch

    layer = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.75)
    with torch.no_grad():
        layer.weight.fill_(4.0)
    average.update()  # 0.75 * 0 + 0.25 * 4
    average.update()  # 0.75 * 1 + 0.25 * 4
    with average.swapped_in():
        np.testing.assert_allclose(layer.weight.detach().numpy(), 1.75)
    np.testing.assert_allclose(layer.weight.detach().numpy(), 4.0)


def test_swapped_in_restores_the_weights_when_the_block_fails() -> None:
    import torch

    layer = torch.nn.Linear(2, 1, bias=False)
    before = layer.weight.detach().clone()
    average = WeightAverage(layer, decay=0.5)
    with torch.no_grad():
        layer.weight.add_(1.0)
    with pytest.raises(RuntimeError), average.swapped_in():
        raise RuntimeError("evaluation failed")
    np.testing.assert_allclose(layer.weight.detach().numpy(), before.numpy() + 1.0)


def test_training_keeps_the_averaged_weights(split: Split) -> None:
    config = {**QUIET, "epochs": 1, "average_decay": 0.5, "valid_metric": "recall@5"}
    model = Scripted(good_epochs=3, train_config=config).fit(split)
    raw = Scripted(good_epochs=3, train_config={**config, "average_decay": None}).fit(split)
    assert model.module_ is not None and raw.module_ is not None
    # one step: the average is 0.5 x the zero start + 0.5 x the scripted scores
    np.testing.assert_allclose(model.module_.scores.detach().numpy(), 0.5 * raw.module_.scores.detach().numpy())


def test_without_evaluation_training_still_ends_on_the_average(split: Split) -> None:
    config = {**QUIET, "epochs": 2, "eval_every": 5, "average_decay": 0.5}
    model = Scripted(good_epochs=3, train_config=config).fit(split)
    assert model.history_ is not None and model.history_.valid_scores == []

    def raw_scores(epochs: int) -> np.ndarray:
        raw = Scripted(good_epochs=3, train_config={**config, "epochs": epochs, "average_decay": None}).fit(split)
        assert raw.module_ is not None
        return np.asarray(raw.module_.scores.detach().numpy())

    assert model.module_ is not None
    expected = 0.25 * raw_scores(1) + 0.5 * raw_scores(2)  # two steps of decay 0.5 from a zero start
    np.testing.assert_allclose(model.module_.scores.detach().numpy(), expected)


def test_a_decay_outside_zero_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="average_decay"):
        TrainConfig(average_decay=1.0)
    with pytest.raises(ValueError, match="average_decay"):
        Scripted(train_config={"average_decay": 1.5})
