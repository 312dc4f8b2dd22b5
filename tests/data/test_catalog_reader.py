"""read_catalog: formats, column configuration, min_rating, catalog items, media and features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrec.data import CatalogColumns, Dataset, read_catalog
from fusionrec.errors import DataError

RATINGS = "user_id,item_id,rating,timestamp\nu1,i1,5,100\nu1,i2,3,200\nu2,i2,4,150\nu2,i3,1,160\n"
ITEMS = (
    "item_id,title,overview,poster\n"
    "i1,One,first film,posters/i1.jpg\ni2,Two,second film,\ni3,Three,,posters/i3.jpg\ni4,Four,never rated,\n"
)


def raw_pairs(dataset: Dataset) -> set[tuple[str, str]]:
    users = dataset.users.id(dataset.interactions.user_index)
    return set(zip(users, dataset.items.id(dataset.interactions.item_index), strict=True))


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> tuple[Path, Path]:
    ratings = write(tmp_path / "shop" / "ratings.csv", RATINGS)
    items = write(tmp_path / "shop" / "items.csv", ITEMS)
    for name in ("i1", "i3"):
        write(tmp_path / "shop" / "posters" / f"{name}.jpg", "not really a jpeg")
    return ratings, items


def test_reads_interactions_with_raw_ids_ratings_and_times(catalog: tuple[Path, Path]) -> None:
    dataset = read_catalog(catalog[0])
    assert dataset.name == "shop"
    assert dataset.users.ids == ("u1", "u2")
    assert dataset.items.ids == ("i1", "i2", "i3")
    assert raw_pairs(dataset) == {("u1", "i1"), ("u1", "i2"), ("u2", "i2"), ("u2", "i3")}
    assert dataset.interactions.rating is not None
    assert dataset.interactions.rating.tolist() == [5.0, 3.0, 4.0, 1.0]
    assert dataset.interactions.timestamp is not None
    assert dataset.interactions.timestamp.tolist() == [100, 200, 150, 160]
    assert dataset.problems == []


def test_every_catalog_item_stays_in_the_vocabulary_in_catalog_order(catalog: tuple[Path, Path]) -> None:
    dataset = read_catalog(*catalog)
    assert dataset.items.ids == ("i1", "i2", "i3", "i4")
    assert dataset.item_table is not None
    assert dataset.item_table["item_id"].tolist() == list(dataset.items.ids)
    assert dataset.item_titles([3]) == ["Four"]


def test_min_rating_keeps_only_positive_interactions(catalog: tuple[Path, Path]) -> None:
    dataset = read_catalog(*catalog, min_rating=4)
    assert raw_pairs(dataset) == {("u1", "i1"), ("u2", "i2")}
    assert dataset.n_items == 4


def test_min_rating_above_every_rating_is_an_error(catalog: tuple[Path, Path]) -> None:
    with pytest.raises(DataError, match=r"no rating is >= min_rating=6 .*1\.\.5"):
        read_catalog(catalog[0], min_rating=6)


def test_media_and_text_columns_are_inferred_and_media_is_relative_to_the_items_file(
    catalog: tuple[Path, Path],
) -> None:
    dataset = read_catalog(*catalog)
    assert dataset.media_columns == ["poster"]
    assert dataset.text_columns == ["title", "overview"]
    assert dataset.media_root == catalog[1].parent
    assert dataset.problems == []  # both given poster paths exist


def test_media_root_overrides_and_missing_media_files_are_reported(catalog: tuple[Path, Path], tmp_path: Path) -> None:
    dataset = read_catalog(*catalog, media_root=tmp_path / "elsewhere")
    assert dataset.media_root == tmp_path / "elsewhere"
    assert len(dataset.problems) == 1
    assert "2 of 2 'poster' path(s) do not exist" in dataset.problems[0]
    assert "media_root=" in dataset.problems[0]


def test_configured_column_names(tmp_path: Path) -> None:
    ratings = write(tmp_path / "r.csv", "customer,sku,stars,when\nc1,s1,4,2021-03-04T10:00:00\nc2,s1,2,2021-03-05\n")
    items = write(tmp_path / "catalog.csv", "product,name,blurb\ns1,Kettle,boils water\ns2,Mug,holds tea\n")
    columns = CatalogColumns(
        user="customer", item="sku", rating="stars", timestamp="when", item_id="product", text=["blurb"]
    )
    dataset = read_catalog(ratings, items, columns=columns)
    assert dataset.items.ids == ("s1", "s2")
    assert dataset.text_columns == ["blurb"]
    assert dataset.interactions.timestamp is not None
    assert dataset.interactions.timestamp.tolist() == [1614852000, 1614902400]


def test_interactions_without_rating_or_time_columns(tmp_path: Path) -> None:
    ratings = write(tmp_path / "clicks.csv", "user_id,item_id\na,x\nb,y\n")
    dataset = read_catalog(ratings)
    assert dataset.interactions.rating is None
    assert dataset.interactions.timestamp is None


def test_integer_ids_are_ordered_numerically(tmp_path: Path) -> None:
    ratings = write(tmp_path / "r.csv", "user_id,item_id\n10,7\n9,100\n2,7\n")
    dataset = read_catalog(ratings)
    assert dataset.users.ids == ("2", "9", "10")
    assert dataset.items.ids == ("7", "100")


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_parquet_and_json_lines_read_like_csv(catalog: tuple[Path, Path], tmp_path: Path, suffix: str) -> None:
    paths = []
    for name, source in zip(("r", "i"), catalog, strict=True):
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
        path = catalog[0].parent / f"{name}{suffix}"
        if suffix == ".parquet":
            frame.to_parquet(path)
        else:
            frame.to_json(path, orient="records", lines=True)
        paths.append(path)
    from_csv, other = read_catalog(*catalog), read_catalog(*paths)
    assert other.items.ids == from_csv.items.ids
    assert other.users.ids == from_csv.users.ids
    np.testing.assert_array_equal(other.interactions.item_index, from_csv.interactions.item_index)
    assert other.item_table is not None
    assert other.item_table["overview"].tolist() == ["first film", "second film", "", "never rated"]


def test_features_attach_in_item_order(catalog: tuple[Path, Path], tmp_path: Path) -> None:
    image = np.arange(8, dtype=np.float64).reshape(4, 2)
    np.save(tmp_path / "image_feat.npy", image)
    dataset = read_catalog(*catalog, features={"image": tmp_path / "image_feat.npy", "text": np.ones((4, 3))})
    assert dataset.modalities == ["image", "text"]
    assert dataset.features["image"].dtype == np.float32
    np.testing.assert_array_equal(dataset.features["image"], image)


@pytest.mark.realdata
def test_movielens_catalog_with_min_rating(data_dir: Path) -> None:
    folder = data_dir / "ml100k-mm"
    dataset = read_catalog(
        folder / "ratings.csv", folder / "items.csv", columns=CatalogColumns(item="movie_id"), min_rating=4
    )
    assert len(dataset.interactions) == 55_375
    assert dataset.n_items == 1_682
    assert dataset.media_columns == ["poster"]
    assert dataset.item_table is not None
    assert (dataset.item_table["poster"] == "").sum() == 19
    assert dataset.problems == []


def test_item_column_defaults_to_the_item_tables_id_column_when_both_share_it(tmp_path: Path) -> None:
    ratings = write(tmp_path / "r.csv", "user_id,movie_id\nu1,7\nu2,8\n")
    items = write(tmp_path / "items.csv", "movie_id,title\n7,Seven\n8,Eight\n9,Nine\n")
    dataset = read_catalog(ratings, items)
    assert dataset.items.ids == ("7", "8", "9")
    assert len(dataset.interactions) == 2


def test_without_a_shared_name_the_missing_item_column_is_reported(tmp_path: Path) -> None:
    ratings = write(tmp_path / "r.csv", "user_id,film\nu1,7\n")
    items = write(tmp_path / "items.csv", "movie_id,title\n7,Seven\n")
    with pytest.raises(DataError, match=r"r\.csv lacks the column\(s\) 'item_id' \(item\)"):
        read_catalog(ratings, items)


def test_integer_ids_with_gaps_in_json_lines_keep_their_text_form(tmp_path: Path) -> None:
    lines = '{"user_id": 1, "item_id": 7, "rating": 4.5}\n{"user_id": 2, "item_id": null, "rating": 3}\n'
    ratings = write(tmp_path / "ratings.jsonl", lines)
    items = write(tmp_path / "items.csv", "item_id,title\n7,Seven\n")
    dataset = read_catalog(ratings, items)
    assert dataset.items.ids == ("7",)
    assert dataset.interactions.rating is not None
    assert dataset.interactions.rating.tolist() == [4.5]
    assert "dropped 1 row(s) with an empty user_id or item_id, first at line 2" in dataset.problems[0]
