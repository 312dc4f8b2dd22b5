"""inspect_dataset: counts, sparsity, modalities, item columns and problems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusionrec.data import (
    CatalogColumns,
    Dataset,
    Interactions,
    Split,
    Vocabulary,
    inspect_dataset,
    read_catalog,
    read_mmrec,
)


def tiny_split() -> Split:
    """3 users x 4 items: user 2 is only in test, item 3 is never used, one pair repeats."""
    interactions = Interactions(np.array([0, 0, 1, 1, 2, 0]), np.array([0, 1, 1, 2, 0, 0]), 3, 4)
    dataset = Dataset("tiny", Vocabulary.from_range(3, "user"), Vocabulary.from_range(4), interactions)
    dataset.add_feature("image", np.ones((4, 5)), mask=np.array([True, False, True, False]))
    dataset.problems.append("items.csv: 1 duplicate user-item row(s)")
    train = interactions.select(np.array([0, 2]))
    valid = interactions.select(np.array([1]))
    test = interactions.select(np.array([3, 4]))
    return Split(dataset, train, valid, test, description="by hand")


def test_counts_and_sparsity_of_a_split() -> None:
    report = inspect_dataset(tiny_split())
    assert report["kind"] == "split"
    assert (report["users"], report["items"]) == (3, 4)
    assert report["interactions"] == {"all": 4 + 1, "train": 2, "valid": 1, "test": 2}
    assert report["sparsity"] == pytest.approx(1 - 2 / 12)
    assert report["per_user"] == {"min": 0, "median": 1.0, "mean": 2 / 3, "max": 1}
    assert report["modalities"] == {"image": {"dim": 5, "masked": 2}}
    assert report["description"] == "by hand"


def test_problems_of_a_split() -> None:
    problems = inspect_dataset(tiny_split())["problems"]
    assert problems[0] == "items.csv: 1 duplicate user-item row(s)"  # recorded while reading
    assert "1 duplicate user-item interaction(s)" in problems
    assert "1 user(s) in test have no training interaction" in problems
    assert "2 of 4 items never occur in train (cold or unused items)" in problems


def test_a_dataset_is_described_without_parts() -> None:
    dataset = tiny_split().dataset
    report = inspect_dataset(dataset)
    assert report["kind"] == "dataset"
    assert report["interactions"] == {"all": 6}
    assert report["sparsity"] == pytest.approx(1 - 5 / 12)  # 5 distinct pairs
    assert "1 of 4 items have no interaction" in report["problems"]
    assert "protocol" not in report


def test_the_report_is_json_ready(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("user_id,item_id,rating\nu1,a,5\nu2,b,3\n")
    (tmp_path / "items.csv").write_text("item_id,title,poster\na,A,a.jpg\nb,,\nc,C,c.jpg\n")
    report = inspect_dataset(read_catalog(tmp_path / "r.csv", tmp_path / "items.csv"))
    assert json.loads(json.dumps(report)) == report
    assert report["item_columns"] == {"item_id": {"empty": 0}, "title": {"empty": 1}, "poster": {"empty": 1}}
    assert report["media_columns"] == ["poster"]
    assert report["ratings"] == {"min": 3.0, "max": 5.0}
    assert any("2 of 2 'poster' path(s) do not exist" in p for p in report["problems"])


@pytest.mark.realdata
def test_tiktok_report(data_dir: Path) -> None:
    report = inspect_dataset(read_mmrec(data_dir / "tiktok"))
    assert report["interactions"] == {"all": 68_722, "train": 59_541, "valid": 3_051, "test": 6_130}
    assert report["modalities"] == {"audio": {"dim": 128, "masked": 0}, "image": {"dim": 128, "masked": 0}}
    assert "465 of 6,710 items never occur in train (cold or unused items)" in report["problems"]
    assert any("have no training interaction" in p for p in report["problems"])


@pytest.mark.realdata
def test_movielens_catalog_report(data_dir: Path) -> None:
    folder = data_dir / "ml100k-mm"
    dataset = read_catalog(folder / "ratings.csv", folder / "items.csv", columns=CatalogColumns(item="movie_id"))
    report = inspect_dataset(dataset)
    assert report["interactions"] == {"all": 100_000}
    assert report["item_columns"]["overview"] == {"empty": 18}
    assert report["item_columns"]["poster"] == {"empty": 19}
