"""The manifests of deploy/k8s pass kubernetes-validate (strict) and fit the image and the service."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from fusionrec.serve.routes.health import build_router
from fusionrec.serve.settings import ServeSettings
from tests.deploy.files import (
    ENTRYPOINT,
    K8S,
    dockerfile_instructions,
    final_stage,
    known_variable,
    kubernetes_manifests,
    kubernetes_objects,
    yaml_documents,
)

#: The oldest Kubernetes the manifests claim (docs/deployment.md) and the newest schema the validator ships.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.utils.latest_version())

Objects = dict[str, dict[str, Any]]


@pytest.fixture
def objects() -> Objects:
    """``{kind: object}`` of deploy/k8s, read afresh for each test (tests may change them)."""
    return kubernetes_objects()


def container(objects: Objects) -> dict[str, Any]:
    (only,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def pod(objects: Objects) -> dict[str, Any]:
    return objects["Deployment"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("path", kubernetes_manifests(), ids=lambda path: path.name)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_passes_strict_schema_validation(path: Path, version: str) -> None:
    documents = yaml_documents(path)
    assert documents, f"{path.name} holds no object"
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name}: {'.'.join(map(str, exc.path))}: {exc.message} (Kubernetes {exc.version})")


def test_strict_validation_rejects_a_misspelt_field(objects: Objects) -> None:
    container(objects)["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError, match="readOnlyRootFileSystem"):
        kubernetes_validate.validate(objects["Deployment"], KUBERNETES_VERSIONS[-1], strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == [path.name for path in kubernetes_manifests()]


def test_the_probes_ask_the_service_routes_that_exist(objects: Objects) -> None:
    router = build_router(ServeSettings(artifact=Path("unused")))
    routes = {getattr(route, "path", None) for route in router.routes}
    main = container(objects)
    assert main["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert main["livenessProbe"]["httpGet"]["path"] == main["startupProbe"]["httpGet"]["path"] == "/health"
    assert {"/ready", "/health"} <= routes
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert main[probe]["httpGet"]["port"] == main["ports"][0]["name"]


def test_the_pod_runs_unprivileged_on_a_read_only_root_with_a_scratch_tmp(objects: Objects) -> None:
    security, main = pod(objects)["securityContext"], container(objects)
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    image_user = next(arguments for name, arguments in final_stage(dockerfile_instructions()) if name == "USER")
    image_arguments = [arguments for name, arguments in dockerfile_instructions() if name == "ARG"]
    assert image_user.startswith("${FUSIONREC_UID}")
    assert f"FUSIONREC_UID={security['runAsUser']}" in image_arguments  # the pod runs as the image's user
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    volumes = {volume["name"]: volume for volume in pod(objects)["volumes"]}
    (tmp,) = [mount for mount in main["volumeMounts"] if mount["mountPath"] == "/tmp"]
    assert "emptyDir" in volumes[tmp["name"]]
    assert set(main["resources"]["requests"]) == {"cpu", "memory"} and "memory" in main["resources"]["limits"]


def test_the_ports_agree_between_image_settings_and_service(objects: Objects) -> None:
    port = container(objects)["ports"][0]
    assert str(port["containerPort"]) == objects["ConfigMap"]["data"]["FUSIONREC_PORT"]
    assert ("EXPOSE", str(port["containerPort"])) in final_stage(dockerfile_instructions())
    (service_port,) = objects["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == port["name"]
    labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert objects["Service"]["spec"]["selector"].items() <= labels.items()


def test_the_autoscaler_scales_the_deployment_on_cpu(objects: Objects) -> None:
    hpa = objects["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "fusionrec"}
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_the_artifacts_come_read_only_from_the_claim(objects: Objects) -> None:
    volumes = {volume["name"]: volume for volume in pod(objects)["volumes"]}
    claim = objects["PersistentVolumeClaim"]
    (mount,) = [mount for mount in container(objects)["volumeMounts"] if mount["mountPath"] == "/artifacts"]
    assert mount["readOnly"] is True
    assert volumes[mount["name"]]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]  # every replica, on any node, mounts it
    assert objects["ConfigMap"]["data"]["FUSIONREC_ARTIFACT"].startswith("/artifacts/")


def test_the_key_comes_from_the_secret_as_a_file(objects: Objects) -> None:
    main, secret = container(objects), objects["Secret"]
    env = {item["name"]: item["value"] for item in main["env"]}
    volumes = {volume["name"]: volume for volume in pod(objects)["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in main["volumeMounts"]}
    for variable in ("FUSIONREC_API_KEY_FILE", "PGPASSWORD_FILE"):
        folder, _, key = env[variable].rpartition("/")
        assert volumes[mounts[folder]]["secret"]["secretName"] == secret["metadata"]["name"]
        assert key in secret["stringData"]
    assert "FUSIONREC_API_KEY" not in objects["ConfigMap"]["data"]


def test_the_secret_holds_the_placeholder_the_entrypoint_refuses(objects: Objects) -> None:
    placeholder = re.search(r'^PLACEHOLDER_KEY="([^"]+)"', ENTRYPOINT.read_text(), re.MULTILINE)
    assert placeholder is not None
    assert objects["Secret"]["stringData"]["api-key"] == placeholder.group(1)


def test_every_setting_in_the_config_map_is_one_the_service_reads(objects: Objects) -> None:
    unknown = [name for name in objects["ConfigMap"]["data"] if not known_variable(name)]
    assert not unknown, f"the ConfigMap sets {unknown}, which neither the entrypoint nor ServeSettings reads"


def test_the_setting_check_catches_a_misspelt_name() -> None:
    assert known_variable("FUSIONREC_HNSW_EF_SEARCH") and known_variable("FUSIONREC_WORKERS")
    assert not known_variable("FUSIONREC_HNSW_EFSEARCH") and not known_variable("FUSIONREC_WORKER")
