"""Explanations in words from the service: template sentences without a model, checked sentences with one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.llm.test_explanations import Scripted


def _user_and_item(client: TestClient) -> tuple[str, str]:
    user = "u1"
    item = client.get(f"/v1/users/{user}/recommendations?k=1").json()["items"][0]["item_id"]
    return user, item


def test_without_a_language_model_the_sentence_is_the_template(client: TestClient) -> None:
    user, item = _user_and_item(client)
    body = client.get(f"/v1/users/{user}/explanations/{item}?format=text").json()
    title = body["item"]["title"]
    assert body["text_source"] == "template" and f'"{title}"' in body["text"]
    for entry in body["because"]:
        assert f'"{entry["item"]["title"]}"' in body["text"]
    assert client.get(f"/v1/users/{user}/explanations/{item}").json()["text"] is None  # json: no sentence


def test_a_model_sentence_naming_an_item_outside_the_facts_is_replaced_by_the_template(client: TestClient) -> None:
    user, item = _user_and_item(client)
    service = client.app.state.service  # type: ignore[attr-defined]
    others = [service.catalog.info(i).title for i in range(len(service.catalog))]
    facts_titles = {client.get(f"/v1/users/{user}/explanations/{item}").json()["item"]["title"]}
    stranger = next(t for t in others if t not in facts_titles and len(t) >= 5)
    service.words.generator = Scripted([f'You will love "{stranger}".'])
    body = client.get(f"/v1/users/{user}/explanations/{item}?format=text").json()
    assert body["text_source"] == "template" and stranger in body["text_rejected"]
    service.words.generator = Scripted(["A strong match for your taste."])
    body = client.get(f"/v1/users/{user}/explanations/{item}?format=text").json()
    assert body["text_source"] == "llm" and body["text"] == "A strong match for your taste."
