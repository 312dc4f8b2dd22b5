"""The experiment step: an [item_profiles] table gives the dataset the modality "profile" before training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionrec.config import load_config
from fusionrec.errors import ConfigError
from fusionrec.llm.item_step import attach_item_profiles
from fusionrec.llm.user_settings import ItemProfileSettings, UserProfileSettings
from fusionrec.llm.user_step import attach_user_profiles, generator_for
from tests.llm.test_user_profiles import ScriptedGenerator, make_split

SUMMARIES = {"0": "A heist thriller in Los Angeles.", "2": "A crew meets a creature in deep space."}


def write_item_profiles(path: Path) -> Path:
    """Profiles for items 0 and 2; item 1 failed; the other items are absent from the file."""
    lines = [{"item_id": key, "profile": {"summary": text, "themes": ["tension"]}} for key, text in SUMMARIES.items()]
    lines.append({"item_id": "1", "error": "profile generation failed: empty output"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_profiles_file_becomes_the_masked_modality_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONREC_CACHE", str(tmp_path / "cache"))
    split = make_split()
    settings = ItemProfileSettings(profiles=write_item_profiles(tmp_path / "items.jsonl"), encoder="tfidf")
    report, modality = attach_item_profiles(split, settings)
    values, mask = split.dataset.features["profile"], split.dataset.feature_mask("profile")
    assert mask.tolist() == [True, False, True, False, False, False]
    assert sorted(report.profiles) == ["0", "2"]
    assert modality.masked["profile generation failed: empty output"] == ["1"]
    assert (values[~mask] == 0).all() and (abs(values[mask]).sum(axis=1) > 0).all()


def test_user_prompts_quote_the_experiments_item_summaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONREC_CACHE", str(tmp_path / "cache"))
    split = make_split()
    items, _ = attach_item_profiles(split, ItemProfileSettings(profiles=write_item_profiles(tmp_path / "i.jsonl")))
    generator = ScriptedGenerator()
    monkeypatch.setattr("fusionrec.llm.user_step.generator_for", lambda settings, cache: generator)
    attach_user_profiles(split, UserProfileSettings(encoder="tfidf", cache=tmp_path / "llm.sqlite"), items)
    prompts = "\n".join(request.prompt for request in generator.requests)
    assert SUMMARIES["0"] in prompts and SUMMARIES["2"] in prompts


def test_the_config_reads_an_item_profiles_table(tmp_path: Path) -> None:
    file = tmp_path / "experiment.toml"
    file.write_text('[data]\ndataset = "x"\n\n[item_profiles]\nmax_tokens = 120\nencoder = "tfidf"\n')
    assert load_config(file).item_profiles == ItemProfileSettings(max_tokens=120, encoder="tfidf")
    file.write_text('[data]\ndataset = "x"\n\n[item_profiles]\nmax_items = 3\n')
    with pytest.raises(ConfigError, match="max_items"):
        load_config(file)


def test_a_server_url_chooses_the_http_backend() -> None:
    generator = generator_for(ItemProfileSettings(llm_url="http://127.0.0.1:9", llm_model="m"), None)
    assert type(generator).__name__ == "OpenAIGenerator"
