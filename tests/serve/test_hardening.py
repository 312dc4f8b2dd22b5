"""The low-severity findings: ids a URL cannot carry, the key on the command line, security headers,
no CDN docs, the chunked 413's limit, deeply nested JSON, schema mismatches, a real model check in
/ready, and request ids in responses and log records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from fusionrec.cli import app
from tests.serve.conftest import API_KEY

WRITE = {"X-API-Key": API_KEY}


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.mark.parametrize("user_id", ["a/b", "..", ".", "/"])
def test_ids_a_url_path_cannot_carry_are_refused_at_write_time(client: TestClient, user_id: str) -> None:
    event = {"user_id": user_id, "item_id": "i1", "type": "like"}
    message = error_of(client.post("/v1/events", json=event, headers=WRITE), 422)["message"]
    assert "body.user_id" in message and "could be written but never read" in message


def test_ids_with_other_reserved_characters_are_written_and_read_back(client: TestClient) -> None:
    user_id = "a?b#c%d e"
    event = {"user_id": user_id, "item_id": "i1", "type": "like"}
    assert client.post("/v1/events", json=event, headers=WRITE).status_code == 201
    from urllib.parse import quote

    history = client.get(f"/v1/users/{quote(user_id, safe='')}/history").json()
    assert history["user_id"] == user_id and history["items"][0]["source"] == "like"


def test_an_id_with_a_slash_in_a_history_is_422(client: TestClient) -> None:
    error = error_of(client.post("/v1/recommendations", json={"history": ["x/y"]}), 422)
    assert "body.history.0" in error["message"]


def test_the_api_key_on_the_command_line_warns(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "nothing"), "--api-key", "s3cret"])
    assert "visible to every user of this machine" in result.output and "--api-key-file" in result.output


def test_the_api_key_from_the_environment_does_not_warn(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "nothing")], env={"FUSIONREC_API_KEY": "s3cret"})
    assert "visible to every user" not in result.output


def test_the_api_key_can_come_from_a_file(artifact: Path, tmp_path: Path) -> None:
    from fusionrec.serve.settings import ServeSettings

    key_file = tmp_path / "key"
    key_file.write_text("s3cret\n")
    settings = ServeSettings(artifact=artifact, api_key_file=key_file)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "s3cret"
    with pytest.raises(ValidationError, match="not both"):
        ServeSettings(artifact=artifact, api_key_file=key_file, api_key="other")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ValidationError, match="is empty"):
        ServeSettings(artifact=artifact, api_key_file=tmp_path / "empty")
    with pytest.raises(ValidationError, match="cannot be read"):
        ServeSettings(artifact=artifact, api_key_file=tmp_path / "missing")


def test_the_page_keeps_the_key_for_the_tab_only() -> None:
    from fusionrec.serve.routes.web import STATIC_DIR

    script = (STATIC_DIR / "app.js").read_text()
    assert "sessionStorage.setItem" in script and "localStorage.setItem" not in script


@pytest.mark.parametrize("path", ["/", "/v1/model", "/static/app.js", "/nowhere"])
def test_every_answer_carries_the_security_headers(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_no_docs_page_loads_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["info"]["title"] == "fusionrec"
    assert "/openapi.json" in error_of(client.get("/nowhere"), 404)["message"]


def test_a_chunked_413_names_the_real_limit_and_more_than_it(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"history": ["'
        for _ in range(20):
            yield b"a" * 300_000
        yield b'"]}'

    response = client.post("/v1/recommendations", content=chunks(), headers={"content-type": "application/json"})
    message = error_of(response, 413)["message"]
    received = int(message.split(" bytes")[0].rsplit(" ", 1)[-1].replace(",", ""))
    assert received > 1_000_000 and "at most 1,000,000" in message


def test_deeply_nested_json_is_malformed_json(client: TestClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post("/v1/recommendations", content=body, headers={"content-type": "application/json"})
    assert error_of(response, 400)["code"] == "malformed_json"


def test_options_and_405_name_every_method_of_the_path(client: TestClient) -> None:
    options = client.options("/v1/items/i1")
    assert options.status_code == 204 and options.headers["allow"] == "GET, OPTIONS, PUT"
    response = client.delete("/v1/items/i1")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET, OPTIONS, PUT"


def test_the_schema_documents_a_replayed_event_and_bounds_the_bodys_k(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "200" in document["paths"]["/v1/events"]["post"]["responses"]
    body_ref = document["paths"]["/v1/recommendations"]["post"]["requestBody"]["content"]["application/json"]
    name = body_ref["schema"]["$ref"].rsplit("/", 1)[-1]
    assert document["components"]["schemas"][name]["properties"]["k"]["maximum"] == 1000


def test_ready_asks_the_model_for_a_score(client: TestClient) -> None:
    assert client.get("/ready").json()["checks"]["model"] == "ok"
    service = client.app.state.service  # type: ignore[attr-defined]
    service.user_vectors = np.full_like(service.user_vectors, np.nan)  # a model that scores NaN
    response = client.get("/ready")
    assert response.status_code == 503 and response.json()["checks"]["model"].startswith("failing")


def test_request_ids_are_echoed_made_and_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"}).headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()
    service = client.app.state.service  # type: ignore[attr-defined]
    service.user_vectors = None  # the check falls to the model's own scores...
    service.model.score_users = None  # ...which fail: an error is logged during the request
    with caplog.at_level(logging.ERROR, logger="fusionrec.serve.service"):
        client.get("/ready", headers={"X-Request-ID": "trace-7"})
    assert [record.request_id for record in caplog.records] == ["trace-7"]  # type: ignore[attr-defined]


def test_the_serve_commands_log_lines_show_the_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    import logging.config

    from fusionrec.cli.serve import log_config
    from fusionrec.serve.middleware import REQUEST_ID

    config = log_config()
    config["handlers"]["default"]["stream"] = "ext://sys.stdout"
    logger = logging.getLogger("fusionrec")
    previous = logger.handlers[:], logger.propagate, logger.level
    logging.config.dictConfig(config)
    try:
        token = REQUEST_ID.set("trace-9")
        logging.getLogger("fusionrec.serve.service").warning("inside a request")
        REQUEST_ID.reset(token)
        logging.getLogger("fusionrec.serve.service").warning("outside")
    finally:
        logger.handlers[:], logger.propagate, logger.level = previous
    lines = capsys.readouterr().out.splitlines()
    assert "[trace-9] fusionrec.serve.service: inside a request" in lines[0]
    assert "[-] fusionrec.serve.service: outside" in lines[1]
