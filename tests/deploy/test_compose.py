"""deploy/compose.yaml parses and wires the service to PostgreSQL, its secrets and its artifacts."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.deploy.files import COMPOSE, DEPLOY, ROOT, known_variable, yaml_documents


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    (document,) = yaml_documents(COMPOSE)
    return document


def test_the_file_holds_the_service_and_postgresql(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"fusionrec", "db"}
    assert compose["services"]["db"]["image"].startswith("postgres:")


def test_postgresql_keeps_its_data_on_a_named_volume(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    named = [mount.split(":")[0] for mount in db["volumes"] if mount.endswith(":/var/lib/postgresql/data")]
    assert named and named[0] in compose["volumes"]


def test_both_services_have_healthchecks(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        assert check.get("test") and check.get("interval"), f"service {name} has no healthcheck"
    assert compose["services"]["fusionrec"]["healthcheck"]["test"][:2] == ["CMD", "fusionrec-healthcheck"]


def test_the_service_starts_once_postgresql_is_healthy(compose: dict[str, Any]) -> None:
    assert compose["services"]["fusionrec"]["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_the_store_is_the_postgresql_service(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]["environment"]
    url = compose["services"]["fusionrec"]["environment"]["FUSIONREC_STORE_URL"]
    assert url == f"postgresql+psycopg://{db['POSTGRES_USER']}@db:5432/{db['POSTGRES_DB']}"


def test_the_key_and_the_password_come_from_secret_files(compose: dict[str, Any]) -> None:
    service = compose["services"]["fusionrec"]
    environment = service["environment"]
    assert "FUSIONREC_API_KEY" not in environment and "PGPASSWORD" not in environment
    for variable, secret in (("FUSIONREC_API_KEY_FILE", "api_key"), ("PGPASSWORD_FILE", "db_password")):
        assert environment[variable] == f"/run/secrets/{secret}"
        assert secret in service["secrets"] and secret in compose["secrets"]
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/db_password"


def test_the_secret_files_are_never_committed(compose: dict[str, Any]) -> None:
    for secret in compose["secrets"].values():
        path = (DEPLOY / secret["file"]).resolve().relative_to(ROOT)
        ignored = subprocess.run(["git", "check-ignore", "--quiet", "--no-index", str(path)], cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"{path} is not ignored by git"


def test_the_service_runs_read_only_with_the_artifacts_mounted(compose: dict[str, Any]) -> None:
    service = compose["services"]["fusionrec"]
    assert service["read_only"] is True and "/tmp" in service["tmpfs"]
    assert any(volume.endswith(":/artifacts:ro") for volume in service["volumes"])
    assert service["environment"]["FUSIONREC_ARTIFACT"].startswith("/artifacts/")
    assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_every_variable_is_one_the_service_reads(compose: dict[str, Any]) -> None:
    names = [name for name in compose["services"]["fusionrec"]["environment"] if not known_variable(name)]
    assert not names, f"compose.yaml sets {names}, which neither the entrypoint nor ServeSettings reads"
