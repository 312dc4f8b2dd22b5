"""Sharded evaluation on the two-node cluster gives one process's per-user values exactly."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrec.distributed import evaluate_sharded
from fusionrec.evaluation import evaluate_model
from fusionrec.models import build_model
from fusionrec.testing.datasets import checkerboard_split, image_only_split

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.mark.parametrize("model_name", ["ease", "lightgcn"])
def test_sharded_evaluation_equals_one_process(ray_cluster: str, model_name: str) -> None:
    split = checkerboard_split(n_users=40, n_items=30)
    train = {"epochs": 2, "progress": False} if model_name == "lightgcn" else None
    model = build_model(model_name, **({"train_config": train} if train else {})).fit(split)
    one = evaluate_model(model, split, "test", ks=(5, 10), chunk_size=4, beyond=False)
    sharded = evaluate_sharded(model, split, "test", ks=(5, 10), shards=3, chunk_size=4)
    np.testing.assert_array_equal(sharded.users, one.users)
    assert sharded.metric_names == one.metric_names
    for name in one.metric_names:
        np.testing.assert_array_equal(sharded.per_user[name], one.per_user[name])


def test_sharded_evaluation_of_the_cold_protocol(ray_cluster: str) -> None:
    split = image_only_split(n_users=30, n_items=40)
    model = build_model("content-knn").fit(split)
    one = evaluate_model(model, split, "valid", ks=(10,), chunk_size=5, beyond=False)
    sharded = evaluate_sharded(model, split, "valid", ks=(10,), shards=2, chunk_size=5)
    assert one.summary() == sharded.summary()
    np.testing.assert_array_equal(sharded.users, one.users)
