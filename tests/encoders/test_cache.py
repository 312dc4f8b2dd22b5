"""The feature cache: round trips, atomic shards, concurrent writers, damaged files, no pickle."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from fusionrec.encoders import FeatureCache
from fusionrec.encoders.cache import MAX_SHARDS
from fusionrec.errors import ArtifactError

IDENTITY = {"encoder": "toy", "kind": "text", "version": 1, "config": {"size": 3}}


def keys(*names: str) -> list[bytes]:
    return [hashlib.sha256(name.encode()).digest() for name in names]


def rows(n: int, dim: int = 3, start: float = 0.0) -> np.ndarray:
    return (np.arange(n * dim, dtype=np.float32).reshape(n, dim) + start) / 10


def test_round_trip_with_masked_rows(tmp_path: Path) -> None:
    store = FeatureCache(tmp_path).store(IDENTITY)
    store.add(keys("a", "b"), rows(2), np.array([True, False]), ["", "corrupt image"])
    fresh = FeatureCache(tmp_path).store(IDENTITY)  # another process reading it later
    found = fresh.lookup(keys("b", "zzz", "a"))
    assert found.found.tolist() == [True, False, True]
    assert found.mask.tolist() == [False, False, True]
    assert found.reasons[0] == "corrupt image"
    np.testing.assert_array_equal(found.values[2], rows(2)[0])
    assert fresh.dim == 3


def test_identity_selects_the_folder(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cache.store(IDENTITY).add(keys("a"), rows(1), np.array([True]), [""])
    other = cache.store({**IDENTITY, "config": {"size": 4}})
    assert not other.lookup(keys("a")).found.any()


def test_files_are_arrays_and_json_never_pickles(tmp_path: Path) -> None:
    store = FeatureCache(tmp_path).store(IDENTITY)
    store.add(keys("a"), rows(1), np.array([True]), [""])
    manifest = json.loads(store.manifest_path.read_text())
    assert manifest["identity"] == IDENTITY and manifest["dim"] == 3
    (shard,) = store.shard_paths()
    with np.load(shard, allow_pickle=False) as data:
        assert sorted(data.files) == ["keys", "mask", "reasons", "values"]


def test_half_written_and_damaged_shards_are_never_read(tmp_path: Path) -> None:
    store = FeatureCache(tmp_path).store(IDENTITY)
    store.add(keys("a"), rows(1), np.array([True]), [""])
    (store.folder / ".tmp-interrupted.npz").write_bytes(b"PK\x03\x04 half a zip")  # a killed writer's leftover
    good = store.shard_paths()[0].read_bytes()
    (store.folder / "shard-99999999999999999999-damaged.npz").write_bytes(good[: len(good) // 2])
    fresh = FeatureCache(tmp_path).store(IDENTITY)
    assert fresh.lookup(keys("a")).found.all()
    assert fresh.skipped == ["shard-99999999999999999999-damaged.npz"]


def test_tampered_manifest_is_an_error(tmp_path: Path) -> None:
    store = FeatureCache(tmp_path).store(IDENTITY)
    store.add(keys("a"), rows(1), np.array([True]), [""])
    manifest = json.loads(store.manifest_path.read_text())
    manifest["identity"]["config"]["size"] = 99
    store.manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="altered"):
        FeatureCache(tmp_path).store(IDENTITY).lookup(keys("a"))


def test_many_shards_are_merged(tmp_path: Path) -> None:
    store = FeatureCache(tmp_path).store(IDENTITY)
    for i in range(MAX_SHARDS + 1):
        store.add(keys(f"item{i}"), rows(1, start=i), np.array([True]), [""])
    assert len(store.shard_paths()) == 1
    found = FeatureCache(tmp_path).store(IDENTITY).lookup(keys(*(f"item{i}" for i in range(MAX_SHARDS + 1))))
    assert found.found.all()
    np.testing.assert_array_equal(found.values[5], rows(1, start=5)[0])


def _writer(root: str, worker: int) -> None:
    store = FeatureCache(root).store(IDENTITY)
    for i in range(12):
        name = f"w{worker}-{i}"
        store.add(keys(name), rows(1, start=worker * 100 + i), np.array([True]), [""])


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(tmp_path), w)) for w in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    names = [f"w{w}-{i}" for w in range(2) for i in range(12)]
    found = FeatureCache(tmp_path).store(IDENTITY).lookup(keys(*names))
    assert found.found.all()
    np.testing.assert_array_equal(found.values[13], rows(1, start=101)[0])
