"""The feature cache: features keyed by encoder identity and a hash of each item's content.

Layout, one folder per encoder identity (name + version + config)::

    <root>/<encoder>-<digest>/manifest.json     what made these features, and their dim
    <root>/<encoder>-<digest>/shard-*.npz       keys uint8 (n, 32), values float32 (n, dim),
                                                mask bool (n,), reasons str (n,)

A shard is written to a hidden temporary file, flushed to disk and renamed
into place, so a reader sees a whole shard or none: interrupted runs leave at
most an ignored temporary file, and concurrent writers each add their own
shards. Shards are merged when there are many (under a lock). Arrays are
loaded with ``allow_pickle=False``; nothing is ever unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fusionrec.errors import ArtifactError

if sys.platform != "win32":  # advisory locks; Windows has none, and the cache then never merges
    import fcntl

logger = logging.getLogger(__name__)

KEY_BYTES = 32
FORMAT = 1
#: More shards than this are merged into one after a write.
MAX_SHARDS = 16
_VANISHED: dict[str, np.ndarray] = {}


def default_cache_dir() -> Path:
    """``$FUSIONREC_CACHE``, else ``~/.cache/fusionrec``."""
    value = os.environ.get("FUSIONREC_CACHE")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "fusionrec"


def identity_digest(identity: dict[str, Any]) -> str:
    """16 hex digits of sha256 over the canonical JSON of an encoder identity."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


@dataclass
class CachedRows:
    """Rows found in the cache for a list of keys.

    Attributes:
        found: bool (n,), True where the key was cached.
        values: float32 (n, dim); zero where not found or masked.
        mask: bool (n,), the cached usable flag (False where not found).
        reasons: n strings, the cached reason for masked rows.
    """

    found: np.ndarray
    values: np.ndarray
    mask: np.ndarray
    reasons: list[str]


class FeatureCache:
    """A folder of feature stores, one per encoder identity.

    Example:
        >>> cache = FeatureCache("/tmp/fusionrec-cache")
        >>> store = cache.store({"encoder": "tfidf", "config": {}}, dim=4)
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir() / "features"

    def store(self, identity: dict[str, Any], dim: int | None = None) -> FeatureStore:
        """The store for one encoder identity (created on first write)."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(identity.get("encoder", "encoder")))
        return FeatureStore(self.root / f"{slug}-{identity_digest(identity)}", identity, dim)


