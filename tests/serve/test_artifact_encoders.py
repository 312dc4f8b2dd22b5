"""Artifacts record how their features were made (encoder specs), so a server can encode new content the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionrec.data.dataset import Split
from fusionrec.encoders import EncoderSpec
from fusionrec.errors import ArtifactError
from fusionrec.models.artifact import load_artifact, read_manifest, save_artifact
from fusionrec.serve.demo import ContentFactors

TEXT = EncoderSpec(modality="text", template="{title} | {overview}", required=["overview"], batch_size=8)
IMAGE = EncoderSpec(modality="image", column="poster")


@pytest.fixture(scope="module")
def model(serve_split: Split) -> ContentFactors:
    return ContentFactors(dim=8).fit(serve_split)


def test_specs_given_at_save_time_are_in_the_manifest_and_come_back(model: ContentFactors, tmp_path: Path) -> None:
    path = save_artifact(model, tmp_path / "with-specs", encoders=[TEXT, IMAGE])
    assert [entry["modality"] for entry in read_manifest(path)["encoders"]] == ["text", "image"]
    loaded = load_artifact(path)
    assert loaded.encoders == [TEXT, IMAGE]
    assert loaded.encoders[0].options == {"batch_size": 8}


def test_an_artifact_saved_without_specs_has_none(artifact: Path) -> None:
    assert load_artifact(artifact).encoders == []


def test_specs_are_read_from_the_stored_experiment_when_the_manifest_has_none(
    model: ContentFactors, tmp_path: Path
) -> None:
    experiment = {"seeds": [0], "encoders": [TEXT.model_dump(mode="json")]}
    path = save_artifact(model, tmp_path / "trained", extra_files={"experiment.json": json.dumps(experiment)})
    assert read_manifest(path)["encoders"] is None
    assert load_artifact(path).encoders == [TEXT]


@pytest.mark.parametrize(
    "specs",
    [[EncoderSpec(modality="audio")], [TEXT, TEXT]],
    ids=["a modality the data lacks", "two specs for one modality"],
)
def test_specs_that_do_not_match_the_features_are_refused_before_writing(
    model: ContentFactors, tmp_path: Path, specs: list[EncoderSpec]
) -> None:
    with pytest.raises(ArtifactError, match=r"training data has \['image', 'text'\]"):
        save_artifact(model, tmp_path / "bad", encoders=specs)
    assert not list(tmp_path.iterdir())
