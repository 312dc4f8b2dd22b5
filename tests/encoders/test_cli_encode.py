"""``fusionrec encode`` end to end on a small catalog folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from fusionrec.cli import app

CONFIG = """
[[encoders]]
modality = "text"
name = "tfidf"
template = "{title} | {genres} | {overview}"
required = ["overview"]

[[encoders]]
modality = "image"
name = "color-histogram"
column = "poster"
"""


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["encode", *args])
    assert result.exit_code == 0, result.output
    return result.stdout  # the JSON and the report; log lines go to standard error


def test_encode_reports_and_writes_features(catalog: Path, tmp_path: Path) -> None:
    config = tmp_path / "exp.toml"
    config.write_text(CONFIG)
    out = tmp_path / "features"
    common = (str(catalog), "--config", str(config), "--cache-dir", str(tmp_path / "cache"))
    output = run(*common, "--out", str(out))
    assert "text: 2 masked, no overview (e.g. m2, m6)" in output
    assert "image: 1 masked, corrupt image (e.g. m4)" in output
    assert "items/s" in output
    assert np.load(out / "image_feat.npy").shape == (8, 512)
    assert np.load(out / "text_mask.npy").tolist() == [True, True, False, True, True, True, False, True]

    again = json.loads(run(*common, "--json"))
    image = next(m for m in again["modalities"] if m["modality"] == "image")
    assert (image["n_encoded"], image["n_cached"], image["n_masked"]) == (0, 4, 4)
    assert image["masked"]["file not found"] == {"count": 1, "examples": ["m7"]}


def test_one_modality_and_a_bad_config_exit_cleanly(catalog: Path, tmp_path: Path) -> None:
    config = tmp_path / "exp.toml"
    config.write_text(CONFIG)
    output = run(str(catalog), "--config", str(config), "--modality", "image", "--no-cache", "--json")
    assert [m["modality"] for m in json.loads(output)["modalities"]] == ["image"]
    config.write_text('[[encoders]]\nmodality = "text"\nname = "bert-from-the-internet"\n')
    result = CliRunner().invoke(app, ["encode", str(catalog), "--config", str(config)])
    assert result.exit_code == 2
    assert "unknown encoder 'bert-from-the-internet'" in result.output


def test_encode_logs_progress_lines_when_output_is_not_a_terminal(catalog: Path, tmp_path: Path) -> None:
    config = tmp_path / "exp.toml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["encode", str(catalog), "--config", str(config), "--modality", "text",
                                      "--no-cache"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "encoding text: 8 / 8 items" in result.stderr  # a progress bar would show nothing off a terminal
