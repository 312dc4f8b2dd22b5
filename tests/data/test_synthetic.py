"""The synthetic catalog: sizes, skew, informative content, determinism, the MMRec round trip and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.data import read_mmrec
from fusionrec.data.synthetic import SyntheticConfig, generate_synthetic, synthetic_factors, write_synthetic

SMALL = SyntheticConfig(n_items=2000, n_users=1000, n_interactions=20_000, modalities={"image": 8, "text": 12})


@pytest.fixture(scope="module")
def split():  # type: ignore[no-untyped-def]
    return generate_synthetic(SMALL)


def all_interactions(split) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    parts = (split.train, split.valid, split.test)
    return np.concatenate([p.user_index for p in parts]), np.concatenate([p.item_index for p in parts])


def test_sizes_and_distinct_pairs(split) -> None:  # type: ignore[no-untyped-def]
    users, items = all_interactions(split)
    assert len(users) == SMALL.n_interactions
    assert len(np.unique(users * SMALL.n_items + items)) == len(users)
    assert split.dataset.features["image"].shape == (2000, 8)
    assert split.dataset.features["text"].shape == (2000, 12)
    assert split.protocol == "warm" and len(split.valid) > 0 and len(split.test) > 0


def test_popularity_and_activity_are_skewed(split) -> None:  # type: ignore[no-untyped-def]
    users, items = all_interactions(split)
    item_counts = np.sort(np.bincount(items, minlength=SMALL.n_items))[::-1]
    user_counts = np.sort(np.bincount(users, minlength=SMALL.n_users))[::-1]
    assert item_counts[: SMALL.n_items // 100].sum() > 0.1 * len(items)  # top 1% of items: over 10%
    assert user_counts[: SMALL.n_users // 10].sum() > 0.25 * len(users)  # top 10% of users: over 25%


def test_content_predicts_what_a_user_likes(split) -> None:  # type: ignore[no-untyped-def]
    """Two items of one user are closer in feature space than two random items."""
    features = split.dataset.features["image"]
    train = split.train
    order = np.argsort(train.user_index, kind="stable")
    users, items = train.user_index[order], train.item_index[order]
    same_user = users[1:] == users[:-1]
    first, second = items[:-1][same_user], items[1:][same_user]
    rng = np.random.default_rng(0)
    random_first, random_second = rng.integers(0, SMALL.n_items, (2, len(first)))

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(features[a] - features[b], axis=1).mean())

    assert distance(first, second) < 0.95 * distance(random_first, random_second)  # 1.0 if uninformative


def test_same_seed_same_catalog_and_another_seed_another() -> None:
    config = SyntheticConfig(n_items=100, n_users=50, n_interactions=500, modalities={"image": 4})
    first, second = generate_synthetic(config), generate_synthetic(config)
    other = generate_synthetic(config.model_copy(update={"seed": 1}))
    np.testing.assert_array_equal(first.train.item_index, second.train.item_index)
    np.testing.assert_array_equal(first.dataset.features["image"], second.dataset.features["image"])
    assert not np.array_equal(first.dataset.features["image"], other.dataset.features["image"])


def test_written_folder_reads_back_as_the_same_split(tmp_path: Path) -> None:
    config = SyntheticConfig(n_items=120, n_users=60, n_interactions=900, modalities={"image": 4, "text": 6})
    path = write_synthetic(config, tmp_path / "synth")
    assert path == tmp_path / "synth" / "synth.inter"
    loaded, made = read_mmrec(tmp_path / "synth"), generate_synthetic(config)
    assert (len(loaded.train), len(loaded.valid), len(loaded.test)) == (
        len(made.train),
        len(made.valid),
        len(made.test),
    )
    np.testing.assert_array_equal(loaded.dataset.features["text"], made.dataset.features["text"])


def test_too_many_interactions_for_the_catalog_is_refused() -> None:
    with pytest.raises(ValidationError, match="more than half of n_users x n_items"):
        SyntheticConfig(n_items=10, n_users=10, n_interactions=60)


def test_synth_command_writes_a_dataset_and_names_a_bad_size(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "tiny"
    args = ["synth", "--out", str(out), "--items", "100", "--users", "40", "--interactions", "400"]
    result = runner.invoke(app, [*args, "--image-dim", "4", "--text-dim", "4"])
    assert result.exit_code == 0, result.output
    assert (out / "tiny.inter").is_file() and (out / "image_feat.npy").is_file() and (out / "text_feat.npy").is_file()
    bad = runner.invoke(app, ["synth", "--out", str(out), "--items", "10", "--users", "10", "--interactions", "90"])
    assert bad.exit_code != 0
    assert "more than half" in bad.output


@pytest.mark.parametrize("unit_items", [True, False])
def test_factors_have_the_asked_shape_and_are_finite(unit_items: bool) -> None:
    items, users = synthetic_factors(3000, 20, dim=16, unit_items=unit_items)
    assert items.shape == (3000, 16) and users.shape == (20, 16)
    assert np.isfinite(items).all() and np.isfinite(users).all()
    lengths = np.linalg.norm(items, axis=1)
    assert np.allclose(lengths, 1.0, atol=1e-5) == unit_items
