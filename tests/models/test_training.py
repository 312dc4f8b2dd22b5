"""The shared training loop: seeding, early stopping on valid, best-state restore, timings."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from fusionrec.data.dataset import Split
from fusionrec.errors import ConfigError
from fusionrec.models.training import (
    TorchRecommender,
    TrainConfig,
    bpr_loss,
    embedding_penalty,
)
from fusionrec.testing.datasets import checkerboard_split

QUIET = {"progress": False, "threads": 1}


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=20, n_items=20, seed=2)


class Scripted(TorchRecommender):
    """A model whose scores follow a script, so the valid curve is known.

    After epoch ``e`` the first ``5 * e`` users (while ``e <= good_epochs``,
    then ``5 * (2 * good_epochs - e)``) score their valid items on top and
    everyone else scores them at the bottom: valid Recall rises strictly
    until ``good_epochs`` and falls after. The scores are written into the
    module's parameter (gradients are zero, so Adam leaves them alone) and
    hence saved and restored with the state like learned weights.
    """

    name = "scripted"

    def __init__(self, good_epochs: int = 3, train_config: TrainConfig | dict[str, Any] | None = None) -> None:
        super().__init__(train_config, good_epochs=good_epochs)
        self.good_epochs = good_epochs

    def build(self, split: Split, rng: np.random.Generator) -> Any:

        module = torch.nn.Module()
        module.scores = torch.nn.Parameter(torch.zeros(split.n_users, split.n_items))
        self._valid = torch.from_numpy(split.valid.to_csr().toarray().astype(np.float32))  # (n_users, n_items)
        self._epoch = 0
        return module

    def batches(self, split: Split, rng: np.random.Generator) -> Any:
        self._epoch += 1
        return [self._epoch]

    def loss(self, module: Any, batch: Any) -> Any:

        epoch, good = batch, self.good_epochs
        covered = 5 * (epoch if epoch <= good else max(0, 2 * good - epoch))
        with torch.no_grad():
            scores = -10.0 * self._valid
            scores[:covered] = 10.0 * self._valid[:covered]
            module.scores.copy_(scores)
        return (module.scores * 0.0).sum()

    def embed(self, module: Any) -> tuple[np.ndarray, np.ndarray]:
        scores = module.scores.detach().numpy().astype(np.float32)  # (n_users, n_items)
        return np.eye(len(scores), dtype=np.float32), scores.T.copy()  # score = I[u] @ scores.T.T


def _valid_recall(model: TorchRecommender, split: Split, k: int = 5) -> float:
    from fusionrec.evaluation.protocol import evaluate_model

    return evaluate_model(model, split, "valid", ks=(k,), metrics=("recall",))[f"recall@{k}"]


def test_early_stopping_restores_the_best_valid_epoch(split: Split) -> None:
    config = {**QUIET, "epochs": 50, "patience": 4, "lr": 0.1, "valid_metric": "recall@5"}
    model = Scripted(good_epochs=3, train_config=config).fit(split)
    history = model.history_
    assert history is not None
    assert history.best_epoch == 3
    assert history.epochs_run == 3 + 4, "training should stop after `patience` evaluations without improvement"
    assert history.stop_reason == "patience"
    assert _valid_recall(model, split) == pytest.approx(history.best_valid)
    assert history.best_valid > history.valid_scores[-1][1], "the restored state must beat the last one"


def test_patience_does_not_stop_training_before_min_epochs(split: Split) -> None:
    config = {**QUIET, "epochs": 50, "patience": 4, "min_epochs": 12, "lr": 0.1, "valid_metric": "recall@5"}
    history = Scripted(good_epochs=3, train_config=config).fit(split).history_
    assert history is not None
    assert history.epochs_run == 12, "patience ran out at epoch 7, but the floor is epoch 12"
    assert history.best_epoch == 3 and history.stop_reason == "patience"


def test_valid_is_evaluated_every_n_epochs(split: Split) -> None:
    config = {**QUIET, "epochs": 9, "eval_every": 3, "patience": 100, "valid_metric": "recall@5"}
    history = Scripted(good_epochs=100, train_config=config).fit(split).history_
    assert history is not None
    assert [epoch for epoch, _ in history.valid_scores] == [3, 6, 9]
    assert history.stop_reason == "epochs"


def test_history_records_timings(split: Split) -> None:
    history = Scripted(train_config={**QUIET, "epochs": 4}).fit(split).history_
    assert history is not None
    assert history.train_seconds > 0 and history.eval_seconds > 0
    assert history.total_seconds >= history.train_seconds + history.eval_seconds
    assert history.seconds_per_epoch == pytest.approx(history.train_seconds / 4)
    assert len(history.losses) == 4


def test_max_seconds_stops_training(split: Split) -> None:
    history = Scripted(train_config={**QUIET, "epochs": 1000, "max_seconds": 1e-9}).fit(split).history_
    assert history is not None
    assert history.epochs_run == 1 and history.stop_reason == "max_seconds"


def test_same_seed_same_training_and_different_seed_differs(split: Split) -> None:
    from fusionrec.models.lightgcn import LightGCN

    def fit(seed: int) -> LightGCN:
        config = {**QUIET, "epochs": 3, "batch_size": 16, "seed": seed}
        return LightGCN(embedding_dim=8, n_layers=2, train_config=config).fit(split)

    first, again, other = fit(1), fit(1), fit(2)
    assert first.history_ is not None and again.history_ is not None and other.history_ is not None
    assert first.history_.losses == again.history_.losses
    users = np.arange(split.n_users)
    np.testing.assert_array_equal(first.score_users(users), again.score_users(users))
    assert not np.array_equal(first.score_users(users), other.score_users(users))


def test_get_params_carries_the_train_config() -> None:
    from fusionrec.models.bpr import BPRMF

    model = BPRMF(embedding_dim=16, train_config={"lr": 0.01, "seed": 4})
    params = model.get_params()
    assert params["embedding_dim"] == 16 and params["train_config"]["lr"] == 0.01
    assert BPRMF(**params).train_config == model.train_config


def test_a_malformed_valid_metric_is_a_config_error(split: Split) -> None:
    with pytest.raises(ConfigError, match="recall20"):
        Scripted(train_config={**QUIET, "epochs": 1, "valid_metric": "recall20"}).fit(split)


def test_bpr_loss_and_embedding_penalty_values() -> None:

    assert bpr_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(np.log(2))
    assert bpr_loss(torch.tensor([10.0]), torch.tensor([-10.0])).item() == pytest.approx(0.0, abs=1e-8)
    a, b = torch.full((2, 2), 1.0), torch.full((2, 2), 2.0)  # Frobenius norms 2 and 4, batch of 2
    assert embedding_penalty(a, b).item() == pytest.approx(3.0)


def test_train_defaults_fill_missing_keys_but_never_override() -> None:
    class Tuned(Scripted):
        train_defaults: ClassVar[dict[str, Any]] = {"lr": 0.01, "patience": 5}

    assert Tuned().train_config.lr == 0.01
    assert Tuned(train_config={"lr": 0.2}).train_config.model_dump() == {
        **TrainConfig().model_dump(),
        "lr": 0.2,
        "patience": 5,
    }
    assert Tuned(train_config=TrainConfig(lr=0.3)).train_config.patience == TrainConfig().patience
    assert Tuned(**Tuned().get_params()).train_config == Tuned().train_config


_SHORT = {"epochs": 6, "patience": 10, "progress": False, "valid_metric": "recall@5"}


class PopularityOnly(TorchRecommender):
    """Scores every item by its training count, whatever it trains: it learns nothing beyond popularity."""

    name = "popularity-only"
    collapse_hint = "lower reg_weight"

    def build(self, split: Split, rng: np.random.Generator) -> torch.nn.Module:
        self.counts = np.bincount(split.train.item_index, minlength=split.n_items).astype(np.float32)
        return torch.nn.Linear(1, 1)

    def batches(self, split: Split, rng: np.random.Generator) -> list[int]:
        return [0]

    def loss(self, module: torch.nn.Module, batch: Any) -> torch.Tensor:
        return module.weight.sum() * 0.0

    def embed(self, module: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
        n_users = self._require_fitted().n_users
        return np.ones((n_users, 1), np.float32), self.counts[:, None]


def test_a_model_at_popularity_level_warns_and_names_the_parameter(split: Split) -> None:
    history = PopularityOnly(train_config=_SHORT).fit(split).history_
    assert history is not None and len(history.warnings) == 1
    assert "not above popularity's" in history.warnings[0] and "reg_weight" in history.warnings[0]


def test_a_model_that_learns_does_not_warn(split: Split) -> None:
    from fusionrec.models.lightgcn import LightGCN

    model = LightGCN(train_config=_SHORT)
    history = model.fit(split).history_
    assert history is not None and history.warnings == []


def test_lightgcn_defaults_to_a_penalty_that_does_not_collapse_and_its_warning_names_the_penalty() -> None:
    from fusionrec.models.lightgcn import LightGCN

    assert LightGCN().params["reg_weight"] <= 0.01  # 3.0, tuned on Baby, collapsed on a denser catalog
    assert "model.params.reg_weight" in LightGCN.collapse_hint
