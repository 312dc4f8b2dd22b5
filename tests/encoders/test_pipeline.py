"""encode_dataset on a small raw catalog: masks with reasons, the cache across runs, specs from TOML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fusionrec.encoders import (
    EncoderSpec,
    default_specs,
    encode_dataset,
    load_specs,
    parse_specs,
    write_features,
)
from fusionrec.encoders.loading import read_items
from fusionrec.errors import ConfigError

TEXT = EncoderSpec(modality="text", name="tfidf", template="{title} | {genres} | {overview}", required=["overview"])
IMAGE = EncoderSpec(modality="image", name="color-histogram", column="poster", bins=4)


def test_features_masks_and_reasons(catalog: Path, tmp_path: Path) -> None:
    dataset = read_items(catalog)
    report = encode_dataset(dataset, [TEXT, IMAGE], tmp_path / "cache")
    assert dataset.features["text"].shape[0] == 8 and dataset.features["image"].shape == (8, 64)
    assert dataset.feature_mask("text").tolist() == [True, True, False, True, True, True, False, True]
    assert dataset.feature_mask("image").tolist() == [True, True, True, False, False, False, True, False]
    assert report["text"].masked == {"no overview": ["m2", "m6"]}
    assert report["image"].masked == {
        "no poster": ["m3"],
        "corrupt image": ["m4"],
        "empty file": ["m5"],
        "file not found": ["m7"],
    }
    assert not dataset.features["image"][~dataset.feature_mask("image")].any()
    assert "masked 2: no overview (e.g. m2, m6)" in report.to_text()


def test_second_run_reads_the_cache_and_changed_items_are_re_encoded(catalog: Path, tmp_path: Path) -> None:
    first = read_items(catalog)
    encode_dataset(first, [IMAGE], tmp_path / "cache")
    second = read_items(catalog)
    report = encode_dataset(second, [IMAGE], tmp_path / "cache")
    assert (report["image"].n_encoded, report["image"].n_cached) == (0, 4)
    assert report["image"].masked["corrupt image"] == ["m4"]  # the failure was cached too
    np.testing.assert_array_equal(first.features["image"], second.features["image"])
    Image.new("RGB", (30, 40), (0, 200, 0)).save(catalog / "posters" / "0.jpg")  # a new poster for m0
    third = read_items(catalog)
    report = encode_dataset(third, [IMAGE], tmp_path / "cache")
    assert (report["image"].n_encoded, report["image"].n_cached) == (1, 3)
    assert not np.allclose(third.features["image"][0], first.features["image"][0])
    np.testing.assert_array_equal(third.features["image"][1:], first.features["image"][1:])


def test_an_interrupted_run_keeps_finished_chunks(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fusionrec.encoders import pipeline
    from fusionrec.encoders.image import ColorHistogramEncoder

    monkeypatch.setattr(pipeline, "chunk_size", lambda encoder: 2)
    calls = {"n": 0}
    original = ColorHistogramEncoder.encode

    def crash_on_second_chunk(self: Any, batch: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(ColorHistogramEncoder, "encode", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        encode_dataset(read_items(catalog), [IMAGE], tmp_path / "cache")
    monkeypatch.setattr(ColorHistogramEncoder, "encode", original)
    report = encode_dataset(read_items(catalog), [IMAGE], tmp_path / "cache")
    assert report["image"].n_cached == 2  # the first chunk survived the interruption
    assert report["image"].n_encoded == 2


def test_without_cache_nothing_is_written(catalog: Path, tmp_path: Path) -> None:
    encode_dataset(read_items(catalog), [IMAGE], tmp_path / "cache", use_cache=False)
    assert not (tmp_path / "cache").exists()


def test_precomputed_vectors_are_a_modality(tmp_path: Path) -> None:
    np.save(tmp_path / "image_feat.npy", np.array([[1, 2], [np.nan, 0], [0, 0]], dtype=np.float32))
    table = pd.DataFrame({"item_id": ["a", "b", "c"], "vector": ["[0.5, 1.5]", "", "1 2 3"]})
    table.to_csv(tmp_path / "items.csv", index=False)
    dataset = read_items(tmp_path)
    specs = [
        EncoderSpec(modality="given", name="precomputed", path="image_feat.npy", zero_is_missing=True),
        EncoderSpec(modality="column", name="precomputed", column="vector"),
    ]
    report = encode_dataset(dataset, specs, tmp_path / "cache")
    assert dataset.feature_mask("given").tolist() == [True, False, False]
    assert report["given"].masked == {"non-finite values": ["b"], "all-zero vector": ["c"]}
    assert dataset.features["column"].tolist()[0] == [0.5, 1.5]
    assert report["column"].masked == {"no vector": ["b"], "wrong length (expected 2)": ["c"]}


def test_written_features_follow_item_order(catalog: Path, tmp_path: Path) -> None:
    dataset = read_items(catalog)
    report = encode_dataset(dataset, [IMAGE], tmp_path / "cache")
    written = write_features(dataset, tmp_path / "out", report=report)
    assert {p.name for p in written} == {"image_feat.npy", "image_mask.npy", "items.txt", "encode_report.json"}
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "image_feat.npy"), dataset.features["image"])
    assert np.load(tmp_path / "out" / "image_mask.npy").sum() == 4
    assert (tmp_path / "out" / "items.txt").read_text().split() == [f"m{i}" for i in range(8)]


def test_default_specs_follow_the_columns() -> None:
    specs = default_specs(["item_id", "title", "genres", "overview", "poster", "trailer"])
    assert [(s.modality, s.encoder_name, s.column) for s in specs] == [
        ("text", "minilm", None),
        ("image", "efficientnet-lite0", "poster"),
        ("video", "frames", "trailer"),
    ]
    assert specs[0].template == "{title} | {genres} | {overview}" and specs[0].required == ["overview"]


def test_specs_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(
        '[[encoders]]\nmodality = "text"\nname = "tfidf"\ntemplate = "{title}"\nmax_features = 64\n\n'
        '[[encoders]]\nmodality = "clip"\nname = "frames"\ncolumn = "trailer"\naudio = "mel"\nn_frames = 4\n'
    )
    specs = load_specs(path)
    assert [s.modality for s in specs] == ["text", "clip", "clip_audio"]
    assert specs[0].build().config.max_features == 64
    assert specs[1].build().config.n_frames == 4


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"modality": "text", "name": "no-such-encoder"}, "unknown encoder 'no-such-encoder'"),
        ({"modality": "text", "name": "tfidf", "max_featurs": 3}, "max_featurs"),
        ({"modality": "text", "name": "efficientnet-lite0"}, "reads image but modality is 'text'"),
        ({"modality": "bad name!"}, "must be a simple name"),
        ({"modality": "poster"}, "needs name="),
    ],
)
def test_bad_specs_say_what_is_wrong(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_specs([entry])


def test_duplicate_modalities_are_refused() -> None:
    with pytest.raises(ConfigError, match="more than one encoder"):
        parse_specs([{"modality": "text", "name": "tfidf"}, {"modality": "text", "name": "minilm"}])


def test_missing_column_lists_the_available_ones(catalog: Path, tmp_path: Path) -> None:
    spec = EncoderSpec(modality="image", name="color-histogram", column="cover")
    with pytest.raises(ConfigError, match="column 'cover' is not in the item table"):
        encode_dataset(read_items(catalog), [spec], tmp_path / "cache")


def test_a_table_with_nothing_to_encode_says_so(tmp_path: Path) -> None:
    from fusionrec.encoders import resolve_specs

    pd.DataFrame({"item_id": ["a"], "price": ["3"]}).to_csv(tmp_path / "items.csv", index=False)
    with pytest.raises(ConfigError, match="nothing to encode"):
        resolve_specs(read_items(tmp_path))


def test_free_text_columns_like_tags_join_the_template_and_the_others_are_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = pd.DataFrame(
        {
            "item_id": ["1", "2"],
            "title": ["Heat", "Alien"],
            "tags": ["heist, los angeles", "space, horror"],
            "year": ["1995", "1979"],
        }
    )
    with caplog.at_level("INFO", logger="fusionrec"):
        specs = default_specs(list(table.columns), table)
    assert specs[0].template == "{title} | {tags}"
    assert "year" in caplog.text and "item_id" in caplog.text  # left out, with the reason
