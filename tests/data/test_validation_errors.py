"""Every validation finding names the file, the line or count, the value and the fix."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from fusionrec.data import CatalogColumns, Interactions, read_catalog, split_from_file, validate_split
from fusionrec.data.demo import demo_split
from fusionrec.errors import DataError, DataFileError, FeatureShapeError, UnknownIdError

ITEMS = "item_id,title\ni1,One\ni2,Two\ni3,Three\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_unknown_item_ids_name_the_file_the_count_and_the_fix(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id\nu1,i1\nu1,zz\nu2,zz\nu2,yy\n")
    items = write(tmp_path / "items.csv", ITEMS)
    with pytest.raises(UnknownIdError) as caught:
        read_catalog(ratings, items)
    message = str(caught.value)
    assert "ratings.csv: 3 row(s) name 2 item id(s) that are not in items.csv" in message
    assert "['zz', 'yy']" in message
    assert "first at line 3" in message
    assert "add those items to items.csv or pass unknown_items='drop'" in message


def test_unknown_item_ids_can_be_dropped_and_are_counted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id\nu1,i1\nu1,zz\nu2,zz\nu2,i2\n")
    items = write(tmp_path / "items.csv", ITEMS)
    with caplog.at_level(logging.WARNING, logger="fusionrec"):
        dataset = read_catalog(ratings, items, unknown_items="drop")
    assert len(dataset.interactions) == 2
    assert len(dataset.problems) == 1
    assert "2 row(s) name 1 item id(s)" in dataset.problems[0]
    assert "dropped those rows" in dataset.problems[0]
    assert dataset.problems[0] in caplog.text


def test_split_file_with_unknown_ids_names_the_file(tmp_path: Path) -> None:
    split = demo_split()
    inter = write(tmp_path / "fixed.inter", "userID\titemID\tx_label\nu001\tm001\t0\nu001\tnope\t2\n")
    with pytest.raises(UnknownIdError, match=r"fixed\.inter: 1 item id\(s\) are not in the item vocabulary.*'nope'"):
        split_from_file(split.dataset, inter)


def test_duplicates_keep_the_latest_by_timestamp_and_are_reported(tmp_path: Path) -> None:
    text = "user_id,item_id,rating,timestamp\nu1,i1,5,300\nu1,i1,2,100\nu2,i2,4,10\nu1,i1,3,200\nu2,i2,1,20\n"
    ratings = write(tmp_path / "ratings.csv", text)
    dataset = read_catalog(ratings)
    assert dataset.interactions.rating is not None
    assert sorted(dataset.interactions.rating.tolist()) == [1.0, 5.0]  # u1-i1 at t=300, u2-i2 at t=20
    assert dataset.problems == [
        "ratings.csv: 3 duplicate user-item row(s), first repeat at line 3; "
        "kept the latest by timestamp of each pair (duplicates='latest')"
    ]


def test_duplicates_without_timestamps_keep_the_last_row(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id,rating\nu1,i1,5\nu1,i1,2\n")
    dataset = read_catalog(ratings)
    assert dataset.interactions.rating is not None
    assert dataset.interactions.rating.tolist() == [2.0]
    assert "kept the last row of each pair" in dataset.problems[0]


@pytest.mark.parametrize(("policy", "kept"), [("first", 5.0), ("last", 3.0)])
def test_duplicate_policy_is_configurable(tmp_path: Path, policy: str, kept: float) -> None:
    ratings = write(tmp_path / "r.csv", "user_id,item_id,rating,timestamp\nu1,i1,5,300\nu1,i1,3,100\n")
    dataset = read_catalog(ratings, duplicates=policy)  # type: ignore[arg-type]
    assert dataset.interactions.rating is not None
    assert dataset.interactions.rating.tolist() == [kept]


def test_duplicate_policy_error_raises(tmp_path: Path) -> None:
    ratings = write(tmp_path / "r.csv", "user_id,item_id\nu1,i1\nu1,i1\nu1,i1\n")
    with pytest.raises(DataFileError, match=r"r\.csv: 2 duplicate user-item row\(s\), first repeat at line 3; remove"):
        read_catalog(ratings, duplicates="error")


def test_non_numeric_rating_names_the_first_bad_line_and_value(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id,rating\nu1,i1,5\nu2,i1,4\nu3,i1,five\nu4,i1,n/a\n")
    with pytest.raises(DataFileError) as caught:
        read_catalog(ratings)
    message = str(caught.value)
    assert "ratings.csv: 2 value(s) in column 'rating' are not numbers" in message
    assert "first at line 4 (value 'five')" in message
    assert "use numbers" in message


def test_bad_rating_in_json_lines_counts_lines_without_a_header(tmp_path: Path) -> None:
    lines = '{"user_id": "u1", "item_id": "i1", "rating": 4}\n{"user_id": "u1", "item_id": "i2", "rating": "x"}\n'
    ratings = write(tmp_path / "ratings.jsonl", lines)
    with pytest.raises(DataFileError, match=r"first at line 2 \(value 'x'\)"):
        read_catalog(ratings)


def test_bad_timestamp_is_reported_with_its_line(tmp_path: Path) -> None:
    ratings = write(tmp_path / "r.csv", "user_id,item_id,timestamp\nu1,i1,100\nu1,i2,yesterday\n")
    with pytest.raises(DataFileError, match=r"neither numbers nor dates, first at line 3 \(value 'yesterday'\)"):
        read_catalog(ratings)


def test_feature_rows_must_match_the_items(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id\nu1,i1\n")
    items = write(tmp_path / "items.csv", ITEMS)
    np.save(tmp_path / "image_feat.npy", np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(FeatureShapeError) as caught:
        read_catalog(ratings, items, features={"image": tmp_path / "image_feat.npy"})
    assert str(caught.value).startswith("items.csv has 3 items but image_feat.npy has 2 rows (shape (2, 4))")
    assert "one row per item" in str(caught.value)


def test_missing_required_column_names_the_setting_to_change(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user,movie_id\nu1,i1\n")
    with pytest.raises(DataFileError) as caught:
        read_catalog(ratings)
    message = str(caught.value)
    assert "ratings.csv lacks the column(s) 'user_id' (user), 'item_id' (item)" in message
    assert "its columns are ['user', 'movie_id']" in message
    assert "CatalogColumns(user=..., item=...)" in message


def test_min_rating_needs_the_rating_column(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id\nu1,i1\n")
    with pytest.raises(DataFileError, match=r"lacks the column\(s\) 'rating' \(rating\)"):
        read_catalog(ratings, min_rating=4)


def test_missing_item_table_column(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id\nu1,i1\n")
    items = write(tmp_path / "items.csv", ITEMS)
    with pytest.raises(DataFileError, match=r"items\.csv lacks the column\(s\) 'overview' \(text\)"):
        read_catalog(ratings, items, columns=CatalogColumns(text=["title", "overview"]))


def test_empty_file(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "")
    with pytest.raises(DataFileError, match=r"ratings\.csv is empty \(0 bytes\); it needs a header"):
        read_catalog(ratings)


def test_header_without_rows(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id\n")
    with pytest.raises(DataFileError, match=r"ratings\.csv has a header \['user_id', 'item_id'\] but no data rows"):
        read_catalog(ratings)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nothere\.csv does not exist"):
        read_catalog(tmp_path / "nothere.csv")


def test_unreadable_parquet_file(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.parquet", "this is not parquet")
    with pytest.raises(DataFileError, match=r"ratings\.parquet cannot be read as parquet"):
        read_catalog(ratings)


def test_unsupported_suffix(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.xlsx", "x")
    with pytest.raises(DataFileError, match=r"suffix '\.xlsx'; use one of \.csv, \.parquet, \.jsonl"):
        read_catalog(ratings)


def test_rows_with_empty_ids_are_dropped_and_counted(tmp_path: Path) -> None:
    ratings = write(tmp_path / "ratings.csv", "user_id,item_id\nu1,i1\n,i2\nu2,\nu3,i3\n")
    dataset = read_catalog(ratings)
    assert len(dataset.interactions) == 2
    assert dataset.problems == [
        "ratings.csv: dropped 2 row(s) with an empty user_id or item_id, first at line 3; fill in the ids to keep them"
    ]


def test_validate_split_finds_leakage_and_rejects_bad_indices() -> None:
    split = demo_split()
    assert validate_split(split) == []
    leaky = type(split)(split.dataset, split.train, split.train.select(np.arange(5)), split.test)
    assert validate_split(leaky) == ["5 valid user-item pair(s) also occur in train (leakage)"]
    broken = Interactions(np.array([0]), np.array([split.n_items]), split.n_users, split.n_items)
    with pytest.raises(DataError, match=r"split\.test holds 1 item index\(es\) outside 0\.\.399 \(e\.g\. 400\)"):
        validate_split(type(split)(split.dataset, split.train, split.valid, broken))


def test_line_numbers_stay_right_after_rows_were_dropped(tmp_path: Path) -> None:
    text = "user_id,item_id,rating\n,i1,5\nu1,zz,4\nu1,i1,4\nu2,i2,bad\n"
    ratings = write(tmp_path / "ratings.csv", text)
    items = write(tmp_path / "items.csv", ITEMS)
    with pytest.raises(DataFileError, match=r"first at line 5 \(value 'bad'\)"):
        read_catalog(ratings, items, unknown_items="drop")
    write(ratings, "user_id,item_id\n,i1\nu1,i2\nu1,i1\nu1,i1\n")
    dataset = read_catalog(ratings, items)
    assert "first repeat at line 5" in dataset.problems[1]


def test_csv_that_is_not_utf8_text(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(b"user_id,item_id\nu\xff\xfe1,\x80i\n")
    with pytest.raises(DataFileError, match=r"ratings\.csv cannot be read as csv \('utf-8' codec.*check its format"):
        read_catalog(ratings)
