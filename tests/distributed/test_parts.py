"""The pieces of the Ray jobs that need no cluster: shards, batch dealing, gradient all-reduce, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from fusionrec.distributed.checkpoint import LoopState, read_final_state, restore_worker, save_worker
from fusionrec.distributed.cluster import connect
from fusionrec.distributed.data_parallel import all_reduce_gradients, alternate_batches
from fusionrec.distributed.ray_eval import shard_rows
from fusionrec.distributed.ray_train import adam, user_shard
from fusionrec.errors import ArtifactError, ConfigError
from fusionrec.models.train_config import TrainConfig


def test_user_shards_cover_the_users_with_held_out_items_once() -> None:
    heldout = sp.csr_matrix(np.array([[1, 0], [0, 0], [1, 1], [0, 1], [1, 0]], dtype=np.float32))
    shards = [user_shard(heldout, rank, 2) for rank in range(2)]
    rows = [np.flatnonzero(np.diff(s.indptr)).tolist() for s in shards]
    assert rows == [[0, 2], [3, 4]]
    assert (shards[0] + shards[1] != heldout).nnz == 0


def test_shards_are_runs_of_whole_chunks() -> None:
    users = np.arange(10, 30)
    shards = shard_rows(users, chunk_size=4, shards=3)
    assert [len(s) for s in shards] == [8, 8, 4]
    np.testing.assert_array_equal(np.concatenate(shards), users)
    assert [len(s) for s in shard_rows(users, chunk_size=64, shards=3)] == [20]
    assert shard_rows(np.zeros(0, dtype=np.int64), 4, 3) == []


@pytest.mark.parametrize("world", [1, 2, 3])
def test_every_batch_goes_to_exactly_one_rank_and_every_rank_draws_them_all(world: int) -> None:
    dealt: list[list[int]] = []
    for rank in range(world):
        drawn: list[int] = []

        def epoch(drawn: list[int] = drawn) -> object:
            for batch in range(7):
                drawn.append(batch)
                yield batch

        own = alternate_batches(iter(epoch()), rank, world)
        mine = [next(own) for _ in range(-(-7 // world) + 1)]
        assert mine[-1] == (None, 0.0) and len(drawn) == 7
        assert all(weight == 1.0 for batch, weight in mine if batch is not None)
        dealt.append([b for b, _ in mine if b is not None])
    assert sorted(b for part in dealt for b in part) == list(range(7))
    assert dealt[0] == list(range(0, 7, world))


def test_one_worker_keeps_its_gradients() -> None:
    weight = torch.nn.Parameter(torch.ones(3))
    (weight * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert all_reduce_gradients([weight], active=True, world=1, mean=False)
    assert weight.grad is not None and weight.grad.tolist() == [1.0, 2.0, 3.0]
    assert not all_reduce_gradients([weight], active=False, world=1, mean=True)


def test_a_checkpoint_restores_weights_optimiser_generator_and_loop(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = torch.nn.Linear(3, 2)
    optimizer = adam(module, TrainConfig(lr=0.1))
    module(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    rng = np.random.default_rng(5)
    state = LoopState(epoch=3)
    state.update(3, 0.5, module, patience=2)
    state.history.losses = [1.0, 0.8, 0.7]
    save_worker(tmp_path, 0, state, module, optimizer, None, rng, final=False)
    expected_draw = rng.random()
    fresh = torch.nn.Linear(3, 2)
    fresh_optimizer = adam(fresh, TrainConfig(lr=0.1))
    fresh_rng = np.random.default_rng(99)
    restored = restore_worker(tmp_path, 0, fresh, fresh_optimizer, None, fresh_rng)
    assert (restored.epoch, restored.best, restored.best_epoch, restored.history.losses) == (3, 0.5, 3, [1.0, 0.8, 0.7])
    assert fresh_rng.random() == expected_draw
    for name, value in module.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value)
    assert fresh_optimizer.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()
    best, history = read_final_state(tmp_path)
    assert set(best) == {"weight", "bias"} and history.losses == [1.0, 0.8, 0.7]


def test_a_folder_that_is_no_checkpoint_is_named(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"is not a fusionrec training checkpoint.*training.pt"):
        read_final_state(tmp_path)


def test_an_empty_address_is_refused() -> None:
    with pytest.raises(ConfigError, match="ray address is empty"):
        connect(" ")


def test_every_lazy_distributed_name_resolves() -> None:
    import fusionrec.distributed

    for name in fusionrec.distributed.__all__:
        assert getattr(fusionrec.distributed, name) is not None, name
