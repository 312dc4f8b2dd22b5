"""Start-up applies the catalog's state, not its history: no model call for items whose vector is stored.

The defect these pin: every stored revision was replayed through the model
(three content_item_vectors calls per revision with two modalities), so
1,000 item writes made start-up take 124 s instead of 7 s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fusionrec.data.dataset import Split
from fusionrec.serve.demo import ContentFactors
from fusionrec.serve.store import EventStore
from tests.serve.conftest import API_KEY, client_for

WRITE = {"X-API-Key": API_KEY}
DIM = 16


class CountingFactors(ContentFactors):
    """Counts content_item_vectors calls made after training (class-wide: each service loads its own copy)."""

    name = "counting-factors"
    calls: ClassVar[int] = 0
    counting: ClassVar[bool] = False

    def content_item_vectors(self, features: Any, masks: Any) -> np.ndarray:
        if CountingFactors.counting:
            CountingFactors.calls += 1
        return super().content_item_vectors(features, masks)


@pytest.fixture
def model(serve_split: Split) -> CountingFactors:
    fitted = CountingFactors(dim=8).fit(serve_split)
    CountingFactors.calls, CountingFactors.counting = 0, True
    return fitted


def features(seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    return {"image": rng.standard_normal(DIM).tolist(), "text": rng.standard_normal(DIM).tolist()}


def calls_to_start(model: CountingFactors, folder: Path, store_url: str) -> tuple[int, TestClient]:
    """Model calls a start-up makes for the store's revisions (beyond those loading the artifact makes)."""
    before = CountingFactors.calls
    with client_for(model, folder / "empty", f"sqlite:///{folder / 'empty.sqlite3'}"):
        loading = CountingFactors.calls - before
    before = CountingFactors.calls
    client = client_for(model, folder / "artifact", store_url)
    return CountingFactors.calls - before - loading, client


def test_a_restart_after_many_writes_runs_the_model_for_none_of_them(
    model: CountingFactors, tmp_path: Path, store_url: str
) -> None:
    calls, client = calls_to_start(model, tmp_path / "a", store_url)
    with client:
        for n in range(30):  # 10 items, three revisions each: features, new features, a title
            item = f"new{n % 10}"
            body = {"title": f"title {n}"} if n >= 20 else {"features": features(n)}
            assert client.put(f"/v1/items/{item}", json=body, headers=WRITE).status_code in (200, 201)
        before = client.get("/v1/items/new3/similar", params={"k": 5}).json()["items"]
    calls, restarted = calls_to_start(model, tmp_path / "b", store_url)
    with restarted:
        assert calls == 0
        assert restarted.get("/v1/items/new3").json()["title"] == "title 23"
        assert restarted.get("/v1/items/new3/similar", params={"k": 5}).json()["items"] == before
        explanation = restarted.get("/v1/users/u3/explanations/new3").json()
        assert explanation["method"] == "occlusion" and {c["name"] for c in explanation["contributions"]} == {
            "image",
            "text",
        }


def test_a_store_written_without_vectors_is_placed_once_per_item_and_then_never(
    model: CountingFactors, tmp_path: Path, store_url: str
) -> None:
    store = EventStore(store_url)  # revisions as a server before stored vectors wrote them: 5 items x 4 revisions
    for n in range(20):
        store.add_item_revision(f"old{n % 5}", {"title": f"old {n}", "features": features(n)})
    store.close()
    calls, client = calls_to_start(model, tmp_path / "a", store_url)
    with client:
        assert calls == 5 * 3  # one placement per item: the vector and two modalities' occlusion
        vector_of_newest = client.get("/v1/items/old2/similar", params={"k": 3}).json()["items"]
    calls, again = calls_to_start(model, tmp_path / "b", store_url)
    with again:
        assert calls == 0
        assert again.get("/v1/items/old2/similar", params={"k": 3}).json()["items"] == vector_of_newest


def test_the_newest_usable_revision_wins_and_a_bad_newer_one_is_skipped(
    model: CountingFactors, tmp_path: Path, store_url: str
) -> None:
    with client_for(model, tmp_path / "a", store_url) as client:
        client.put("/v1/items/twin", json={"features": features(1)}, headers=WRITE)
        client.put("/v1/items/copy1", json={"features": features(1)}, headers=WRITE)
    store = EventStore(store_url)
    store.add_item_revision("twin", {"title": "bad", "features": {"image": [1e30] * DIM}})
    store.close()
    with client_for(model, tmp_path / "b", store_url) as restarted:
        similar = restarted.get("/v1/items/twin/similar", params={"k": 1}).json()["items"]
        assert similar[0]["item_id"] == "copy1"  # the vector of features(1), not of the bad revision
        assert restarted.get("/v1/items/twin").json()["title"] == "twin"  # the bad revision's title is not applied
        assert "twin" in restarted.get("/ready").json()["checks"]["revisions"]


def test_vectors_stored_for_another_model_are_not_used(
    model: CountingFactors, serve_split: Split, tmp_path: Path, store_url: str
) -> None:
    with client_for(model, tmp_path / "a", store_url) as client:
        client.put("/v1/items/moved", json={"features": features(3)}, headers=WRITE)
    retrained = CountingFactors(dim=8, seed=1).fit(serve_split)
    calls, restarted = calls_to_start(retrained, tmp_path / "b", store_url)
    with restarted:
        assert calls == 3  # placed again by the new model, not given the old model's vector
        assert restarted.get("/v1/items/moved").status_code == 200


def test_a_second_worker_places_new_items_from_the_stored_vector(
    model: CountingFactors, tmp_path: Path, store_url: str
) -> None:
    with client_for(model, tmp_path / "a", store_url) as one, client_for(model, tmp_path / "b", store_url) as two:
        before = CountingFactors.calls
        assert one.put("/v1/items/shared", json={"features": features(5)}, headers=WRITE).status_code == 201
        assert CountingFactors.calls - before == 3  # only the writer ran the model
        assert (
            two.get("/v1/items/shared/similar", params={"k": 3}).json()
            == one.get("/v1/items/shared/similar", params={"k": 3}).json()
        )
        assert CountingFactors.calls - before == 3
