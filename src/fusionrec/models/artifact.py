"""Model artifacts: a folder that rebuilds a fitted model without pickle.

Layout of an artifact folder::

    manifest.json        format_version, component ("module:Class"), params, train_config,
                         versions, data_fingerprint, created_at, media_root, files {name: sha256},
                         encoders (the EncoderSpec each modality's features were made with, or null)
    state.safetensors    model.state_arrays()
    data.safetensors     train interactions, modality features and their masks, user content (when any)
    vocab.json           {"users": [...], "items": [...]} raw ids in index order
    items.json           the item table {"columns": [...], "rows": [[...], ...]} (when there is one)
    vectors.safetensors  user_vectors, item_vectors (when the model has embeddings)

Loading checks the format version, every checksum (see
:mod:`fusionrec.models.manifest`) and the data fingerprint before anything
is built, imports the model class only from trusted module prefixes
(``fusionrec.`` by default) and never unpickles.
A folder is written under a temporary name and renamed when complete, so an
interrupted save never looks like an artifact.

Example:
    >>> path = save_artifact(model, "artifacts/ml100k")  # doctest: +SKIP
    >>> loaded = load_artifact(path)  # doctest: +SKIP
    >>> loaded.model.recommend(["196"], k=5)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from safetensors.numpy import save

from fusionrec.data.dataset import Dataset, Protocol, Split, UserContent
from fusionrec.data.interactions import Interactions
from fusionrec.data.vocabulary import Vocabulary
from fusionrec.errors import ArtifactError
from fusionrec.models.base import Recommender
from fusionrec.models.blocks import loads_id_lists, read_safetensors
from fusionrec.models.manifest import (
    DATA,
    FORMAT_VERSION,
    ITEMS,
    MANIFEST,
    RESERVED_NAMES,
    STATE,
    USER_TEXTS,
    VECTORS,
    VOCAB,
    data_fingerprint,
    encoder_entries,
    encoder_specs,
    file_sha256,
    library_versions,
    read_manifest,
    verify_artifact,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fusionrec.encoders.config import EncoderSpec

logger = logging.getLogger(__name__)

TRUSTED_MODULES = ("fusionrec.",)
_VECTOR_TOLERANCE = 1e-4
_CHECK_ROWS = 16_384
USER_VALUES, USER_MASK = "user_content/values", "user_content/mask"


@dataclass
class LoadedArtifact:
    """A model rebuilt from an artifact folder.

    Attributes:
        path: the artifact folder.
        manifest: the parsed ``manifest.json``.
        model: the fitted recommender (no training happened).
        split: the training data (valid and test are empty).
        user_vectors: float32 (n_users, d) stored user vectors, or None.
        item_vectors: float32 (n_items, d) stored item vectors, or None.
        encoders: how each modality's features were made (empty when the artifact does not say),
            so that new content can be encoded the same way.
    """

    path: Path
    manifest: dict[str, Any]
    model: Recommender
    split: Split
    user_vectors: np.ndarray | None = None
    item_vectors: np.ndarray | None = None
    encoders: list[EncoderSpec] = field(default_factory=list)


def save_artifact(
    model: Recommender,
    path: str | Path,
    *,
    overwrite: bool = False,
    extra_files: Mapping[str, str | bytes] | None = None,
    encoders: Sequence[EncoderSpec] | None = None,
) -> Path:
    """Write a fitted ``model`` and the data it needs as an artifact folder.

    Args:
        model: a fitted recommender whose class implements ``state_arrays()``.
        path: the folder to create.
        overwrite: replace an existing folder at ``path``.
        extra_files: more files to store and checksum, ``{plain file name: text or bytes}``
            (e.g. the resolved experiment config).
        encoders: the specs the model's content features were encoded with (see
            :func:`~fusionrec.encoders.encode_dataset`); a server encodes new items' raw content with them.
            When None, those of an ``experiment.json`` extra file are used when it lists any.

    Returns:
        The artifact folder.

    Example:
        >>> save_artifact(build_model("bpr").fit(split), "artifacts/bpr")  # doctest: +SKIP
        >>> save_artifact(model, "artifacts/ml100k", encoders=resolve_specs(split.dataset))  # doctest: +SKIP
    """
    split = model._require_fitted()
    specs = None if encoders is None else encoder_entries(encoders, split.dataset.modalities)
    path = Path(path)
    if path.exists() and not overwrite:
        raise ArtifactError(f"{path} already exists; choose another folder or pass overwrite=True")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        _write_extra_files(staging, extra_files or {})
        files = _write_files(model, split, staging)
        manifest = {**_manifest(model, split, files), "encoders": specs}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_refuse_json))
        if path.exists():
            shutil.rmtree(path)
        staging.rename(path)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info("saved %s artifact to %s (%d files)", type(model).__name__, path, len(files) + 1)
    return path


def _write_extra_files(folder: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        if Path(name).name != name or name in RESERVED_NAMES or name.startswith("."):
            raise ArtifactError(
                f"extra file name {name!r} must be a plain file name other than {sorted(RESERVED_NAMES)}"
            )
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)


def _write_safetensors(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.write_bytes(save({name: np.ascontiguousarray(value) for name, value in arrays.items()}))


def _write_files(model: Recommender, split: Split, folder: Path) -> dict[str, str]:
    dataset = split.dataset
    _write_safetensors(folder / STATE, model.state_arrays())
    _write_safetensors(folder / DATA, _data_arrays(split))
    (folder / VOCAB).write_text(json.dumps({"users": list(dataset.users.ids), "items": list(dataset.items.ids)}))
    if dataset.item_table is not None:
        (folder / ITEMS).write_text(json.dumps(_table_to_json(dataset.item_table)))
    if split.user_content is not None and split.user_content.texts is not None:
        (folder / USER_TEXTS).write_text(json.dumps(list(split.user_content.texts), ensure_ascii=False))
    vectors = _model_vectors(model, dataset.n_users)
    if vectors:
        _write_safetensors(folder / VECTORS, vectors)
    return {p.name: file_sha256(p) for p in sorted(folder.iterdir())}


def _manifest(model: Recommender, split: Split, files: dict[str, str]) -> dict[str, Any]:
    config = getattr(model, "train_config", None)
    media_root = split.dataset.media_root
    return {
        "format_version": FORMAT_VERSION,
        "component": f"{type(model).__module__}:{type(model).__qualname__}",
        "name": model.name,
        "params": model.get_params(),
        "train_config": config.model_dump() if config is not None else None,
        "versions": library_versions(),
        "dataset": split.dataset.name,
        "protocol": split.protocol,
        "data_fingerprint": data_fingerprint(split),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "media_root": str(Path(media_root).resolve()) if media_root is not None else None,
        "files": files,
    }


def _data_arrays(split: Split) -> dict[str, np.ndarray]:
    train, dataset = split.train, split.dataset
    arrays = {"train/user_index": train.user_index, "train/item_index": train.item_index}
    if train.rating is not None:
        arrays["train/rating"] = train.rating
    if train.timestamp is not None:
        arrays["train/timestamp"] = train.timestamp
    for modality in dataset.modalities:
        arrays[f"feature/{modality}"] = dataset.features[modality]
        arrays[f"mask/{modality}"] = dataset.feature_mask(modality)
    if split.user_content is not None:
        arrays[USER_VALUES], arrays[USER_MASK] = split.user_content.values, split.user_content.mask
    return arrays


def _model_vectors(model: Recommender, n_users: int) -> dict[str, np.ndarray]:
    items = model.item_embeddings()
    users = model.user_embeddings(np.arange(n_users, dtype=np.int64))
    if items is None or users is None:
        return {}
    return {"user_vectors": np.asarray(users, np.float32), "item_vectors": np.asarray(items, np.float32)}


def _table_to_json(table: pd.DataFrame) -> dict[str, Any]:
    frame = table.astype(object).where(table.notna(), None)
    rows = [[None if v is None else str(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return {"columns": [str(c) for c in table.columns], "rows": rows}


def _refuse_json(value: object) -> Any:
    raise ArtifactError(
        f"a model parameter of type {type(value).__name__} ({value!r:.80}) cannot be written to manifest.json; "
        "hyper-parameters must be JSON values (numbers, strings, lists, dicts)"
    )


def load_artifact(path: str | Path, *, trusted_modules: tuple[str, ...] = TRUSTED_MODULES) -> LoadedArtifact:
    """Verify an artifact folder and rebuild its model (no training, no pickle).

    Args:
        path: a folder written by :func:`save_artifact`.
        trusted_modules: module prefixes whose classes may be imported from
            the manifest's ``component``; add your package to load plug-in models.

    Returns:
        The rebuilt model, its training split and the stored vectors.

    Example:
        >>> loaded = load_artifact("artifacts/bpr")  # doctest: +SKIP
        >>> loaded.model.score_users(np.array([0])).shape  # doctest: +SKIP
        (1, 1682)
    """
    path = Path(path)
    manifest = verify_artifact(path)
    _log_version_differences(path, manifest.get("versions") or {})
    split = _rebuild_split(path, manifest, read_safetensors(path / DATA))
    if data_fingerprint(split) != manifest.get("data_fingerprint"):
        raise ArtifactError(f"{path}: the training data does not match the manifest's data_fingerprint; save again")
    model = _build_model(manifest, trusted_modules, path)
    model.load_state_arrays(split, read_safetensors(path / STATE))
    loaded = LoadedArtifact(path, manifest, model, split)
    loaded.encoders = encoder_specs(path, manifest, split.dataset.modalities)
    if VECTORS in manifest["files"]:
        vectors = read_safetensors(path / VECTORS)
        loaded.user_vectors, loaded.item_vectors = vectors["user_vectors"], vectors["item_vectors"]
        _check_vectors(loaded)
    logger.info("loaded %s from %s (%d users, %d items)", manifest["component"], path, split.n_users, split.n_items)
    return loaded


def _rebuild_split(path: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Split:
    vocab = loads_id_lists((path / VOCAB).read_text())
    users = Vocabulary(tuple(vocab["users"]), kind="user")
    items = Vocabulary(tuple(vocab["items"]), kind="item")
    train = Interactions(
        arrays["train/user_index"],
        arrays["train/item_index"],
        len(users),
        len(items),
        arrays.get("train/rating"),
        arrays.get("train/timestamp"),
    )
    media_root = manifest.get("media_root")
    dataset = Dataset(
        name=str(manifest.get("dataset", path.name)),
        users=users,
        items=items,
        interactions=train,
        item_table=_read_item_table(path) if ITEMS in manifest["files"] else None,
        media_root=Path(media_root) if media_root else None,
    )
    for key, values in arrays.items():
        if key.startswith("feature/"):
            modality = key.split("/", 1)[1]
            dataset.add_feature(modality, values, arrays.get(f"mask/{modality}"), source=f"{path / DATA}:{key}")
    empty = Interactions.empty(len(users), len(items))
    protocol: Protocol = "cold" if manifest.get("protocol") == "cold" else "warm"
    content = None
    if USER_VALUES in arrays:
        texts = json.loads((path / USER_TEXTS).read_text()) if USER_TEXTS in manifest["files"] else None
        content = UserContent(
            arrays[USER_VALUES], arrays[USER_MASK], source=f"{path / DATA}:{USER_VALUES}", texts=texts
        )
    description = f"train part restored from {path}"
    return Split(dataset, train, empty, empty, protocol=protocol, description=description, user_content=content)


def _read_item_table(path: Path) -> pd.DataFrame:
    table = json.loads((path / ITEMS).read_text())
    return pd.DataFrame(table["rows"], columns=table["columns"], dtype=object)


def _build_model(manifest: dict[str, Any], trusted_modules: tuple[str, ...], path: Path) -> Recommender:
    component = str(manifest.get("component", ""))
    module_name, _, class_name = component.partition(":")
    if not class_name or not module_name.startswith(trusted_modules):
        raise ArtifactError(
            f"{path / MANIFEST} names component {component!r}; only classes in modules starting with "
            f"{list(trusted_modules)} are loaded. Pass trusted_modules=(..., 'yourpackage.') to trust a plug-in"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ArtifactError(
            f"{path}: component {component!r} cannot be imported ({exc}); install the fusionrec version that "
            f"saved it ({manifest.get('versions', {}).get('fusionrec')})"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Recommender)):
        raise ArtifactError(f"{path}: component {component!r} is not a Recommender class; refusing to build it")
    params = dict(manifest.get("params") or {})
    if manifest.get("train_config") is not None:
        params["train_config"] = manifest["train_config"]
    model: Recommender = cls(**params)
    return model


def _check_vectors(loaded: LoadedArtifact) -> None:
    rebuilt = loaded.model.item_embeddings()
    stored = loaded.item_vectors
    if rebuilt is None or stored is None:
        return
    if rebuilt.shape != stored.shape or not _close_in_blocks(rebuilt, stored):
        raise ArtifactError(
            f"{loaded.path}: the model rebuilt from {STATE} gives item vectors {rebuilt.shape} that differ from "
            f"{VECTORS} {stored.shape}; it was saved by another version of its model class. Save it again"
        )


def _close_in_blocks(rebuilt: np.ndarray, stored: np.ndarray) -> bool:
    """``np.allclose`` of two (n, d) arrays a block of rows at a time: its temporaries stay small, and a
    load beside serving threads (a swap) lets them run between blocks."""
    return all(
        np.allclose(
            rebuilt[first : first + _CHECK_ROWS], stored[first : first + _CHECK_ROWS], atol=_VECTOR_TOLERANCE, rtol=1e-3
        )
        for first in range(0, max(len(stored), 1), _CHECK_ROWS)
    )


def _log_version_differences(path: Path, saved: dict[str, Any]) -> None:
    current = library_versions()
    for name in ("fusionrec", "numpy", "torch"):
        if saved.get(name) and current.get(name) and saved[name] != current[name]:
            logger.warning("%s was saved with %s %s; running %s %s", path, name, saved[name], name, current[name])


__all__ = [
    "FORMAT_VERSION",
    "LoadedArtifact",
    "data_fingerprint",
    "library_versions",
    "load_artifact",
    "read_manifest",
    "save_artifact",
    "verify_artifact",
]
