"""Shared plumbing of the file-based encoders (images, audio, video).

A :class:`FileEncoder` decodes each path on its own, so one bad file masks
one row and never the batch: a decoder raises :class:`Unusable` with a short
reason ("file not found", "empty file", "corrupt image") that the encode
report counts. Decoded inputs then go through the model together.
"""

from __future__ import annotations

import hashlib
import logging
import os
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fusionrec.encoders.base import Encoder, EncodeResult

logger = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20


class Unusable(Exception):
    """An input that cannot be encoded; the message is the reason shown in reports."""


def check_file(path: str | os.PathLike[str] | None) -> Path:
    """The path as a ``Path`` if it names a non-empty file, else :class:`Unusable`."""
    if path is None or str(path) == "":
        raise Unusable("no file given")
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise Unusable("file not found") from None
    except OSError as exc:
        raise Unusable(f"unreadable file ({exc.strerror})") from None
    if not path.is_file():
        raise Unusable("not a file")
    if size == 0:
        raise Unusable("empty file")
    return path


def file_digest(path: str | os.PathLike[str] | None) -> bytes:
    """sha256 of a file's bytes (32 bytes); :class:`Unusable` when it is missing or empty."""
    checked = check_file(path)
    digest = hashlib.sha256()
    with checked.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.digest()


class FileEncoder(Encoder):
    """An encoder whose inputs are file paths, decoded one by one and embedded in batches."""

    def content_key(self, item: Any) -> bytes:
        return file_digest(item)

    @abstractmethod
    def decode(self, path: Path) -> Any:
        """Read one file into the model's input; raise :class:`Unusable` when it cannot be used."""

    @abstractmethod
    def embed(self, decoded: list[Any]) -> np.ndarray:
        """float32 (len(decoded), dim) features of decoded inputs."""

    def _encode(self, batch: Sequence[Any]) -> EncodeResult:
        decoded: list[Any] = []
        reasons: list[str] = []
        for item in batch:
            try:
                decoded.append(self.decode(check_file(item)))
                reasons.append("")
            except Unusable as exc:
                logger.debug("%s: %s is unusable: %s", self.name, item, exc)
                decoded.append(None)
                reasons.append(str(exc))
        usable = [d for d in decoded if d is not None]
        size = max(1, self.config.batch_size)
        parts = [self.embed(usable[start : start + size]) for start in range(0, len(usable), size)]
        embedded = iter(np.concatenate(parts)) if parts else iter(())
        rows = [None if d is None else next(embedded) for d in decoded]
        return EncodeResult.assemble(self.dim, rows, reasons)
