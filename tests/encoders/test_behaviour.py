"""A text encoder tuned on behaviour: pairs from training interactions pull co-taken items' texts together."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from fusionrec.data import demo_split
from fusionrec.encoders import behaviour_training
from fusionrec.encoders.behaviour import (
    BehaviourTuning,
    behaviour_tuned_specs,
    co_interaction_pairs,
    parse_tuning,
    tune_text_encoder,
)
from fusionrec.encoders.config import EncoderSpec
from fusionrec.encoders.text import SentenceTransformerConfig, SentenceTransformerEncoder
from fusionrec.errors import ConfigError, EncoderError

TINY = {"max_pairs": 48, "batch_size": 16, "max_seq_length": 32, "lr": 1e-4}


def test_pairs_are_distinct_items_of_one_user_and_repeat_with_the_seed() -> None:
    users = np.array([0, 0, 0, 1, 1, 2])
    items = np.array([5, 6, 7, 5, 8, 9])
    pairs = co_interaction_pairs(users, items, max_pairs=50, seed=3, per_user=3)
    owner = {0: {5, 6, 7}, 1: {5, 8}}
    assert len(pairs) == 4 and all(a != b for a, b in pairs)
    assert all({a, b} <= owner[0] or {a, b} <= owner[1] for a, b in pairs)  # user 2 has one item: no pair
    assert np.array_equal(pairs, co_interaction_pairs(users, items, max_pairs=50, seed=3, per_user=3))


def test_settings_are_checked_with_the_key_named() -> None:
    assert parse_tuning(True) == BehaviourTuning.model_validate({})
    with pytest.raises(ConfigError, match="epoch"):
        parse_tuning({"epoch": 2})


def test_tuning_pulls_co_taken_items_together_and_is_cached(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=behaviour_training.__name__)
    monkeypatch.setattr(behaviour_training, "PROGRESS_EVERY_S", 0.0)  # every step reports its progress
    split = demo_split()
    table = split.dataset.item_table
    assert table is not None
    texts = [f"{t} | {g} | {o}" for t, g, o in zip(table["title"], table["genres"], table["overview"], strict=True)]
    train = split.train
    config = BehaviourTuning.model_validate(TINY)
    pairs = co_interaction_pairs(train.user_index, train.item_index, config.max_pairs, config.seed)
    folder = tune_text_encoder(texts, pairs, config, tmp_path)
    assert "step 1/3" in caplog.text and "step 3/3" in caplog.text  # progress within the epoch, not only after it
    stamp = (folder / "fusionrec-tuning.json").stat().st_mtime_ns
    assert tune_text_encoder(texts, pairs, config, tmp_path) == folder  # the same data: reused, not retrained
    assert (folder / "fusionrec-tuning.json").stat().st_mtime_ns == stamp

    def pair_cosine(model: str) -> float:
        encoder = SentenceTransformerEncoder(SentenceTransformerConfig(model=model, max_seq_length=32))
        encoder.ensure_loaded()
        left, right = (encoder.embed_texts([texts[i] for i in pairs[:, side]]) for side in (0, 1))  # unit rows
        return float(np.mean(np.sum(left * right, axis=1)))

    assert pair_cosine(str(folder)) > pair_cosine("all-MiniLM-L6-v2") + 0.02


def test_a_tuning_without_usable_pairs_says_why(tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="no pair"):
        tune_text_encoder(["", "b"], np.array([[0, 1]]), BehaviourTuning.model_validate(TINY), tmp_path)


def test_a_text_spec_asking_for_tuning_becomes_a_spec_of_the_tuned_model(tmp_path: Path) -> None:
    split = demo_split()
    tiny = {**TINY, "max_pairs": 16}
    spec = EncoderSpec(modality="text", name="minilm", template="{title} | {overview}", behaviour_tuning=tiny)
    (tuned,) = behaviour_tuned_specs([spec], split, tmp_path)
    assert tuned.encoder_name == "sentence-transformer" and tuned.template == "{title} | {overview}"
    assert Path(tuned.options["model"]).parent == tmp_path / "behaviour-tuned"
    assert "behaviour_tuning" not in tuned.options
    with pytest.raises(ConfigError, match="text specs only"):
        behaviour_tuned_specs([EncoderSpec(modality="image", column="poster", behaviour_tuning=True)], split)
