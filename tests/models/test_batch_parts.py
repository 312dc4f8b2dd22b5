"""Batch parts for data-parallel training: every model's batch split into parts that cover it exactly once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest
import torch

from fusionrec.data.dataset import Split
from fusionrec.errors import ModelError
from fusionrec.models import build_model
from fusionrec.models.batch_parts import BatchPart, row_part, share_bounds, user_part, whole_batch
from fusionrec.models.training import TorchRecommender, seed_everything
from fusionrec.testing.datasets import checkerboard_split

#: every torch model's batch type: BPR triples (bpr, lightgcn, bm3, freedom, vbpr) and FusionGraph's user blocks
MODELS: dict[str, dict[str, Any]] = {
    "bpr": {},
    "lightgcn": {},
    "bm3": {},
    "freedom": {},
    "vbpr": {},
    "fusiongraph": {},
    "fusiongraph-members": {"members": {"count": 2}},
}


@pytest.fixture(scope="module")
def split() -> Split:
    return checkerboard_split(n_users=24, n_items=20, seed=3)


def first_batch(name: str, split: Split, batch_size: int = 7) -> tuple[TorchRecommender, Any]:
    """A built model (module attached, as during training) and the first batch of its epoch."""
    model = build_model(
        name.split("-")[0], embedding_dim=8, **MODELS[name], train_config={"seed": 0, "batch_size": batch_size}
    )
    assert isinstance(model, TorchRecommender)
    model.split_, model.train_matrix_ = split, split.train.to_csr()
    rng = seed_everything(0)
    model.module_ = model.build(split, rng)
    return model, next(iter(model.batches(split, rng)))


def examples(model: TorchRecommender, batch: tuple[torch.Tensor, ...]) -> Counter[tuple[int, ...]]:
    """The batch's training examples: (user, item) pairs for FusionGraph, rows of the tuple for the others."""
    if model.name == "fusiongraph":
        users, rows, items = batch
        return Counter(zip(users[rows].tolist(), items.tolist(), strict=True))
    return Counter(zip(*(t.tolist() for t in batch), strict=True))


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("world", [2, 3, 5])
def test_the_parts_cover_every_models_batch_exactly_once(name: str, world: int, split: Split) -> None:
    model, batch = first_batch(name, split)
    parts = [model.shard_batch(batch, rank, world) for rank in range(world)]
    whole = examples(model, batch)
    assert sum((examples(model, part) for part, _ in parts), Counter()) == whole
    assert all(whole_batch(part) is batch for part, _ in parts)
    shares = [sum(examples(model, part).values()) / sum(whole.values()) for part, _ in parts]
    assert [weight for _, weight in parts] == pytest.approx(shares)
    assert sum(weight for _, weight in parts) == pytest.approx(1.0)
    assert torch.equal(torch.cat([part[0] for part, _ in parts]), batch[0])  # contiguous runs, in order


@pytest.mark.parametrize("name", list(MODELS))
def test_one_worker_gets_the_batch_itself(name: str, split: Split) -> None:
    model, batch = first_batch(name, split)
    part, weight = model.shard_batch(batch, 0, 1)
    assert part is batch and weight == 1.0


def test_a_part_of_a_batch_with_fewer_users_than_workers_may_be_empty_with_weight_zero() -> None:
    batch = (torch.tensor([4, 9]), torch.tensor([0, 0, 1]), torch.tensor([2, 5, 7]))
    parts = [user_part(batch, rank, 3) for rank in range(3)]
    assert [[t.tolist() for t in part] for part, _ in parts] == [[[4], [0, 0], [2, 5]], [[9], [0], [7]], [[], [], []]]
    assert [weight for _, weight in parts] == pytest.approx([2 / 3, 1 / 3, 0.0])


@pytest.mark.parametrize(("total", "world"), [(10, 3), (2, 5), (0, 2), (7, 7)])
def test_share_bounds_are_array_splits_runs(total: int, world: int) -> None:
    expected = [
        (int(run[0]), int(run[-1]) + 1) if len(run) else None for run in np.array_split(np.arange(total), world)
    ]
    for rank, bounds in enumerate(expected):
        start, stop = share_bounds(total, rank, world)
        assert (start, stop) == bounds or (bounds is None and start == stop)


def test_a_part_unpacks_as_its_batch_does() -> None:
    batch = (torch.arange(4), torch.arange(4) + 10, torch.arange(4) + 20)
    part, weight = row_part(batch, 0, 2)
    users, positives, negatives = part
    assert isinstance(part, BatchPart) and weight == 0.5
    assert (users.tolist(), positives.tolist(), negatives.tolist()) == ([0, 1], [10, 11], [20, 21])


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([torch.arange(3)], "tuple of tensors, got list"),
        ((torch.arange(3), torch.arange(4)), r"lengths differ: \[3, 4\]"),
    ],
)
def test_a_batch_the_default_cannot_split_names_the_method_to_override(batch: Any, message: str) -> None:
    with pytest.raises(ModelError, match=message) as error:
        row_part(batch, 0, 2)
    assert "override TorchRecommender.shard_batch" in str(error.value)
