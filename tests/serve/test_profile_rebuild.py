"""A user's written profile is rebuilt from their events: text, stored version, and the vector the next request uses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from fusionrec.data import Dataset, Interactions, Split, Vocabulary
from fusionrec.data.splits import random_split
from fusionrec.encoders import encode_dataset
from fusionrec.encoders.config import EncoderSpec
from fusionrec.llm.user_profiles import UserProfile, UserProfileReport, training_histories, user_content
from fusionrec.llm.user_template import template_user_profile
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.models.fusion_graph import FusionGraph
from fusionrec.serve.app import create_app
from fusionrec.serve.catalog import ItemCatalog
from fusionrec.serve.service import RecommendationService
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import EventStore, NewEvent
from fusionrec.serve.user_rebuild import profile_builder
from tests.llm.test_user_profiles import ScriptedGenerator
from tests.serve.conftest import API_KEY

pytest.importorskip("sentence_transformers")

WORDS = {"horror": "Ghost Night", "romance": "Paris Love", "science fiction": "Star Voyage"}
PLOTS = {
    "horror": "a vengeful ghost haunts a house",
    "romance": "two strangers fall in love",
    "science fiction": "astronauts travel to a distant galaxy",
}
TEXT = EncoderSpec(modality="text", name="minilm", template="{title} | {genres} | {overview}")
TINY = {"epochs": 25, "batch_size": 32, "progress": False, "seed": 3, "threads": 1}
HORROR_USER = "u0"  # users u0, u3, u6... like horror
# a projection that starts large enough for a profile to move a user in a model this small and short-trained
USER_PATH = {"align_weight": 1.0, "init_std": 5.0}


def genre_split(cache: Path) -> tuple[Split, dict[str, str]]:
    """60 films in three genres; 90 users who each like one genre; MiniLM text features and template profiles."""
    rng = np.random.default_rng(0)
    rows, genre_of = [], {}
    for genre, word in WORDS.items():
        for i in range(20):
            item = f"{genre[:3]}{i:02d}"
            genre_of[item] = genre
            rows.append({"item_id": item, "title": f"{word} {i}", "genres": genre, "overview": PLOTS[genre]})
    ids = [row["item_id"] for row in rows]
    users, items = [], []
    for user in range(90):
        liked = [i for i, item in enumerate(ids) if genre_of[item] == list(WORDS)[user % 3]]
        for item in rng.choice(liked, size=8, replace=False):
            users.append(user)
            items.append(int(item))
    dataset = Dataset(
        name="genres",
        users=Vocabulary.from_ids([f"u{u}" for u in range(90)], kind="user"),
        items=Vocabulary.from_ids(ids, kind="item"),
        interactions=Interactions(np.array(users), np.array(items), 90, len(ids)),
        item_table=pd.DataFrame(rows),
    )
    encode_dataset(dataset, [TEXT], cache)
    split = random_split(dataset, ratios=(0.8, 0.1, 0.1), seed=0)
    report = UserProfileReport([str(u) for u in dataset.users.ids], "template", "template")
    for user_id, history in zip(report.user_ids, training_histories(split), strict=True):
        profile = template_user_profile(history)
        if profile is not None:
            report.profiles[user_id] = profile
    split.user_content = user_content(split, report, encoder="minilm", cache_dir=cache)
    return split, genre_of


@pytest.fixture(scope="module")
def flagship_artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A tiny FusionGraph trained with user profiles (its experiment.json names their encoder)."""
    split, genre_of = genre_split(tmp_path_factory.mktemp("cache"))
    model = FusionGraph(embedding_dim=16, train_config=TINY, user_content=USER_PATH).fit(split)
    experiment = json.dumps({"user_profiles": {"encoder": "minilm", "max_items": 6, "max_tokens": 40}})
    folder = tmp_path_factory.mktemp("artifacts") / "flagship"
    return save_artifact(model, folder, encoders=[TEXT], extra_files={"experiment.json": experiment}), genre_of


