"""The feedback loop: events recorded by the service, `fusionrec retrain`, a swap, and what the service recommends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fusionrec.cli import app as cli
from fusionrec.models.artifact import load_artifact
from fusionrec.serve.app import create_app
from fusionrec.serve.settings import ServeSettings
from tests.serve.conftest import API_KEY

KEY = {"X-API-Key": API_KEY}


def test_likes_then_retrain_then_swap_change_what_the_service_knows(
    artifact: Path, store_url: str, tmp_path: Path
) -> None:
    settings = ServeSettings(
        artifact=artifact, store_url=store_url, api_key=API_KEY, sync_interval_s=0, model_check_s=0
    )
    with TestClient(create_app(settings)) as client:
        liked = [item["item_id"] for item in client.get("/v1/items/i1/similar?k=6").json()["items"]][:5]
        for n, item in enumerate(liked):
            event = {"user_id": "visitor", "item_id": item, "type": "like", "idempotency_key": f"visitor-{n}"}
            assert client.post("/v1/events", json=event, headers=KEY).status_code == 201
        assert client.delete("/v1/users/u2", headers=KEY).status_code == 200
        assert client.get("/v1/users/visitor/history").json()["known"] is False

        new = tmp_path / "retrained"
        result = CliRunner().invoke(cli, ["retrain", str(artifact), "--out", str(new), "--store-url", store_url])
        assert result.exit_code == 0, result.output
        assert "+5 events, 1 new users" in result.stdout and "1 forgotten users dropped" in result.stdout

        assert client.post("/v1/admin/model", json={"artifact": str(new)}, headers=KEY).status_code == 200
        assert client.get("/v1/users/visitor/history").json()["known"] is True  # now a trained user
        recommended = [item["item_id"] for item in client.get("/v1/users/visitor/recommendations?k=10").json()["items"]]
        assert len(recommended) == 10 and not set(recommended) & set(liked)

    retrained = load_artifact(new).split
    users = retrained.dataset.users
    visitor, forgotten = int(users.index(["visitor"])[0]), int(users.index(["u2"])[0])
    trained_items = retrained.train.item_index[retrained.train.user_index == visitor]
    held = retrained.valid.item_index[retrained.valid.user_index == visitor]  # a share may be held out as valid
    assert {retrained.dataset.items.ids[int(i)] for i in np.concatenate([trained_items, held])} == set(liked)
    assert not (retrained.train.user_index == forgotten).any()  # the forgotten user's training is gone
