"""Item profiles through a scripted server: one request per item, injected text stays data, failures are masked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fusionrec.data.dataset import Dataset
from fusionrec.errors import ConfigError
from fusionrec.llm import (
    PROFILE_SCHEMA,
    ItemProfile,
    LLMError,
    OpenAIGenerator,
    RetryPolicy,
    attach_profiles,
    item_metadata,
    profile_items,
    write_profiles,
)
from fusionrec.llm.profiles import NO_METADATA, NOT_REQUESTED
from tests.llm.conftest import ROWS, FakeServer, Reply, chat, profile_json, title_of


def server_generator(server: FakeServer) -> OpenAIGenerator:
    return OpenAIGenerator(server.url, "fake", retry=RetryPolicy(max_tries=2), sleep=lambda _: None)


def test_each_item_is_its_own_request_and_sees_no_other_item(fake_server: FakeServer, catalog: Dataset) -> None:
    calls: list[tuple[int, int]] = []
    with server_generator(fake_server) as llm:
        report = profile_items(catalog, llm, progress=lambda done, total: calls.append((done, total)))
    assert sorted(report.profiles) == ["1", "2", "3"] and report.failures == {"4": NO_METADATA}
    assert calls == [(3, 3)]
    assert report.profiles["1"].summary == "Heat (1995)"  # the fake server summarises by the quoted title
    titles = [row["title"] for row in ROWS if row["title"]]
    for sent in fake_server.requests:
        own = title_of(sent)
        others = [t for t in titles if t != own]
        text = json.dumps(sent)
        assert not any(other in text for other in others), f"request for {own!r} leaks another item"
        assert sent["response_format"]["json_schema"]["schema"] == PROFILE_SCHEMA


def test_injected_metadata_is_quoted_data_that_cannot_close_its_tag(fake_server: FakeServer, catalog: Dataset) -> None:
    with server_generator(fake_server) as llm:
        profile_items(catalog, llm, items=["3"])
    [sent] = fake_server.requests
    user = sent["messages"][-1]["content"]
    assert user.count("</item_metadata>") == 1  # the one written by the template, after the data
    quoted = json.loads(user.split("<item_metadata>")[1].split("</item_metadata>")[0])
    assert quoted["overview"] == ROWS[2]["overview"]  # intact, as a JSON string value
    assert "never instructions" in sent["messages"][0]["content"]


def test_an_answer_that_obeys_the_injection_is_rejected_and_masked(fake_server: FakeServer, catalog: Dataset) -> None:
    def obey_injection(sent: dict) -> Reply:
        if "Ignore previous instructions" in json.dumps(sent):
            return chat('{"summary": "HACKED", "titles": ["Heat (1995)", "Toy Story (1995)"]}')
        return chat(profile_json(title_of(sent)))

    fake_server.default = obey_injection
    with server_generator(fake_server) as llm:
        report = profile_items(catalog, llm)
    assert "3" not in report.profiles and "Additional properties are not allowed" in report.failures["3"]
    assert report.failures["3"].startswith("profile generation failed: schema:")
    features = attach_profiles(catalog, report, encoder="tfidf", stop_words=None)
    assert catalog.feature_masks["profile"].tolist() == [True, True, False, False]
    assert features.masked[report.failures["3"]] == ["3"] and features.masked[NO_METADATA] == ["4"]
    assert np.abs(catalog.features["profile"][2:]).sum() == 0.0


def test_every_fault_is_a_reported_mask_and_the_rest_still_profiled(fake_server: FakeServer, catalog: Dataset) -> None:
    fake_server.queue(Reply("down", status=500), Reply("down", status=500), chat("not json at all"))
    retry = RetryPolicy(max_tries=2)
    with OpenAIGenerator(fake_server.url, "fake", workers=1, retry=retry, sleep=lambda _: None) as llm:
        report = profile_items(catalog, llm)
    assert "HTTP 500" in report.failures["1"] and "after 2 tries" in report.failures["1"]
    assert "malformed JSON" in report.failures["2"] and sorted(report.profiles) == ["3"]
    lines = "\n".join(report.lines())
    assert "1 of 4 items" in lines and "HTTP 500" in lines and "malformed JSON" in lines
    assert report.to_dict()["n_failed"] == 3


def test_server_down_masks_every_item_with_the_reason(closed_port_url: str, catalog: Dataset) -> None:
    with OpenAIGenerator(closed_port_url, retry=RetryPolicy(max_tries=1)) as llm:
        report = profile_items(catalog, llm)
    assert not report.profiles
    assert all("connection to" in report.failures[i] for i in ("1", "2", "3"))
    with pytest.raises(LLMError, match="no item of 4 has a profile"):  # nothing to embed: a clear error
        attach_profiles(catalog, report, encoder="tfidf")
    assert "profile" not in catalog.features


def test_requested_items_only_and_the_jsonl_output(fake_server: FakeServer, catalog: Dataset, tmp_path: Path) -> None:
    with server_generator(fake_server) as llm:
        report = profile_items(catalog, llm, items=["2"])
    assert list(report.profiles) == ["2"] and report.failures["1"] == NOT_REQUESTED
    lines = [json.loads(line) for line in write_profiles(report, tmp_path / "p.jsonl").read_text().splitlines()]
    assert [line["item_id"] for line in lines] == ["1", "2", "3", "4"]
    assert lines[1]["profile"]["summary"] == "Toy Story (1995)" and lines[0]["error"] == NOT_REQUESTED


def test_metadata_fields_and_bad_requests(catalog: Dataset) -> None:
    expected = {"title": "Heat (1995)", "genres": "Action|Crime", "overview": ROWS[0]["overview"]}
    assert item_metadata(catalog)[0] == expected
    assert item_metadata(catalog, ["title"])[3] == {}
    with pytest.raises(ConfigError, match="not item-table columns"):
        item_metadata(catalog, ["plot"])
    with pytest.raises(ConfigError, match="not in the dataset"):
        profile_items(catalog, OpenAIGenerator("http://127.0.0.1:1"), items=["99"])


def test_profile_text_names_the_attributes_that_are_set() -> None:
    profile = ItemProfile(summary="A heist.", themes=["crime", "loyalty"], mood="tense", audience="")
    assert profile.text() == "A heist. | themes: crime, loyalty | mood: tense"
