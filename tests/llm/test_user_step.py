"""The experiment step: a [user_profiles] table gives the split its user content before training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrec.config import load_config
from fusionrec.errors import ConfigError
from fusionrec.llm import profile_users, write_user_profiles
from fusionrec.llm.user_settings import UserProfileSettings
from fusionrec.llm.user_step import attach_user_profiles
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.models.popularity import Popularity
from tests.llm.test_user_profiles import ScriptedGenerator, make_split


def test_a_profiles_file_becomes_masked_user_content(tmp_path: Path) -> None:
    split = make_split()
    path = write_user_profiles(profile_users(split, ScriptedGenerator(broken=["b"])), tmp_path / "users.jsonl")
    report = attach_user_profiles(split, UserProfileSettings(profiles=path, encoder="tfidf"))
    assert sorted(report.profiles) == ["a", "c"]
    assert split.user_content is not None and split.user_content.mask.tolist() == [True, False, True, False]


def test_the_config_reads_a_user_profiles_table(tmp_path: Path) -> None:
    file = tmp_path / "experiment.toml"
    file.write_text('[data]\ndataset = "x"\n\n[user_profiles]\nmax_tokens = 32\nllm_gguf = "smollm2"\n')
    config = load_config(file)
    assert config.user_profiles == UserProfileSettings(max_tokens=32)
    file.write_text('[data]\ndataset = "x"\n\n[user_profiles]\nmax_token = 32\n')
    with pytest.raises(ConfigError, match="max_token"):
        load_config(file)


def test_an_artifact_keeps_the_user_content(tmp_path: Path) -> None:
    split = make_split()
    write = write_user_profiles(profile_users(split, ScriptedGenerator(broken=["b"])), tmp_path / "users.jsonl")
    attach_user_profiles(split, UserProfileSettings(profiles=write, encoder="tfidf"))
    assert split.user_content is not None
    folder = save_artifact(Popularity().fit(split), tmp_path / "artifact")
    restored = load_artifact(folder).split.user_content
    assert restored is not None
    np.testing.assert_array_equal(restored.values, split.user_content.values)
    np.testing.assert_array_equal(restored.mask, split.user_content.mask)
    assert restored.texts == split.user_content.texts and restored.text(1) is None  # user b failed: masked
    assert restored.text(0) and "Heat (1995)" in restored.text(0)
