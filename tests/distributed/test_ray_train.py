"""Data-parallel training on the two-node cluster: LightGCN and FusionGraph on two workers, a stopped run resumed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.distributed import RayTrainingLoop
from fusionrec.evaluation import evaluate_model
from fusionrec.models import build_model
from fusionrec.models.base import Recommender
from fusionrec.models.training_loop import use_training_loop
from fusionrec.testing.datasets import checkerboard_split

pytestmark = [pytest.mark.ray, pytest.mark.slow]

SETTINGS = {"epochs": 4, "seed": 0, "progress": False, "batch_size": 32, "patience": 10}


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=40, n_items=30)


@pytest.fixture(scope="module")
def lightgcn_on_two(ray_cluster: str, split: Split, tmp_path_factory: pytest.TempPathFactory) -> Recommender:
    loop = RayTrainingLoop(workers=2, storage_path=tmp_path_factory.mktemp("checkpoints"))
    with use_training_loop(loop):
        return build_model("lightgcn", embedding_dim=16, train_config=SETTINGS).fit(split)


def _recall(model: Recommender, split: Split) -> float:
    return evaluate_model(model, split, "test", ks=(10,), metrics=("recall",), beyond=False)["recall@10"]


def test_lightgcn_on_two_workers_takes_the_steps_of_one_process(lightgcn_on_two: Recommender, split: Split) -> None:
    single = build_model("lightgcn", embedding_dim=16, train_config=SETTINGS).fit(split)
    history = lightgcn_on_two.history_
    assert history.epochs_run == 4 and history.losses[-1] < history.losses[0]
    # every batch split across the workers: the one-process steps, up to rounding (LightGCN draws no noise)
    np.testing.assert_allclose(history.losses, single.history_.losses, rtol=1e-4)
    assert _recall(lightgcn_on_two, split) == pytest.approx(_recall(single, split), abs=0.02)


def test_alternate_batches_take_fewer_larger_steps(ray_cluster: str, split: Split, tmp_path: Path) -> None:
    single = build_model("lightgcn", embedding_dim=16, train_config=SETTINGS).fit(split)
    with use_training_loop(RayTrainingLoop(workers=2, storage_path=tmp_path, split="alternate")):
        model = build_model("lightgcn", embedding_dim=16, train_config=SETTINGS).fit(split)
    assert model.history_.epochs_run == 4 and np.isfinite(model.history_.losses).all()
    assert not np.allclose(model.history_.losses, single.history_.losses, rtol=1e-4)  # other steps than one process


def test_a_stopped_run_resumes_where_it_stopped(lightgcn_on_two: Recommender, split: Split, tmp_path: Path) -> None:
    first = RayTrainingLoop(workers=2, storage_path=tmp_path)
    with use_training_loop(first):
        build_model("lightgcn", embedding_dim=16, train_config={**SETTINGS, "epochs": 2}).fit(split)
    assert first.last_checkpoint_ is not None
    again = RayTrainingLoop(workers=2, storage_path=tmp_path, resume_from=first.last_checkpoint_)
    with use_training_loop(again):
        resumed = build_model("lightgcn", embedding_dim=16, train_config=SETTINGS).fit(split)
    whole = lightgcn_on_two.history_
    assert resumed.history_.epochs_run == 4
    # epochs 3 and 4 continue from the saved weights, optimiser and generators: the same losses as one run
    np.testing.assert_allclose(resumed.history_.losses, whole.losses, rtol=1e-6)
    assert resumed.history_.valid_scores == whole.valid_scores


def test_fusiongraph_on_two_workers_takes_one_process_steps(ray_cluster: str, split: Split, tmp_path: Path) -> None:
    # float32 scores: bfloat16 products would round a part's and the whole batch's gradients differently
    loss = {"bf16_scores": False}
    params = {"embedding_dim": 16, "ease_weight": 0.01, "loss": loss, "train_config": {**SETTINGS, "epochs": 3}}
    with use_training_loop(RayTrainingLoop(workers=2, storage_path=tmp_path)):
        model = build_model("fusiongraph", **params).fit(split)
    single = build_model("fusiongraph", **params).fit(split)
    assert model.history_.epochs_run == 3
    # content dropout and noise on: every worker draws them from the one-process stream
    np.testing.assert_allclose(model.history_.losses, single.history_.losses, rtol=1e-6)
    assert model.ease_channel() is not None  # the steps after training ran in the driver
    assert np.isfinite(model.score_users(np.arange(split.n_users))).all()
    assert _recall(model, split) >= _recall(single, split) - 0.1