class FeatureStore:
    """Cached features of one encoder identity."""

    def __init__(self, folder: Path, identity: dict[str, Any], dim: int | None = None) -> None:
        self.folder = folder
        self.identity = identity
        self.dim = dim
        self.skipped: list[str] = []
        self._index: dict[bytes, tuple[int, int]] = {}
        self._shards: list[dict[str, np.ndarray]] = []
        self._read = False

    def __len__(self) -> int:
        self._ensure_read()
        return len(self._index)

    @property
    def manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    def shard_paths(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.npz"))

    def _ensure_read(self) -> None:
        if not self._read:
            self.refresh()

    def refresh(self) -> None:
        """(Re)read the manifest and every complete shard."""
        self._index, self._shards, self.skipped = {}, [], []
        self._read = True
        if not self.manifest_path.is_file():
            return
        self._check_manifest()
        for _attempt in range(3):
            vanished = False
            for path in self.shard_paths():
                arrays = self._read_shard(path)
                vanished = vanished or arrays is _VANISHED
                if arrays is not None and arrays is not _VANISHED:
                    self._add_to_index(arrays)
            if not vanished:
                return
            # a concurrent merge removed a listed shard: list again to find the merged one
            self._index, self._shards, self.skipped = {}, [], []

    def _check_manifest(self) -> None:
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"{self.manifest_path} is unreadable ({exc}); delete {self.folder} to rebuild") from exc
        if manifest.get("identity") != json.loads(json.dumps(self.identity, default=str)):
            raise ArtifactError(
                f"{self.manifest_path} describes {manifest.get('identity')} but {self.identity} was expected; "
                f"the cache folder was altered, delete {self.folder} to rebuild it"
            )
        if self.dim is None:
            self.dim = int(manifest["dim"])
        elif int(manifest["dim"]) != self.dim:
            raise ArtifactError(f"{self.manifest_path} says dim {manifest['dim']} but the encoder gives {self.dim}")

    def _read_shard(self, path: Path) -> dict[str, np.ndarray] | None:
        try:
            with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ("keys", "values", "mask", "reasons")}
        except FileNotFoundError:  # merged away by a concurrent writer; its rows are in the merged shard
            return _VANISHED
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            logger.warning("feature cache: skipping unreadable shard %s (%s)", path, exc)
            self.skipped.append(path.name)
            return None
        n = len(arrays["keys"])
        valid = (
            arrays["keys"].shape == (n, KEY_BYTES)
            and arrays["values"].shape == (n, self.dim)
            and arrays["mask"].shape == (n,)
            and arrays["reasons"].shape == (n,)
        )
        if not valid:
            logger.warning("feature cache: skipping shard %s with inconsistent shapes", path)
            self.skipped.append(path.name)
            return None
        return arrays

    def _add_to_index(self, arrays: dict[str, np.ndarray]) -> None:
        shard = len(self._shards)
        self._shards.append(arrays)
        for row, key in enumerate(arrays["keys"]):
            self._index[key.tobytes()] = (shard, row)

    def lookup(self, keys: Sequence[bytes]) -> CachedRows:
        """The cached rows of ``keys`` (n 32-byte digests)."""
        self._ensure_read()
        n, dim = len(keys), self.dim or 0
        found, mask = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        values = np.zeros((n, dim), dtype=np.float32)
        reasons = [""] * n
        for i, key in enumerate(keys):
            hit = self._index.get(key)
            if hit is None:
                continue
            shard = self._shards[hit[0]]
            found[i], mask[i], values[i] = True, shard["mask"][hit[1]], shard["values"][hit[1]]
            reasons[i] = str(shard["reasons"][hit[1]])
        return CachedRows(found, values, mask, reasons)

    def add(self, keys: Sequence[bytes], values: np.ndarray, mask: np.ndarray, reasons: Sequence[str]) -> Path | None:
        """Write one shard with these rows (float32 (n, dim) values); returns its path."""
        if len(keys) == 0:
            return None
        dim = values.shape[1]
        if self.dim is None:
            self.dim = dim
        if dim != self.dim or len(keys) != len(values):
            raise ArtifactError(f"cannot cache {values.shape} values for {len(keys)} keys in a store of dim {self.dim}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_manifest()
        arrays: dict[str, np.ndarray] = {
            "keys": np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), KEY_BYTES),
            "values": np.ascontiguousarray(values, dtype=np.float32),
            "mask": np.asarray(mask, dtype=bool),
            "reasons": np.asarray([str(r) for r in reasons], dtype=str),
        }
        path = self._write_atomically(arrays)
        self._ensure_read()
        self._add_to_index(arrays)
        if len(self.shard_paths()) > MAX_SHARDS:
            self.compact()
        return path

    def _write_manifest(self) -> None:
        if self.manifest_path.is_file():
            return
        manifest = {"format": FORMAT, "identity": self.identity, "dim": self.dim, "created": time.time()}
        tmp = self.folder / f".tmp-{uuid.uuid4().hex}.json"
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str), encoding="utf-8")
        os.replace(tmp, self.manifest_path)  # identical content from any writer: last rename wins harmlessly

    def _write_atomically(self, arrays: dict[str, np.ndarray]) -> Path:
        tmp = self.folder / f".tmp-{uuid.uuid4().hex}.npz"
        final = self.folder / f"shard-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.npz"
        try:
            with tmp.open("wb") as handle:
                np.savez(handle, **arrays)  # type: ignore[arg-type]
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def compact(self) -> None:
        """Merge the current shards into one; skipped when another process holds the lock."""
        with self._lock() as acquired:
            if not acquired:
                return
            paths = self.shard_paths()  # exactly these are merged and removed; newer shards stay
            if len(paths) < 2:
                return
            latest: dict[bytes, tuple[dict[str, np.ndarray], int]] = {}
            for path in paths:
                arrays = self._read_shard(path)
                if arrays is None or arrays is _VANISHED:
                    continue
                for row, key in enumerate(arrays["keys"]):
                    latest[key.tobytes()] = (arrays, row)
            if latest:
                merged = {
                    name: np.stack([arrays[name][row] for arrays, row in latest.values()])
                    for name in ("keys", "values", "mask")
                }
                merged["reasons"] = np.asarray([str(a["reasons"][r]) for a, r in latest.values()], dtype=str)
                self._write_atomically(merged)
            for path in paths:
                path.unlink(missing_ok=True)
        self.refresh()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[bool]:
        if sys.platform == "win32":  # no advisory locks: never merge
            yield False
            return
        with (self.folder / ".lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
