"""Artifacts record how their features were made (encoder specs), so a server can encode new content the same way;
content it cannot encode the same way is refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionrec.data.dataset import Split
from fusionrec.encoders import EncoderSpec
from fusionrec.errors import ArtifactError
from fusionrec.models.artifact import load_artifact, read_manifest, save_artifact
from fusionrec.serve.demo import ContentFactors
from tests.serve.conftest import API_KEY

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


@pytest.mark.parametrize(
    ("spec", "content", "expected"),
    [
        (EncoderSpec(modality="text", name="tfidf", template="{title}"), {"text": {"title": "x"}}, "whole training"),
        (EncoderSpec(modality="image", name="color-histogram"), {"image": {"path": "posters/i1.png"}}, "gives 512"),
    ],
    ids=["corpus-dependent encoder", "encoder output of another size"],
)
def test_content_the_artifacts_encoders_cannot_reproduce_is_409(
    model: ContentFactors, tmp_path: Path, spec: EncoderSpec, content: dict[str, object], expected: str
) -> None:
    from fastapi.testclient import TestClient

    from fusionrec.serve.app import create_app
    from fusionrec.serve.settings import ServeSettings

    path = save_artifact(model, tmp_path / "specs", encoders=[spec])
    settings = ServeSettings(artifact=path, store_url=f"sqlite:///{tmp_path / 'events.sqlite3'}", api_key=API_KEY)
    with TestClient(create_app(settings)) as client:
        response = client.put("/v1/items/new", json={"content": content}, headers={"X-API-Key": API_KEY})
    assert response.status_code == 409, response.text
    assert expected in response.json()["error"]["message"]
