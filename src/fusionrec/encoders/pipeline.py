"""Encode a dataset's items, modality by modality, through the feature cache.

For each spec: collect one raw input per item, hash the usable ones, take
what the cache already holds, encode the rest in chunks (each chunk is
cached as soon as it is done, so an interrupted run keeps its work), and
attach ``(n_items, dim)`` features plus a mask to the dataset. The
:class:`EncodeReport` says per modality how many items were encoded, read
from the cache or masked, and why, with example ids.

Example:
    >>> from fusionrec.data import read_mmrec
    >>> from fusionrec.encoders import EncoderSpec, encode_dataset
    >>> split = read_mmrec("data/ml100k-mm")  # doctest: +SKIP
    >>> report = encode_dataset(split.dataset, [EncoderSpec(modality="image")])  # doctest: +SKIP
    >>> print(report.to_text())  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrec.encoders.base import Encoder
from fusionrec.encoders.cache import FeatureCache, FeatureStore
from fusionrec.encoders.config import EncoderSpec
from fusionrec.encoders.inputs import ItemInputs, collect_inputs
from fusionrec.encoders.media import Unusable

if TYPE_CHECKING:
    from fusionrec.data.dataset import Dataset

logger = logging.getLogger(__name__)

#: progress(modality, items_done_now, items_total)
Progress = Callable[[str, int, int], None]
EXAMPLES_SHOWN = 3


@dataclass
class ModalityReport:
    """What happened to one modality.

    Attributes:
        modality: feature name.
        encoder: registry name of the encoder.
        dim: feature dimension.
        n_items: items in the dataset.
        n_encoded: usable items encoded in this run.
        n_cached: usable items read from the cache.
        masked: reason -> raw ids of the items masked for it.
        seconds: wall time of this modality.
    """

    modality: str
    encoder: str
    dim: int
    n_items: int
    n_encoded: int = 0
    n_cached: int = 0
    masked: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def n_masked(self) -> int:
        return sum(len(ids) for ids in self.masked.values())

    @property
    def items_per_second(self) -> float:
        """Items processed (encoded, cached or masked) per second of this modality."""
        return self.n_items / self.seconds if self.seconds > 0 else float("inf")

    def lines(self) -> list[str]:
        """Human-readable summary, one line per fact."""
        head = (
            f"{self.modality} ({self.encoder}, {self.dim}-d): {self.n_items - self.n_masked:,} of {self.n_items:,} "
            f"items usable ({self.n_encoded:,} encoded, {self.n_cached:,} from cache), {self.n_masked:,} masked; "
            f"{self.seconds:.1f} s, {self.items_per_second:,.0f} items/s"
        )
        details = [
            f"  masked {len(ids):,}: {reason} (e.g. {', '.join(ids[:EXAMPLES_SHOWN])})"
            for reason, ids in sorted(self.masked.items(), key=lambda kv: -len(kv[1]))
        ]
        return [head, *details]

    def to_dict(self) -> dict[str, Any]:
        return {
            "modality": self.modality,
            "encoder": self.encoder,
            "dim": self.dim,
            "n_items": self.n_items,
            "n_encoded": self.n_encoded,
            "n_cached": self.n_cached,
            "n_masked": self.n_masked,
            "masked": {
                reason: {"count": len(ids), "examples": ids[:EXAMPLES_SHOWN]} for reason, ids in self.masked.items()
            },
            "seconds": round(self.seconds, 3),
        }


@dataclass
class EncodeReport:
    """Per-modality reports of one :func:`encode_dataset` run."""

    modalities: list[ModalityReport] = field(default_factory=list)

    def __getitem__(self, modality: str) -> ModalityReport:
        for report in self.modalities:
            if report.modality == modality:
                return report
        raise KeyError(f"no modality {modality!r} in this report; have {[r.modality for r in self.modalities]}")

    def to_text(self) -> str:
        return "\n".join(line for report in self.modalities for line in report.lines())

    def to_dict(self) -> dict[str, Any]:
        return {"modalities": [report.to_dict() for report in self.modalities]}


class LoggedProgress:
    """A :data:`Progress` callback that logs plain lines: at the start, every ``every`` seconds and at the end.

    For output that is not a terminal (CI logs, files), where a progress bar shows nothing until it ends.

    Example:
        >>> progress = LoggedProgress(every=0.0)
        >>> progress("text", 0, 10); progress("text", 10, 10)  # logs "encoding text: 0 / 10 ..." then "... 10 / 10"
    """

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self.done: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def __call__(self, modality: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if modality not in self.started:
            self.started[modality], self.last[modality], self.done[modality] = now, float("-inf"), 0
        self.done[modality] += done
        count = self.done[modality]
        if count < total and now - self.last[modality] < self.every:
            return
        self.last[modality] = now
        rate = count / max(now - self.started[modality], 1e-9)
        logger.info("encoding %s: %d / %d items (%.0f items/s)", modality, count, total, rate)


def encode_dataset(
    dataset: Dataset,
    specs: Sequence[EncoderSpec],
    cache_dir: str | Path | None = None,
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
) -> EncodeReport:
    """Encode every spec's modality and attach features and masks to ``dataset``.

    Args:
        dataset: a dataset with an ``item_table`` (one row per item index) and ``media_root``.
        specs: which encoders make which modalities (see :class:`EncoderSpec`).
        cache_dir: feature cache folder; default ``$FUSIONREC_CACHE/features`` or ``~/.cache/fusionrec/features``.
        use_cache: False encodes everything and writes nothing to the cache.
        progress: called as ``progress(modality, n_done_now, n_items)`` while encoding; None logs plain
            lines (:class:`LoggedProgress`).

    Returns:
        An :class:`EncodeReport`; ``dataset.features[modality]`` is float32 (n_items, dim)
        and ``dataset.feature_masks[modality]`` bool (n_items,).
    """
    cache = FeatureCache(cache_dir) if use_cache else None
    progress = progress if progress is not None else LoggedProgress()
    report = EncodeReport()
    for spec in [s for entry in specs for s in entry.expand()]:
        started = time.perf_counter()
        encoder = spec.build()
        inputs = collect_inputs(dataset, spec, encoder.kind)
        values, mask, reasons, modality_report = encode_inputs(encoder, inputs, spec.modality, cache, progress)
        dataset.add_feature(spec.modality, values, mask, source=f"{spec.modality} features ({spec.encoder_name})")
        modality_report.masked = _group_reasons(reasons, mask, dataset.items.ids)
        modality_report.seconds = time.perf_counter() - started
        report.modalities.append(modality_report)
        logger.info("%s", " | ".join(modality_report.lines()))
    return report


def encode_inputs(
    encoder: Encoder,
    inputs: ItemInputs,
    modality: str,
    cache: FeatureCache | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str], ModalityReport]:
    """Encode one input per item through the cache.

    Returns:
        values float32 (n, dim), mask bool (n,), reasons (n,) and a report without timing.
    """
    n = len(inputs)
    if progress is not None:
        progress(modality, 0, n)  # starts the clock of this modality's progress bar
    reasons = list(inputs.reasons)
    usable = [i for i in range(n) if not reasons[i]]
    encoder.fit([inputs.values[i] for i in usable])
    store = cache.store(encoder.cache_identity()) if cache is not None and encoder.cacheable else None
    keys = _content_keys(encoder, inputs, usable, reasons) if store is not None else {}
    usable = [i for i in usable if not reasons[i]]
    rows: dict[int, np.ndarray] = {}
    cached = _from_cache(store, keys, rows, reasons) if store is not None else set()
    _notify(progress, modality, n - len(usable) + len(cached), n)
    todo = [i for i in usable if i not in cached]
    advance = functools.partial(_notify, progress, modality, total=n)
    _encode_missing(encoder, inputs, todo, keys, store, rows, reasons, advance)
    dim = _dimension(encoder, store, rows)
    values = np.zeros((n, dim), dtype=np.float32)
    mask = np.zeros(n, dtype=bool)
    for i, row in rows.items():
        values[i], mask[i] = row, True
    n_cached = sum(1 for i in cached if i in rows)
    report = ModalityReport(modality, encoder.registry_name, dim, n, len(rows) - n_cached, n_cached)
    return values, mask, reasons, report


def _encode_missing(
    encoder: Encoder,
    inputs: ItemInputs,
    todo: list[int],
    keys: dict[int, bytes],
    store: FeatureStore | None,
    rows: dict[int, np.ndarray],
    reasons: list[str],
    advance: Callable[[int], None],
) -> None:
    """Encode items ``todo`` chunk by chunk, caching each chunk as soon as it is done."""
    for chunk in _chunks(todo, chunk_size(encoder)):
        result = encoder.encode([inputs.values[i] for i in chunk])
        for j, i in enumerate(chunk):
            if result.mask[j]:
                rows[i] = result.values[j]
            reasons[i] = result.reasons[j]
        if store is not None:
            store.add([keys[i] for i in chunk], result.values, result.mask, result.reasons)
        advance(len(chunk))


def chunk_size(encoder: Encoder) -> int:
    """Items per ``encode`` call: several model batches, so the cache is written as work proceeds."""
    batch = max(1, int(encoder.config.batch_size))
    return batch if encoder.kind == "video" else max(batch, 256 if encoder.kind != "text" else 1024)


def _content_keys(encoder: Encoder, inputs: ItemInputs, usable: list[int], reasons: list[str]) -> dict[int, bytes]:
    keys: dict[int, bytes] = {}
    for i in usable:
        try:
            keys[i] = encoder.content_key(inputs.values[i])
        except Unusable as exc:  # a missing or empty file is known before decoding
            reasons[i] = str(exc)
    return keys


def _from_cache(
    store: FeatureStore, keys: dict[int, bytes], rows: dict[int, np.ndarray], reasons: list[str]
) -> set[int]:
    order = list(keys)
    found = store.lookup([keys[i] for i in order])
    if store.skipped:
        logger.warning("feature cache %s: %d unreadable shard(s) skipped", store.folder, len(store.skipped))
    cached = set()
    for j, i in enumerate(order):
        if found.found[j]:
            cached.add(i)
            if found.mask[j]:
                rows[i] = found.values[j]
            else:
                reasons[i] = found.reasons[j] or "unusable input"
    return cached


def _dimension(encoder: Encoder, store: FeatureStore | None, rows: dict[int, np.ndarray]) -> int:
    if rows:
        return len(next(iter(rows.values())))
    if store is not None and store.dim:
        return int(store.dim)
    return encoder.dim


def _chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[start : start + size] for start in range(0, len(indices), size)]


def _notify(progress: Progress | None, modality: str, done: int, total: int) -> None:
    if progress is not None and done:
        progress(modality, done, total)


def _group_reasons(reasons: list[str], mask: np.ndarray, ids: Sequence[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for i, reason in enumerate(reasons):
        if not mask[i]:
            grouped.setdefault(reason or "unusable input", []).append(str(ids[i]))
    return grouped
