"""Model swaps without downtime: the new artifact takes over, requests on the old one finish, workers follow."""

from __future__ import annotations

import gc
import sys
import weakref
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fusionrec.data.dataset import Split
from fusionrec.models.artifact import LoadedArtifact, load_artifact, save_artifact
from fusionrec.serve import swap
from fusionrec.serve.app import create_app
from fusionrec.serve.demo import ContentFactors
from fusionrec.serve.settings import ServeSettings
from fusionrec.serve.swap import LOAD_SWITCH_INTERVAL_S, retire
from tests.serve.conftest import API_KEY

KEY = {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def second_artifact(serve_split: Split, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = ContentFactors(dim=4, seed=1).fit(serve_split)  # another model of the same catalog
    return save_artifact(model, tmp_path_factory.mktemp("artifacts") / "content-factors-2")


def _settings(artifact: Path, store_url: str) -> ServeSettings:
    return ServeSettings(artifact=artifact, store_url=store_url, api_key=API_KEY, sync_interval_s=0, model_check_s=0)


def test_a_swap_serves_the_new_artifact_and_says_which(artifact: Path, second_artifact: Path, store_url: str) -> None:
    with TestClient(create_app(_settings(artifact, store_url))) as client:
        before = client.get("/v1/model").json()
        old_service = client.app.state.service  # type: ignore[attr-defined]  # what a request in flight holds
        swapped = client.post("/v1/admin/model", json={"artifact": str(second_artifact)}, headers=KEY)
        assert swapped.status_code == 200, swapped.text
        after = client.get("/v1/model").json()
        assert after["version"] == swapped.json()["version"] != before["version"]
        assert after["artifact"] == str(second_artifact)
        assert client.get("/v1/users/u1/recommendations?k=5").status_code == 200
        assert len(old_service.recommend_user("u1", 5).items) == 5  # the old model still answers its requests
        scraped = client.get("/metrics").text
        assert f'fusionrec_model_info{{version="{after["version"]}"}} 1.0' in scraped
        assert f'version="{before["version"]}"' not in scraped
        assert "fusionrec_store_breaker_open 0.0" in scraped


def test_a_swap_needs_the_key_and_a_loadable_artifact(artifact: Path, store_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(_settings(artifact, store_url))) as client:
        assert client.post("/v1/admin/model", json={"artifact": str(artifact)}).status_code == 401
        refused = client.post("/v1/admin/model", json={"artifact": str(tmp_path / "nothing")}, headers=KEY)
        assert refused.status_code == 422 and "nothing" in refused.text
        assert client.get("/v1/model").json()["artifact"] == str(artifact)  # still the first


def test_another_worker_on_the_store_follows_the_swap(artifact: Path, second_artifact: Path, store_url: str) -> None:
    with (
        TestClient(create_app(_settings(artifact, store_url))) as first,
        TestClient(create_app(_settings(artifact, store_url))) as second,
    ):
        version = first.post("/v1/admin/model", json={"artifact": str(second_artifact)}, headers=KEY).json()["version"]
        switcher = second.app.state.switcher  # type: ignore[attr-defined]
        assert switcher.check() is True  # what its background thread runs every model_check_s
        assert second.get("/v1/model").json()["version"] == version
        assert switcher.check() is False  # already serving it


def test_the_new_artifact_loads_with_a_shorter_switch_interval(
    artifact: Path, second_artifact: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[float] = []

    def recording_load(path: str | Path) -> LoadedArtifact:
        seen.append(sys.getswitchinterval())
        return load_artifact(path)

    monkeypatch.setattr(swap, "load_artifact", recording_load)
    before = sys.getswitchinterval()
    with TestClient(create_app(_settings(artifact, store_url))) as client:
        client.app.state.switcher.switch(second_artifact)  # type: ignore[attr-defined]
        assert client.get("/v1/model").json()["artifact"] == str(second_artifact)
    assert seen == [pytest.approx(min(before, LOAD_SWITCH_INTERVAL_S or before))]
    assert sys.getswitchinterval() == before  # restored once the load is done


def test_a_failed_load_leaves_the_old_model_and_the_interval(
    artifact: Path, second_artifact: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_service(*args: object) -> None:
        raise RuntimeError("no memory left")

    before = sys.getswitchinterval()
    with TestClient(create_app(_settings(artifact, store_url))) as client:
        monkeypatch.setattr(swap, "RecommendationService", broken_service)
        with pytest.raises(RuntimeError, match="no memory left"):
            client.app.state.switcher.switch(second_artifact)  # type: ignore[attr-defined]
        assert client.get("/v1/model").json()["artifact"] == str(artifact)  # still the first
    assert sys.getswitchinterval() == before


def test_a_retired_service_closes_its_store_threads_and_lets_go_of_its_parts(
    artifact: Path, second_artifact: Path, store_url: str
) -> None:
    with TestClient(create_app(_settings(artifact, store_url))) as client:
        old = client.app.state.service  # type: ignore[attr-defined]
        client.post("/v1/admin/model", json={"artifact": str(second_artifact)}, headers=KEY)
        index, guard = weakref.ref(old.index), old.guard
        retire(old, pause_s=0.0)  # what the switcher's timer runs RETIRE_AFTER_S after the swap
        gc.collect()  # parts that refer to each other (user states and profiles) go with the next collection
        assert vars(old) == {} and index() is None  # nothing of the old model is kept
        retire(old, pause_s=0.0)  # the switcher's own timer finds it retired already
        with pytest.raises(RuntimeError, match="shutdown"):
            guard.read(lambda: None)  # its store threads take no more calls
        assert client.get("/v1/users/u1/recommendations?k=5").status_code == 200  # the new model is untouched
