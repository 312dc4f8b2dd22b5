"""Precomputed features as a modality like any other: rows of an MMRec ``.npy`` or a column of vectors.

A vector may come as a sequence of numbers or as text (``"[0.1, 0.2]"``,
``"0.1 0.2"``). Empty, unparsable, non-finite and wrongly sized vectors are
masked with their reason, like unreadable media.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from fusionrec.encoders.base import Encoder, EncoderConfig, EncodeResult
from fusionrec.errors import EncoderError

_SEPARATORS = re.compile(r"[\s,;]+")


class PrecomputedConfig(EncoderConfig):
    """``dim`` is inferred from the first usable vector unless given."""

    dim: int | None = None
    #: MMRec releases often store a missing item as an all-zero row; set True to mask those.
    zero_is_missing: bool = False
    batch_size: int = 100_000


def parse_vector(value: Any) -> np.ndarray:
    """float64 (d,) from a sequence or a text such as ``"[0.1, 0.2]"``; (0,) when empty."""
    if value is None:
        return np.zeros(0)
    if isinstance(value, str):
        body = value.strip().strip("[]()").strip()
        return np.array([float(x) for x in _SEPARATORS.split(body)] if body else [], dtype=np.float64)
    return np.asarray(value, dtype=np.float64).reshape(-1)


class PrecomputedEncoder(Encoder):
    """Passes given vectors through, checking each one."""

    name = "precomputed"
    kind = "vector"
    config_class = PrecomputedConfig
    cacheable = False  # reading the vectors is as cheap as reading a cache

    def fit(self, inputs: Sequence[Any]) -> PrecomputedEncoder:
        if self.config.dim is None:
            for value in inputs:
                vector = self._parse(value)
                if vector is not None and len(vector):
                    self.dim_ = len(vector)
                    return self
            raise EncoderError("no usable vector to infer the dimension from; set dim=... or check the column")
        self.dim_ = int(self.config.dim)
        return self

    @property
    def dim(self) -> int:
        if self.config.dim is not None:
            return int(self.config.dim)
        if not hasattr(self, "dim_"):
            raise EncoderError("the precomputed encoder does not know its dimension; call fit(vectors) or set dim")
        return int(self.dim_)

    @staticmethod
    def _parse(value: Any) -> np.ndarray | None:
        try:
            return parse_vector(value)
        except (TypeError, ValueError):
            return None

    def _encode(self, batch: Sequence[Any]) -> EncodeResult:
        rows: list[np.ndarray | None] = []
        reasons: list[str] = []
        for value in batch:
            vector, reason = self._check(self._parse(value))
            rows.append(vector)
            reasons.append(reason)
        return EncodeResult.assemble(self.dim, rows, reasons)

    def _check(self, vector: np.ndarray | None) -> tuple[np.ndarray | None, str]:
        if vector is None:
            return None, "unparsable vector"
        if len(vector) == 0:
            return None, "no vector"
        if len(vector) != self.dim:
            return None, f"wrong length (expected {self.dim})"
        if not np.all(np.isfinite(vector)):
            return None, "non-finite values"
        if self.config.zero_is_missing and not np.any(vector):
            return None, "all-zero vector"
        return vector.astype(np.float32), ""
