"""Where the deployment files are, the validators' binaries, and small readers of the files."""

from __future__ import annotations

import re
import shutil
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from fusionrec.serve.settings import ServeSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY = ROOT / "deploy"
ENTRYPOINT = DEPLOY / "entrypoint.sh"
HEALTHCHECK = DEPLOY / "healthcheck.py"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"


def tool(name: str) -> str:
    """The path of a validator binary installed by the ``dev`` extra (in this interpreter's bin folder or PATH)."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed; pip install -c constraints.txt -e '.[dev]' (or make setup)")
    return found


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of ``path``."""
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def kubernetes_manifests() -> list[Path]:
    """Every manifest of deploy/k8s that goes to the API server (the kustomization only lists them)."""
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def kubernetes_objects() -> dict[str, dict[str, Any]]:
    """``{kind: object}`` of deploy/k8s (one object per kind there)."""
    objects = [doc for path in kubernetes_manifests() for doc in yaml_documents(path)]
    by_kind = {obj["kind"]: obj for obj in objects}
    assert len(by_kind) == len(objects), "deploy/k8s holds two objects of one kind; the tests expect one each"
    return by_kind


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, with continued lines joined and comments dropped."""
    joined = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", path.read_text())
    pairs = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            pairs.append((instruction.upper(), " ".join(arguments.split())))
    return pairs


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The instructions of the last ``FROM`` stage (the image that runs)."""
    last_from = max(i for i, (instruction, _) in enumerate(instructions) if instruction == "FROM")
    return instructions[last_from:]


def in_build_context(relative: str, ignore_file: Path = DOCKERIGNORE) -> bool:
    """Whether ``.dockerignore`` lets ``relative`` (a path in the repository) into the build context.

    The last pattern that matches the path or one of its parent folders decides, as in Docker.
    """
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for line in ignore_file.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        matches = any(fnmatch(candidate, pattern) for candidate in candidates)
        if pattern.startswith("**/"):
            matches = matches or any(fnmatch(candidate, pattern[3:]) for candidate in candidates)
        if matches:
            included = negated
    return included


def entrypoint_variables() -> set[str]:
    """The variables deploy/entrypoint.sh names (its header lists those it reads)."""
    return set(re.findall(r"\b(?:FUSIONREC_[A-Z_]+|PGPASSWORD(?:_FILE)?)\b", ENTRYPOINT.read_text()))


def known_variable(name: str) -> bool:
    """A setting of the service (``FUSIONREC_<field>``) or one the entrypoint reads."""
    field = name.removeprefix("FUSIONREC_").lower()
    return name in entrypoint_variables() or (name.startswith("FUSIONREC_") and field in ServeSettings.model_fields)
