"""Artifacts: save/load gives identical scores; tampered, partial, incompatible or untrusted ones are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusionrec.data.dataset import Split
from fusionrec.errors import ArtifactError
from fusionrec.models.artifact import load_artifact, read_manifest, save_artifact, verify_artifact
from fusionrec.models.training import TorchRecommender, TrainConfig
from fusionrec.serve.demo import ContentFactors


class TinyMF(TorchRecommender):
    """A 4-d BPR matrix factorisation: the smallest TorchRecommender (state saved from its state_dict)."""

    name = "tiny-mf"

    def __init__(self, dim: int = 4, train_config: TrainConfig | dict[str, Any] | None = None) -> None:
        super().__init__(train_config=train_config, dim=dim)
        self.dim = dim

    def build(self, split: Split, rng: np.random.Generator) -> Any:
        import torch

        module = torch.nn.Module()
        module.users = torch.nn.Embedding(split.n_users, self.dim)
        module.items = torch.nn.Embedding(split.n_items, self.dim)
        return module

    def batches(self, split: Split, rng: np.random.Generator) -> Any:
        negatives = rng.integers(0, split.n_items, len(split.train))
        return [(split.train.user_index, split.train.item_index, negatives)]

    def loss(self, module: Any, batch: Any) -> Any:
        import torch

        users, positives, negatives = (torch.as_tensor(a) for a in batch)
        user = module.users(users)
        margin = (user * module.items(positives)).sum(1) - (user * module.items(negatives)).sum(1)
        return -torch.nn.functional.logsigmoid(margin).mean()

    def embed(self, module: Any) -> tuple[np.ndarray, np.ndarray]:
        return module.users.weight.detach().numpy().copy(), module.items.weight.detach().numpy().copy()


def with_valid(split: Split) -> Split:
    """The same data with every fifth interaction moved to valid (the training loop evaluates on valid)."""
    rows = np.arange(len(split.train))
    valid = rows % 5 == 0
    return Split(split.dataset, split.train.select(~valid), split.train.select(valid), split.test)


def all_scores(model: Any, n_users: int) -> np.ndarray:
    return np.asarray(model.score_users(np.arange(n_users)))


def test_content_model_round_trip_gives_identical_scores(artifact: Path, serve_split: Split) -> None:
    loaded = load_artifact(artifact)
    original = ContentFactors(dim=8).fit(serve_split)
    np.testing.assert_array_equal(
        all_scores(loaded.model, serve_split.n_users), all_scores(original, serve_split.n_users)
    )
    assert loaded.split.dataset.items.ids == serve_split.dataset.items.ids
    assert loaded.split.dataset.modalities == ["image", "text"]
    assert list(loaded.split.dataset.item_table["title"]) == list(serve_split.dataset.item_table["title"])
    assert loaded.item_vectors is not None and loaded.item_vectors.shape == (serve_split.n_items, 8)
    assert len(loaded.split.valid) == len(loaded.split.test) == 0


def test_torch_model_round_trip_gives_identical_scores(serve_split: Split, tmp_path: Path) -> None:
    config = {"epochs": 3, "batch_size": 4096, "progress": False, "threads": 1}
    model = TinyMF(train_config=config).fit(with_valid(serve_split))
    path = save_artifact(model, tmp_path / "tiny")
    loaded = load_artifact(path, trusted_modules=("fusionrec.", TinyMF.__module__))
    np.testing.assert_array_equal(all_scores(loaded.model, serve_split.n_users), all_scores(model, serve_split.n_users))
    manifest = read_manifest(path)
    assert manifest["component"].endswith(":TinyMF")
    assert manifest["train_config"]["epochs"] == 3
    assert set(manifest["versions"]) == {"fusionrec", "numpy", "torch", "python"}


def test_manifest_lists_every_file_with_its_checksum(artifact: Path) -> None:
    manifest = verify_artifact(artifact)
    on_disk = {p.name for p in artifact.iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    assert {"state.safetensors", "data.safetensors", "vocab.json", "items.json", "vectors.safetensors"} <= on_disk
    assert len(manifest["data_fingerprint"]) == 64


@pytest.fixture
def copy(artifact: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(artifact, tmp_path / "copy"))


def test_a_tampered_byte_is_refused(copy: Path) -> None:
    path = copy / "state.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"state\.safetensors has sha256 .* changed or damaged"):
        load_artifact(copy)


def test_a_deleted_file_is_refused(copy: Path) -> None:
    (copy / "vocab.json").unlink()
    with pytest.raises(ArtifactError, match=r"vocab\.json is missing .* partial"):
        load_artifact(copy)


def test_a_folder_without_manifest_is_refused(copy: Path) -> None:
    (copy / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match=r"no manifest\.json"):
        load_artifact(copy)


def edit_manifest(folder: Path, **changes: Any) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(changes)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_an_other_format_version_is_refused(copy: Path) -> None:
    edit_manifest(copy, format_version=99)
    with pytest.raises(ArtifactError, match="format_version 99 but this fusionrec reads format 1"):
        load_artifact(copy)


@pytest.mark.parametrize("component", ["os:system", "builtins:dict", "fusionrec.models.base:top_k", "nonsense"])
def test_only_recommender_classes_from_trusted_modules_are_built(copy: Path, component: str) -> None:
    edit_manifest(copy, component=component)
    with pytest.raises(ArtifactError, match="component"):
        load_artifact(copy)


def test_a_file_name_outside_the_folder_is_refused(copy: Path) -> None:
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"]["../outside.json"] = "0" * 64
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="not a plain file name"):
        verify_artifact(copy)


def test_saving_over_an_existing_folder_needs_overwrite(artifact: Path, serve_split: Split, tmp_path: Path) -> None:
    model = load_artifact(artifact).model
    target = save_artifact(model, tmp_path / "again")
    with pytest.raises(ArtifactError, match="already exists"):
        save_artifact(model, target)
    assert save_artifact(model, target, overwrite=True) == target
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".again.partial")]


def test_an_unfitted_model_cannot_be_saved(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not fitted"):
        save_artifact(ContentFactors(), tmp_path / "unfitted")
    assert not (tmp_path / "unfitted").exists()


def test_extra_files_are_stored_and_checksummed(artifact: Path, tmp_path: Path) -> None:
    model = load_artifact(artifact).model
    path = save_artifact(model, tmp_path / "extra", extra_files={"experiment.json": '{"seed": 0}'})
    assert "experiment.json" in verify_artifact(path)["files"]
    (path / "experiment.json").write_text('{"seed": 1}')
    with pytest.raises(ArtifactError, match=r"experiment\.json has sha256"):
        verify_artifact(path)
    with pytest.raises(ArtifactError, match="plain file name"):
        save_artifact(model, tmp_path / "bad", extra_files={"../x.json": "{}"})
