"""A model trained with LLM item profiles (the modality "profile") is served: new items are placed without one."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fusionrec.llm.profiles import ItemProfile, ProfileReport, attach_profiles
from fusionrec.models.artifact import load_artifact, save_artifact
from fusionrec.models.fusion_graph import FusionGraph
from fusionrec.serve.app import create_app
from fusionrec.serve.service import RecommendationService
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.store import EventStore
from tests.serve.conftest import API_KEY
from tests.serve.test_profile_rebuild import PLOTS, TEXT, TINY, genre_split

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A tiny FusionGraph trained on MiniLM text plus profiles written for all items but the first."""
    cache = tmp_path_factory.mktemp("cache")
    split, genre_of = genre_split(cache)
    ids = [str(i) for i in split.dataset.items.ids]
    report = ProfileReport(ids, "item_profile.v1", "scripted")
    for item_id in ids[1:]:
        report.profiles[item_id] = ItemProfile(summary=PLOTS[genre_of[item_id]], themes=[genre_of[item_id]])
    report.failures[ids[0]] = "profile generation failed: empty output"
    attach_profiles(split.dataset, report, encoder="minilm", cache_dir=cache)
    model = FusionGraph(embedding_dim=16, train_config=TINY).fit(split)
    folder = save_artifact(model, tmp_path_factory.mktemp("artifacts") / "profiled", encoders=[TEXT])
    settings = ServeSettings(
        artifact=folder, store_url=f"sqlite:///{cache / 'events.sqlite3'}", api_key=API_KEY, sync_interval_s=0
    )
    service = RecommendationService(load_artifact(folder), EventStore(settings.store_url), settings)
    with TestClient(create_app(settings, service)) as test_client:
        yield test_client
    service.close()


def test_the_served_model_reads_the_profile_modality_with_its_mask(client: TestClient) -> None:
    service: RecommendationService = client.app.state.service  # type: ignore[attr-defined]
    assert service.dataset.modalities == ["profile", "text"]
    assert service.dataset.feature_mask("profile").tolist() == [False] + [True] * (service.dataset.n_items - 1)
    assert len(client.get("/v1/users/u0/recommendations?k=5").json()["items"]) == 5


def test_a_new_item_from_raw_content_is_placed_from_its_text(client: TestClient) -> None:
    content = {"text": {"title": "Ghost Night 99", "genres": "horror", "overview": PLOTS["horror"]}}
    answer = client.put("/v1/items/new-horror", json={"content": content}, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 201, answer.text
    assert answer.json()["placed_from"] == ["text"]  # no language model step for new items: profile not made


def test_a_new_item_with_sent_profile_features_uses_them(client: TestClient) -> None:
    service: RecommendationService = client.app.state.service  # type: ignore[attr-defined]
    profile = service.dataset.features["profile"][1]  # a written profile's embedding
    body = {
        "content": {"text": {"title": "Star Voyage 99", "genres": "science fiction"}},
        "features": {"profile": np.asarray(profile, dtype=float).tolist()},
    }
    answer = client.put("/v1/items/new-scifi", json=body, headers={"X-API-Key": API_KEY})
    assert answer.status_code == 201, answer.text
    assert sorted(answer.json()["placed_from"]) == ["profile", "text"]