@pytest.fixture
def service(flagship_artifact: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[RecommendationService]:
    settings = ServeSettings(
        artifact=flagship_artifact[0],
        store_url=f"sqlite:///{tmp_path / 'events.sqlite3'}",
        api_key=API_KEY,
        sync_interval_s=0,
        profile_rebuild_delay_s=3600,  # nothing runs on its own: each test settles the queue with run_pending
    )
    built = RecommendationService(load_artifact(settings.artifact), EventStore(settings.store_url), settings)
    yield built
    built.close()


def unseen(service: RecommendationService, genre: str, genre_of: dict[str, str], n: int) -> list[str]:
    """``n`` items of ``genre`` the horror user has not seen."""
    seen = {service.catalog.item_id(i) for i in service.user_state(HORROR_USER).seen}
    return [item for item, g in genre_of.items() if g == genre and item not in seen][:n]


def genre_count(service: RecommendationService, genre_of: dict[str, str], genre: str) -> int:
    """How many of the horror user's top 10 are of ``genre``."""
    items = service.recommend_user(HORROR_USER, 10).items
    return sum(genre_of[service.catalog.item_id(int(i))] == genre for i in items)


def like(service: RecommendationService, items: list[str], user: str = HORROR_USER) -> None:
    for item in items:
        service.record_event(NewEvent(user, item, "like"))


def test_likes_rebuild_the_profile_from_the_new_history_and_move_the_user(
    service: RecommendationService, flagship_artifact: tuple[Path, dict[str, str]]
) -> None:
    genre_of = flagship_artifact[1]
    liked = unseen(service, "science fiction", genre_of, 4)
    assert service.user_profile(HORROR_USER).source == "training"
    like(service, liked)
    assert service.user_profile(HORROR_USER).rebuild == "pending"  # queued, not run by the request
    before = service.user_state(HORROR_USER).query
    top_before = genre_count(service, genre_of, "science fiction")
    service.profiles.queue.run_pending()
    view = service.user_profile(HORROR_USER)
    assert view.source == "events" and view.rebuild == "idle" and view.record is not None
    assert view.record.version == 1 and view.record.n_events == 4 and view.record.generator == "template"
    assert service.catalog.info(service.catalog.index_of(liked[-1]) or 0).title in view.record.text  # newest first
    assert "science fiction" in view.record.text
    after = service.user_state(HORROR_USER).query
    assert before is not None and after is not None and not np.allclose(before, after)
    assert service.index is not None
    sci_fi = np.array([service.catalog.index_of(i) for i, g in genre_of.items() if g == "science fiction"])
    scores = service.index.vectors(sci_fi)
    assert float((scores @ after).mean()) > float((scores @ before).mean())  # the new profile leans to what was liked
    assert genre_count(service, genre_of, "science fiction") > top_before  # and so do the recommendations


def test_a_generator_writes_the_profile_from_the_history_with_the_new_events(
    service: RecommendationService, flagship_artifact: tuple[Path, dict[str, str]]
) -> None:
    assert service.profiles.builder is not None
    generator = ScriptedGenerator()
    service.profiles.builder.generator = generator
    liked = unseen(service, "romance", flagship_artifact[1], 2)
    like(service, liked)
    service.profiles.queue.run_pending()
    [request] = generator.requests
    titles = [service.item(item).title for item in liked]
    assert request.prompt.index(titles[1]) < request.prompt.index(titles[0])  # the newest event first
    assert request.prompt.count('"') // 2 <= 6  # max_items of the artifact's [user_profiles] table
    record = service.user_profile(HORROR_USER).record
    assert record is not None and record.generator == "scripted" and record.text.startswith(f"likes {titles[1]}")


def test_a_failed_rebuild_keeps_the_previous_profile_and_says_why(service: RecommendationService) -> None:
    assert service.profiles.builder is not None
    outcomes: list[str] = []
    service.profiles.queue.on_outcome = outcomes.append
    like(service, ["sci00"])
    service.profiles.queue.run_pending()
    first = service.user_profile(HORROR_USER).record
    service.profiles.builder.generator = ScriptedGenerator(broken=[HORROR_USER])
    like(service, ["sci01"])
    query = service.user_state(HORROR_USER).query
    service.profiles.queue.run_pending()
    view = service.user_profile(HORROR_USER)
    assert outcomes == ["rebuilt", "failed"]
    assert view.rebuild == "failed" and "scripted failed: empty output" in view.error
    assert first is not None and view.record is not None and view.record.text == first.text
    assert view.record.version == 1 and view.record.text  # never an empty profile
    assert query is not None and np.allclose(service.user_state(HORROR_USER).query, query)
    assert not service.profiles.queue.pending(HORROR_USER)  # not retried until the user's next event


def test_a_restarted_service_serves_the_stored_profile_and_a_forget_deletes_it(
    service: RecommendationService, flagship_artifact: tuple[Path, dict[str, str]]
) -> None:
    like(service, ["sci02", "sci03"])
    service.profiles.queue.run_pending()
    rebuilt = service.user_state(HORROR_USER).query
    again = RecommendationService(load_artifact(flagship_artifact[0]), EventStore(service.store.url), service.settings)
    try:
        assert again.user_profile(HORROR_USER).record is not None
        assert rebuilt is not None and np.allclose(again.user_state(HORROR_USER).query, rebuilt)
        again.forget_user(HORROR_USER)
        assert service.store.count_user_profiles() == 0
        assert service.user_profile(HORROR_USER).source == "none"
    finally:
        again.close()


def test_a_model_without_user_content_rebuilds_nothing(settings: ServeSettings) -> None:
    service = RecommendationService.from_settings(settings)
    try:
        user = service.users.ids[0]
        service.record_event(NewEvent(user, service.catalog.item_id(5), "like"))
        service.profiles.queue.run_pending()
        view = service.user_profile(user)
        assert not service.profiles.enabled and view.source == "none" and view.rebuild == "unavailable"
        assert service.store.count_user_profiles() == 0
    finally:
        service.close()


def test_the_profile_route_and_the_rebuild_metric(service: RecommendationService) -> None:
    with TestClient(create_app(service.settings, service)) as client:
        trained = client.get(f"/v1/users/{HORROR_USER}/profile").json()
        index = service.users.index_or_missing([HORROR_USER])[0]
        content = service.profiles.trained_content
        written = content.text(int(index)) if content is not None else None  # what the artifact kept from training
        assert trained["source"] == "training" and written and trained["text"] == written and "Ghost Night" in written
        event = {"user_id": HORROR_USER, "item_id": "rom00", "type": "like"}
        assert client.post("/v1/events", json=event, headers={"X-API-Key": API_KEY}).status_code == 201
        client.app.state.service.profiles.queue.run_pending()  # type: ignore[attr-defined]
        body = client.get(f"/v1/users/{HORROR_USER}/profile").json()
        assert body["source"] == "events" and body["version"] == 1 and body["n_events"] == 1
        assert "Paris Love 0" in body["text"] and body["rebuild"] == "idle" and body["writer"] == "template"
        assert 'fusionrec_user_profile_rebuilds_total{outcome="rebuilt"} 1.0' in client.get("/metrics").text
        assert client.get("/v1/users/nobody/profile").json()["source"] == "none"


def test_a_request_asks_again_for_a_rebuild_the_queue_never_had(service: RecommendationService) -> None:
    service.store.record_event(NewEvent(HORROR_USER, "sci05", "like"))  # stored behind the service: not queued
    assert not service.profiles.queue.pending(HORROR_USER)
    service.user_state(HORROR_USER)
    assert service.profiles.queue.pending(HORROR_USER)
    service.record_event(NewEvent("visitor", "sci05", "like"))  # no training profile to rebuild
    assert not service.profiles.queue.pending("visitor")


def test_without_an_experiment_file_the_artifacts_text_encoder_embeds_profiles(
    flagship_artifact: tuple[Path, dict[str, str]],
) -> None:
    loaded = load_artifact(flagship_artifact[0])
    catalog = ItemCatalog.from_dataset(loaded.split.dataset)
    builder, why_not = profile_builder(loaded, catalog, None)
    assert builder is not None and builder.max_items == 6 and builder.spec.modality == "user_profile"
    loaded.manifest["files"].pop("experiment.json")
    builder, why_not = profile_builder(loaded, catalog, None)
    assert builder is not None and why_not == "" and builder.max_items == 10
    assert builder.spec.encoder_name == "minilm" and builder.spec.template is None
    loaded.encoders = []
    builder, why_not = profile_builder(loaded, catalog, None)
    assert builder is None and "which encoder embedded its user profiles" in why_not


@pytest.mark.llm
def test_the_packaged_language_model_writes_the_rebuilt_profile(
    flagship_artifact: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    pytest.importorskip("llama_cpp", reason="the local backend needs llama-cpp-python (pip install 'fusionrec[llm]')")
    settings = ServeSettings(
        artifact=flagship_artifact[0],
        store_url=f"sqlite:///{tmp_path / 'events.sqlite3'}",
        llm_gguf="smollm2",
        sync_interval_s=0,
        profile_rebuild_delay_s=3600,
    )
    service = RecommendationService.from_settings(settings)
    try:
        like(service, ["sci04"])
        service.profiles.queue.run_pending()
        view = service.user_profile(HORROR_USER)
        assert view.source == "events" and view.record is not None, view.error
        assert "SmolLM2" in view.record.generator and view.record.text.strip()
    finally:
        service.close()


def test_a_profile_text_is_never_empty() -> None:
    assert template_user_profile([]) is None
    profile = template_user_profile([{"title": "A" * 300, "genres": "x"}])
    assert isinstance(profile, UserProfile) and 0 < len(profile.summary) <= 240
