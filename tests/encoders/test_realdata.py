"""ml100k-mm: exactly the items without an overview or a poster are masked; neighbour quality (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fusionrec.encoders import EncoderSpec, default_specs, encode_dataset, read_encoded
from fusionrec.encoders.loading import read_items

pytestmark = pytest.mark.realdata


def cosine_neighbours(values: np.ndarray, mask: np.ndarray, index: int, k: int) -> np.ndarray:
    """Indices of the k usable items most cosine-similar to item ``index`` (itself excluded)."""
    unit = values / np.maximum(np.linalg.norm(values, axis=1, keepdims=True), 1e-12)
    scores = unit @ unit[index]  # (n_items,)
    scores[~mask] = -np.inf
    scores[index] = -np.inf
    return np.argsort(-scores)[:k]


def test_ml100k_masks_exactly_the_items_without_overview_or_poster(data_dir: Path, tmp_path: Path) -> None:
    dataset = read_items(data_dir / "ml100k-mm")
    specs = default_specs(list(dataset.item_table.columns))
    assert [(s.modality, s.encoder_name) for s in specs] == [("text", "minilm"), ("image", "efficientnet-lite0")]
    assert specs[0].template == "{title} | {genres} | {overview}" and specs[0].required == ["overview"]
    fast = [  # the same inputs through the dependency-light encoders, to keep this test quick
        specs[0].model_copy(update={"name": "tfidf"}),
        EncoderSpec(modality="image", name="color-histogram", column="poster"),
    ]
    report = encode_dataset(dataset, fast, tmp_path / "cache")
    table = dataset.item_table
    assert dataset.n_items == 1682
    assert report["text"].masked == {"no overview": table.item_id[table.overview.str.strip() == ""].tolist()}
    assert report["image"].masked == {"no poster": table.item_id[table.poster.str.strip() == ""].tolist()}
    assert (report["text"].n_masked, report["image"].n_masked) == (18, 19)


@pytest.mark.slow
def test_ml100k_neighbours_make_sense(data_dir: Path, tmp_path: Path) -> None:
    cache = os.environ.get("FUSIONREC_CACHE")
    split, report = read_encoded(data_dir / "ml100k-mm", cache_dir=Path(cache) / "features" if cache else tmp_path)
    dataset = split.dataset
    titles = dataset.item_table.title.tolist()
    star_wars = titles.index("Star Wars (1977)")
    assert report["text"].n_masked == 18
    neighbours = cosine_neighbours(dataset.features["text"], dataset.feature_mask("text"), star_wars, 5)
    text_neighbours = {titles[j] for j in neighbours}
    assert text_neighbours & {"Return of the Jedi (1983)", "Empire Strikes Back, The (1980)"}

    animated = dataset.item_table.genres.str.contains("Animation").to_numpy()
    mask = dataset.feature_mask("image")
    features = dataset.features["image"]
    shares = [animated[cosine_neighbours(features, mask, i, 5)].mean() for i in np.flatnonzero(animated & mask)]
    base_rate = animated[mask].mean()  # about 2.5% of the posters are of animated films
    assert np.mean(shares) > 10 * base_rate
