"""The artifact manifest: format version, file names, checksums and the data fingerprint.

Everything here reads or describes an artifact folder without building a
model: :func:`read_manifest` checks the format version, :func:`verify_artifact`
checks the sha256 of every listed file. :mod:`fusionrec.models.artifact`
writes and loads the folders these describe.

Example:
    >>> manifest = verify_artifact("artifacts/ml100k")  # doctest: +SKIP
    >>> manifest["component"]  # doctest: +SKIP
    'fusionrec.models.fusion_graph:FusionGraph'
"""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from fusionrec.data.dataset import Split
from fusionrec.encoders.config import EncoderSpec
from fusionrec.errors import ArtifactError
from fusionrec.models.blocks import dumps_in_blocks

if TYPE_CHECKING:
    from collections.abc import Sequence


FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STATE, DATA, VOCAB, ITEMS, VECTORS = (
    "state.safetensors",
    "data.safetensors",
    "vocab.json",
    "items.json",
    "vectors.safetensors",
)
#: The texts of the training user content (LLM profiles), one per user index ("" where masked).
USER_TEXTS = "user_texts.json"
RESERVED_NAMES = frozenset({MANIFEST, STATE, DATA, VOCAB, ITEMS, VECTORS, USER_TEXTS})
#: The resolved experiment ``fusionrec train --save`` stores beside the model (its ``encoders`` are read back).
EXPERIMENT = "experiment.json"


def library_versions() -> dict[str, str | None]:
    """Versions of fusionrec, numpy, torch and Python that wrote (or read) an artifact."""

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "fusionrec": version("fusionrec"),
        "numpy": np.__version__,
        "torch": version("torch"),
        "python": platform.python_version(),
    }


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_fingerprint(split: Split) -> str:
    """sha256 over the train interactions and both vocabularies (identifies the training data)."""
    digest = hashlib.sha256()
    for array in (split.train.user_index, split.train.item_index):
        digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
    for vocabulary in (split.dataset.users, split.dataset.items):
        for piece in dumps_in_blocks(vocabulary.ids):  # the bytes of json.dumps(list(ids)), a slice at a time
            digest.update(piece)
    return digest.hexdigest()


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the artifact at ``path``, checked for format version (files are not read)."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise ArtifactError(f"{path} is not a folder; an artifact is a folder written by save_artifact()")
    if not manifest_path.is_file():
        raise ArtifactError(
            f"{path} has no {MANIFEST}; it is not an artifact or its save was interrupted. Save the model again"
        )
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(
            f"{manifest_path} is not valid JSON ({exc}); the artifact is damaged, save it again"
        ) from exc
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has artifact format_version {version!r} but this fusionrec reads format {FORMAT_VERSION}; "
            "save the model again with this version of fusionrec"
        )
    return manifest


def verify_artifact(path: str | Path) -> dict[str, Any]:
    """Check the format version and the sha256 of every listed file; returns the manifest.

    Raises:
        ArtifactError: naming the missing or changed file and what to do.
    """
    path = Path(path)
    manifest = read_manifest(path)
    files = manifest.get("files")
    if not isinstance(files, dict) or STATE not in files or VOCAB not in files or DATA not in files:
        raise ArtifactError(f"{path / MANIFEST} does not list {STATE}, {DATA} and {VOCAB}; save the model again")
    for name, expected in files.items():
        _verify_file(path, name, expected, len(files))
    return manifest


def _verify_file(folder: Path, name: str, expected: object, n_files: int) -> None:
    file = folder / name
    if Path(name).name != name:
        raise ArtifactError(f"{folder / MANIFEST} lists {name!r}, which is not a plain file name; refusing it")
    if not file.is_file():
        raise ArtifactError(
            f"{file} is missing ({n_files} files are listed in the manifest); the artifact is partial, "
            "copy the whole folder again or save the model again"
        )
    actual = file_sha256(file)
    if actual != expected:
        raise ArtifactError(
            f"{file} has sha256 {actual[:16]}... but the manifest expects {str(expected)[:16]}...; "
            "the file was changed or damaged after saving. Restore it or save the model again"
        )


def encoder_entries(specs: Sequence[EncoderSpec], modalities: Sequence[str]) -> list[dict[str, Any]]:
    """The manifest's ``encoders``: one JSON spec per modality whose features an encoder made.

    Raises:
        ArtifactError: a spec names a modality the training data lacks, or two specs make one modality.
    """
    entries = [spec.model_dump(mode="json") for entry in specs for spec in entry.expand()]
    made = [str(entry["modality"]) for entry in entries]
    unknown = sorted(set(made) - set(modalities))
    if unknown or len(set(made)) != len(made):
        raise ArtifactError(
            f"encoder specs make modalities {made} but the training data has {list(modalities)}; "
            "give one spec per modality, the one its features were encoded with"
        )
    return entries


def encoder_specs(path: Path, manifest: dict[str, Any], modalities: Sequence[str]) -> list[EncoderSpec]:
    """How the artifact's features were made: the manifest's ``encoders``, else those of its ``experiment.json``.

    Returns an empty list for an artifact that records none (its model then
    takes precomputed features only). Specs of modalities the training data
    lacks are left out.
    """
    entries, source = manifest.get("encoders"), path / MANIFEST
    if entries is None and EXPERIMENT in (manifest.get("files") or {}):
        source = path / EXPERIMENT
        entries = _read_json(source).get("encoders")
    if not entries:
        return []
    if not isinstance(entries, list):
        raise ArtifactError(f"{source}: 'encoders' is {type(entries).__name__}; a list of encoder specs is expected")
    try:
        specs = [EncoderSpec.model_validate(entry) for entry in entries]
    except ValidationError as exc:
        raise ArtifactError(f"{source}: an encoder spec is invalid ({exc.errors()[0]['msg']}); save again") from exc
    return [s for spec in specs for s in spec.expand() if s.modality in modalities]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc}); the artifact is damaged, save it again") from exc
    if not isinstance(value, dict):
        raise ArtifactError(f"{path} holds a {type(value).__name__}; a JSON object is expected")
    return value


__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "data_fingerprint",
    "encoder_entries",
    "encoder_specs",
    "file_sha256",
    "library_versions",
    "read_manifest",
    "verify_artifact",
]
