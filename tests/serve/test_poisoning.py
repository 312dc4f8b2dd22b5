"""No request can put a non-finite or overflowing number into the index, the store or a ranking.

The defect these pin: features of 1e20 were accepted with 201 and gave the
item a NaN vector, after which every user with an event on it (or a history
holding it) got an empty list, also after a restart.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from fusionrec.data.dataset import Split
from fusionrec.serve.demo import ContentFactors
from fusionrec.serve.store import EventStore
from tests.serve.conftest import API_KEY, client_for

WRITE = {"X-API-Key": API_KEY}
DIM = 16  # feature size of the synthetic catalog


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def assert_ranked(response: Any, k: int) -> None:
    """A full list of ``k`` items with finite scores."""
    assert response.status_code == 200, response.text
    scores = [item["score"] for item in response.json()["items"]]
    assert len(scores) == k and all(math.isfinite(s) for s in scores)


def test_huge_features_are_422_naming_the_modality_the_value_and_the_range(client: TestClient) -> None:
    response = client.put("/v1/items/poison", json={"features": {"image": [1e20] * DIM}}, headers=WRITE)
    message = error_of(response, 422)["message"]
    assert "features.image" in message and "1e+20" in message and "[-1e+06, 1e+06]" in message
    assert client.get("/v1/items/poison").status_code == 404


def test_a_poisoned_item_cannot_empty_anyones_recommendations(client: TestClient) -> None:
    client.put("/v1/items/poison", json={"features": {"image": [1e20] * DIM}}, headers=WRITE)
    like = {"user_id": "u1", "item_id": "poison", "type": "like"}
    assert client.post("/v1/events", json=like, headers=WRITE).status_code == 404  # not in the catalog
    assert_ranked(client.get("/v1/users/u1/recommendations", params={"k": 10}), 10)


def test_features_at_the_bound_place_a_finite_item(client: TestClient) -> None:
    response = client.put("/v1/items/loud", json={"features": {"image": [1e6] * DIM}}, headers=WRITE)
    assert response.status_code == 201, response.text
    like = {"user_id": "u1", "item_id": "loud", "type": "like"}
    assert client.post("/v1/events", json=like, headers=WRITE).status_code == 201
    assert_ranked(client.get("/v1/users/u1/recommendations", params={"k": 10}), 10)
    assert_ranked(client.post("/v1/recommendations", json={"history": ["loud", "i1"], "k": 10}), 10)


class OverflowingFactors(ContentFactors):
    """Gives inf vectors for features above 100, as a model with an exp() or a large layer can."""

    name = "overflowing-factors"

    def content_item_vectors(self, features: Any, masks: Any) -> np.ndarray:
        vectors = super().content_item_vectors(features, masks)
        too_big = any(np.abs(v).max() > 100 for v in features.values())
        return np.full_like(vectors, np.inf) if too_big else vectors


def test_a_non_finite_vector_from_the_model_is_422_and_not_indexed(
    serve_split: Split, tmp_path: Path, store_url: str
) -> None:
    with client_for(OverflowingFactors(dim=8).fit(serve_split), tmp_path / "a", store_url) as client:
        response = client.put("/v1/items/inf", json={"features": {"text": [500.0] * DIM}}, headers=WRITE)
        assert "not finite" in error_of(response, 422)["message"]
        assert client.get("/v1/items/inf").status_code == 404
        assert client.put("/v1/items/ok", json={"features": {"text": [0.5] * DIM}}, headers=WRITE).status_code == 201


def test_a_poisoned_revision_stored_earlier_is_skipped_and_reported_on_start(settings: Any) -> None:
    from fusionrec.serve.app import create_app

    store = EventStore(settings.store_url)  # what a server before the fix accepted and stored
    store.add_item_revision("poison", {"title": "Poison", "features": {"image": [1e20] * DIM}})
    store.add_item_revision("fine", {"title": "Fine", "features": {"image": [0.5] * DIM}})
    store.close()
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/items/poison").status_code == 404
        assert client.get("/v1/items/fine").json()["title"] == "Fine"
        ready = client.get("/ready").json()
        assert "1 stored item revision(s) skipped" in ready["checks"]["revisions"]
        assert "poison" in ready["checks"]["revisions"]
        assert_ranked(client.post("/v1/recommendations", json={"history": ["fine", "i1"], "k": 10}), 10)


def test_the_index_refuses_non_finite_vectors() -> None:
    from fusionrec.serve.index import ItemIndex

    with pytest.raises(ValueError, match="non-finite"):
        ItemIndex(np.array([[1.0, np.nan], [0.0, 1.0]], np.float32))
    index = ItemIndex(np.eye(2, dtype=np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        index.upsert(2, np.array([np.inf, 0.0], np.float32))
    assert index.n_items == 2


def test_an_unusable_query_falls_back_instead_of_ranking_nothing() -> None:
    from fusionrec.serve.ranking import usable_query

    base = np.ones(4, np.float32)
    assert usable_query(np.full(4, np.nan, np.float32), base, "user 'x'") is base
    assert usable_query(np.full(4, 1e30, np.float32), None, "user 'x'") is None
    assert usable_query(base * 2, None, "user 'x'") is not None
