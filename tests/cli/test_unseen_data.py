"""The owner's check on data nobody tuned on: ``benchmark --data-dir DIR --dataset NAME --seeds N --json OUT``.

With no model and no recipe named, ``benchmark`` chooses the settings on valid as ``train`` does, on every
MMRec-layout variant (interactions only, with feature arrays, with an ``items.csv`` of text, cold-start),
writes the evidence (``auto.json``) and never picks a recipe by the folder's name alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fusionrec.cli import app
from fusionrec.recipes import TUNED_ON, recipe_for_data

runner = CliRunner()
N_USERS, N_ITEMS, PER_USER = 40, 24, 8
PLOTS = ("a haunted house where a ghost haunts a family", "two strangers fall in love at a wedding in Paris")


def write_folder(root: Path, name: str, *, text: bool = False, features: bool = False, cold: bool = False) -> Path:
    """An MMRec-layout folder ``root/name``: two taste groups (even and odd items), ``name.inter`` and,
    as asked, an ``items.csv`` whose overview tells the group, or an ``image_feat.npy`` that does.

    Warm: each user's last two items are valid and test. Cold: items 0-15 train, 16-19 valid, 20-23 test.
    """
    rng = np.random.default_rng(0)
    folder = root / name
    folder.mkdir(parents=True)
    rows = []
    for user in range(N_USERS):
        own = np.arange(user % 2, N_ITEMS, 2)
        for position, item in enumerate(rng.choice(own, PER_USER, replace=False)):
            label = int(np.digitize(item, [16, 20])) if cold else max(0, position - (PER_USER - 3))
            rows.append(f"{user}\t{item}\t{label}")
    (folder / f"{name}.inter").write_text("userID\titemID\tx_label\n" + "\n".join(rows) + "\n")
    if text:
        lines = [f'{i},Film {i},"{PLOTS[i % 2]}, part {i}"' for i in range(N_ITEMS)]
        (folder / "items.csv").write_text("item_id,title,overview\n" + "\n".join(lines) + "\n")
    if features:
        groups = np.eye(2, dtype=np.float32)[np.arange(N_ITEMS) % 2]
        noise = rng.normal(0, 0.1, (N_ITEMS, 6)).astype(np.float32)
        np.save(folder / "image_feat.npy", np.hstack([groups, noise]))
    return folder


def owners_check(data_dir: Path, name: str, out: Path, *extra: str) -> tuple[int, str, Path]:
    """Run the owner's command (plus ``extra``, e.g. ``--protocol cold``); exit code, output, result folder."""
    args = ["benchmark", "--data-dir", str(data_dir), "--dataset", name, "--seeds", "1", "--json", str(out), *extra]
    result = runner.invoke(app, args, env={"COLUMNS": "240"})
    return result.exit_code, result.output, out.with_suffix("") / name / "auto"


def assert_auto_with_evidence(code: int, output: str, folder: Path, out: Path, modalities: list[str]) -> None:
    assert code == 0, output
    assert "choosing the model and its settings on valid (auto)" in output
    evidence = json.loads((folder / "auto.json").read_text())
    result = json.loads(out.read_text())
    assert result["model"] == evidence["chosen"]["model"] and result["recipe"] is None
    assert sorted(evidence["statistics"]["modalities"]) == modalities
    assert all(t["valid"] or t["skipped"] for t in evidence["trials"])


@pytest.mark.parametrize(
    ("variant", "modalities"),
    [
        ({}, []),
        ({"features": True}, ["image"]),
        ({"text": True}, ["text"]),
        ({"text": True, "features": True}, ["image", "text"]),
    ],
    ids=["interactions-only", "features", "text-only", "features-and-text"],
)
def test_the_owners_command_chooses_on_valid_on_every_warm_layout(
    tmp_path: Path, variant: dict[str, bool], modalities: list[str]
) -> None:
    write_folder(tmp_path / "data", "mine", **variant)
    out = tmp_path / "out" / "r.json"
    code, output, folder = owners_check(tmp_path / "data", "mine", out)
    assert_auto_with_evidence(code, output, folder, out, modalities)


def test_the_owners_command_on_a_cold_split_with_text_ranks_with_content(tmp_path: Path) -> None:
    write_folder(tmp_path / "data", "mine", text=True, cold=True)
    out = tmp_path / "out" / "r.json"
    code, output, folder = owners_check(tmp_path / "data", "mine", out, "--protocol", "cold")
    assert_auto_with_evidence(code, output, folder, out, ["text"])
    evidence = json.loads((folder / "auto.json").read_text())
    assert evidence["statistics"]["protocol"] == "cold" and json.loads(out.read_text())["protocol"] == "cold"
    assert {t["model"] for t in evidence["trials"]} == {"fusiongraph", "content-knn"}


def test_the_owners_command_on_a_cold_split_without_content_is_an_error_naming_the_fix(tmp_path: Path) -> None:
    write_folder(tmp_path / "data", "mine", cold=True)
    code, output, _ = owners_check(tmp_path / "data", "mine", tmp_path / "r.json", "--protocol", "cold")
    assert code == 2 and "needs item content" in output and "items.csv" in output


def test_benchmark_chooses_what_train_chooses(tmp_path: Path) -> None:
    write_folder(tmp_path / "data", "mine")
    out = tmp_path / "out" / "r.json"
    _, _, folder = owners_check(tmp_path / "data", "mine", out)
    trained = runner.invoke(app, ["train", "--data-dir", str(tmp_path / "data"), "--dataset", "mine", "--out-dir",
                                  str(tmp_path / "train")])  # fmt: skip
    assert trained.exit_code == 0, trained.output
    by_train = json.loads((tmp_path / "train" / "auto.json").read_text())
    by_benchmark = json.loads((folder / "auto.json").read_text())
    assert by_train["chosen"] == by_benchmark["chosen"]
    assert json.loads((tmp_path / "train" / "result.json").read_text())["model"] == by_benchmark["chosen"]["model"]


def test_a_folder_named_like_a_recipes_data_set_is_not_given_its_recipe(tmp_path: Path) -> None:
    write_folder(tmp_path / "data", "tiktok", features=True)
    out = tmp_path / "out" / "r.json"
    code, output, folder = owners_check(tmp_path / "data", "tiktok", out)
    assert "named like the shared data set 'tiktok'" in output and "--recipe tiktok" in output
    assert_auto_with_evidence(code, output, folder, out, ["image"])


def test_a_recipe_is_matched_by_the_files_it_was_tuned_on(data_dir: Path, tmp_path: Path) -> None:
    assert recipe_for_data(data_dir / "tiktok", "tiktok", "fusiongraph")[0] == "tiktok"
    assert recipe_for_data(data_dir / "ml100k-mm", "ml100k-mm-cold", "fusiongraph")[0] == "ml100k-mm-cold"
    copy = tmp_path / "tiktok"
    shutil.copytree(data_dir / "tiktok", copy)
    assert recipe_for_data(copy, "tiktok", "fusiongraph")[0] == "tiktok"  # the same files, wherever they are
    (copy / "audio_feat.npy").unlink()
    recipe, why = recipe_for_data(copy, "tiktok", "fusiongraph")
    assert recipe is None and "files differ" in why


def test_every_recipe_data_set_has_a_fingerprint() -> None:
    from fusionrec.recipes import recipe_info, recipe_names

    assert {recipe_info(name).dataset for name in recipe_names()} <= set(TUNED_ON)
