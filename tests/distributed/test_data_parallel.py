"""A batch split across workers gives the whole batch's gradient; one worker trains as one process does.

The all-reduce is simulated in one process: the parts' weighted losses are back-propagated one after
another, so the gradients add up as the all-reduce sums them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from fusionrec.data.dataset import Split
from fusionrec.distributed.data_parallel import BatchSplit, shared_epoch
from fusionrec.distributed.ray_train import RayTrainConfig, adam
from fusionrec.models import build_model
from fusionrec.models.training import TorchRecommender, run_epoch, seed_everything
from fusionrec.testing.datasets import checkerboard_split

#: settings without dropout or noise, so that a loss is a function of the weights and the batch alone
EXACT: dict[str, dict[str, Any]] = {
    "lightgcn": {"reg_weight": 3.0},
    "bpr": {"reg_weight": 0.5},
    "vbpr": {"reg_weight": 0.5},
    "freedom": {"reg_weight": 0.5, "edge_dropout": 0.0},
    "bm3": {"dropout": 0.0},
    "fusiongraph": {
        "core": {"embedding_noise": 0.0},
        "content": {"dropout": 0.0, "align_weight": 0.3},
        "loss": {"bf16_scores": False},
        "members": {"count": 2},
    },
}


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=24, n_items=20, seed=3)


def _model(name: str, split: Split, **train: Any) -> TorchRecommender:
    model = build_model(name, embedding_dim=8, **EXACT[name], train_config={"seed": 0, "batch_size": 9, **train})
    assert isinstance(model, TorchRecommender)
    model.split_, model.train_matrix_ = split, split.train.to_csr()
    return model


def _gradients(model: TorchRecommender, module: torch.nn.Module, parts: list[tuple[Any, float]]) -> dict[str, Any]:
    """Each part's loss times its weight back-propagated in turn: the gradients summed over the parts."""
    module.zero_grad(set_to_none=True)
    for part, weight in parts:
        if weight > 0:
            (model.loss(module, part) * weight).backward()
    return {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", list(EXACT))
@pytest.mark.parametrize("world", [2, 3])
def test_the_parts_weighted_gradients_sum_to_the_whole_batchs(name: str, world: int, split: Split) -> None:
    model = _model(name, split)
    rng = seed_everything(0)
    module = model.module_ = model.build(split, rng)
    module.train()
    for batch in model.batches(split, rng):  # inside the epoch: per-epoch graphs are in place
        whole = _gradients(model, module, [(batch, 1.0)])
        summed = _gradients(model, module, [model.shard_batch(batch, rank, world) for rank in range(world)])
        assert summed.keys() == whole.keys()
        for key, gradient in whole.items():
            torch.testing.assert_close(summed[key], gradient, rtol=1e-4, atol=1e-6, msg=f"{name}: {key}")
        with torch.no_grad():
            whole_loss = float(model.loss(module, batch))
            parts = [model.shard_batch(batch, rank, world) for rank in range(world)]
            parts_loss = sum(weight * float(model.loss(module, part)) for part, weight in parts if weight > 0)
        assert parts_loss == pytest.approx(whole_loss, rel=1e-5)


@pytest.mark.parametrize("how", ["batch", "alternate"])
@pytest.mark.parametrize("name", ["lightgcn", "fusiongraph"])
def test_one_worker_trains_an_epoch_exactly_as_one_process(name: str, how: BatchSplit, split: Split) -> None:
    weights, losses = [], []
    for shared in (False, True):
        model = _model(name, split)
        rng = seed_everything(0)
        module = model.module_ = model.build(split, rng)
        optimizer = adam(module, model.train_config)
        if shared:
            losses.append(shared_epoch(model, module, optimizer, split, rng, None, world=1, how=how))
        else:
            losses.append(run_epoch(model, module, optimizer, split, rng))
        weights.append(copy.deepcopy(module.state_dict()))
    assert losses[0] == losses[1]
    for key, value in weights[0].items():
        assert torch.equal(value, weights[1][key]), key


def test_the_batch_split_is_the_default_and_alternate_is_chosen_by_name() -> None:
    assert RayTrainConfig().split == "batch"
    assert RayTrainConfig(split="alternate").split == "alternate"
    with pytest.raises(ValueError, match="split"):
        RayTrainConfig(split="rows")  # type: ignore[arg-type]
