"""Automatic settings: candidates from the data's statistics, chosen on valid, evidence kept."""

from __future__ import annotations

import json

import pytest

from fusionrec.errors import ConfigError
from fusionrec.evaluation.auto import DataStatistics, candidates, choose_settings, data_statistics
from fusionrec.testing.datasets import checkerboard_split

QUICK = {"epochs": 3, "progress": False, "threads": 1}


def _stats(**changes: object) -> DataStatistics:
    base = {
        "n_users": 100,
        "n_items": 50,
        "n_train": 1000,
        "density": 0.2,
        "items_per_user": 10.0,
        "modalities": ("text",),
        "protocol": "warm",
        "n_valid": 100,
    }
    return DataStatistics(**{**base, **changes})  # type: ignore[arg-type]


def test_statistics_read_the_split() -> None:
    split = checkerboard_split()
    stats = data_statistics(split)
    assert (stats.n_users, stats.n_items) == (split.n_users, split.n_items)
    assert stats.n_train == len(split.train.user_index) and 0 < stats.density < 1
    assert set(stats.modalities) == {"image", "text"} and stats.protocol == "warm"


def test_warm_data_tries_the_flagship_ease_and_itemknn() -> None:
    listed, skipped = candidates(_stats())
    models = [c.model for c in listed]
    assert models[0] == "fusiongraph" and "ease" in models and "itemknn" in models and not skipped
    assert listed[0].params == {}  # content is used where the data has it


def test_data_without_content_trains_the_flagship_on_behaviour_only() -> None:
    listed, _ = candidates(_stats(modalities=()))
    assert listed[0].params == {"content": {"modalities": []}}


def test_a_catalog_too_large_for_ease_says_why_it_is_left_out() -> None:
    listed, skipped = candidates(_stats(n_items=100_000))
    assert "ease" not in [c.model for c in listed]
    assert skipped and all("100,000 items" in t.skipped for t in skipped if t.skipped)


def test_cold_start_tries_content_models_only_and_needs_content() -> None:
    listed, _ = candidates(_stats(protocol="cold"))
    assert {c.model for c in listed} == {"fusiongraph", "content-knn"}
    with pytest.raises(ConfigError, match="needs item content"):
        candidates(_stats(protocol="cold", modalities=()))


def test_the_choice_is_the_best_valid_figure_and_keeps_its_evidence() -> None:
    split = checkerboard_split(n_users=40, n_items=30, seed=3)
    choice = choose_settings(split, seed=0, metric="recall@5", train=QUICK)
    ran = [t for t in choice.trials if t.skipped is None]
    assert len(ran) >= 3
    best = max(t.valid["recall@5"] for t in ran)
    chosen = next(t for t in ran if t.model == choice.model and t.params == choice.params)
    assert chosen.valid["recall@5"] == best
    record = json.loads(json.dumps(choice.to_dict(), default=str))
    assert record["chosen"]["model"] == choice.model and len(record["trials"]) == len(choice.trials)


def test_auto_needs_a_valid_part() -> None:
    split = checkerboard_split()
    empty = split.__class__(split.dataset, split.train, split.valid.select(split.valid.user_index < 0), split.test)
    with pytest.raises(ConfigError, match="valid part is empty"):
        choose_settings(empty, train=QUICK)


def test_a_second_stage_is_kept_when_it_gains_on_both_valid_halves() -> None:
    from fusionrec.evaluation.auto import stage_evidence
    from fusionrec.models import build_model
    from tests.models.test_staged import drifting_split

    split = drifting_split(n_users=400)
    evidence = stage_evidence(build_model("pop").fit(split), split, k=5, seed=0)
    assert evidence["adopted"] and len(evidence["folds"]) == 2
    assert all(fold["recall@5"] > 0 for fold in evidence["folds"])


def test_a_second_stage_is_not_judged_on_too_few_valid_users() -> None:
    from fusionrec.evaluation.auto import stage_evidence
    from fusionrec.models import build_model

    split = checkerboard_split()
    evidence = stage_evidence(build_model("pop").fit(split), split, k=5, seed=0)
    assert not evidence["adopted"] and "valid users" in evidence["why"]


def test_the_winners_fit_is_reused_for_its_seed_and_scores_as_a_fresh_fit() -> None:
    from fusionrec.evaluation.benchmark import fit_and_evaluate

    split = checkerboard_split(n_users=40, n_items=30, seed=3)
    choice = choose_settings(split, seed=0, metric="recall@5", train=QUICK)
    reused = choice.first_fit(0)
    assert reused is not None and choice.first_fit(1) is None
    assert all(t.fitted is None for t in choice.trials)  # only the winner's fit is held
    train = {**QUICK, **choice.train}
    model, run = fit_and_evaluate(split, choice.model, choice.params, train, 0, (5,), ("recall",), fitted=reused)
    _, fresh = fit_and_evaluate(split, choice.model, choice.params, train, 0, (5,), ("recall",))
    assert model is reused[0] and run.test.summary() == fresh.test.summary()
    assert run.timing["fit_seconds"] == reused[1]
