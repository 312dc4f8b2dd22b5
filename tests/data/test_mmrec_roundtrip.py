"""A split written with write_mmrec reads back with read_mmrec: same interactions, same raw ids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.data import (
    CatalogColumns,
    Split,
    cold_start_split,
    demo_split,
    read_catalog,
    read_mmrec,
    split_from_file,
    write_mmrec,
)
from fusionrec.testing.datasets import checkerboard_split


def raw_triples(split: Split) -> list[tuple[str, str, str]]:
    triples = []
    for name in ("train", "valid", "test"):
        part = split.part(name)  # type: ignore[arg-type]
        users, items = split.dataset.users.id(part.user_index), split.dataset.items.id(part.item_index)
        triples += [(user, item, name) for user, item in zip(users, items, strict=True)]
    return sorted(triples)


@pytest.mark.parametrize("make", [demo_split, checkerboard_split, lambda: cold_start_split(demo_split().dataset)])
def test_write_then_read_keeps_interactions_raw_ids_and_features(make: object, tmp_path: Path) -> None:
    split = make()  # type: ignore[operator]
    write_mmrec(split, tmp_path, name="copy")
    again = read_mmrec(tmp_path, name="copy", protocol=split.protocol)
    assert raw_triples(again) == raw_triples(split)
    assert again.dataset.items.ids == split.dataset.items.ids  # item order kept, so feature rows line up
    assert set(again.dataset.users.ids) == set(split.dataset.users.ids)
    for modality in split.dataset.modalities:
        np.testing.assert_array_equal(again.dataset.features[modality], split.dataset.features[modality])
        np.testing.assert_array_equal(again.dataset.feature_mask(modality), split.dataset.feature_mask(modality))


def test_item_table_survives_the_round_trip(tmp_path: Path) -> None:
    split = demo_split()
    write_mmrec(split, tmp_path, name="demo")
    again = read_mmrec(tmp_path, name="demo")
    assert again.dataset.item_titles([0, 1]) == split.dataset.item_titles([0, 1])
    assert again.dataset.text_columns == ["title", "genres", "year", "overview"]


def test_media_paths_still_point_at_the_files_after_the_round_trip(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    (shop / "img").mkdir(parents=True)
    (shop / "img" / "a.jpg").write_bytes(b"jpeg")
    (shop / "ratings.csv").write_text("user_id,item_id\nu1,a\nu1,b\nu1,c\nu2,a\nu2,b\nu2,c\n")
    (shop / "items.csv").write_text("item_id,title,image\na,A,img/a.jpg\nb,B,\nc,C,\n")
    split = cold_start_split(read_catalog(shop / "ratings.csv", shop / "items.csv"), (0.4, 0.3, 0.3))
    write_mmrec(split, tmp_path / "out", name="shop")
    again = read_mmrec(tmp_path / "out", name="shop")
    assert again.dataset.media_columns == ["image"]
    assert again.dataset.item_table is not None and again.dataset.media_root is not None
    assert (again.dataset.media_root / again.dataset.item_table["image"].iloc[0]).is_file()


@pytest.mark.realdata
def test_movielens_fixed_split_matches_the_catalog(data_dir: Path) -> None:
    folder = data_dir / "ml100k-mm"
    dataset = read_catalog(
        folder / "ratings.csv", folder / "items.csv", columns=CatalogColumns(item="movie_id"), min_rating=4
    )
    split = split_from_file(dataset, folder / "ml100k-mm.inter")
    assert (len(split.train), len(split.valid), len(split.test)) == (44_271, 5_552, 5_552)
    assert split.train.timestamp is not None  # times come from the catalog
    assert raw_triples(split) == raw_triples(read_mmrec(folder))
    cold = split_from_file(dataset, folder / "ml100k-mm-cold.inter")
    assert cold.protocol == "cold"
    assert (len(cold.train), len(cold.valid), len(cold.test)) == (38_290, 5_365, 11_720)
