"""Encoding a catalog with Ray Data: an actor pool per encoder, batches streamed into the feature cache.

For each encoder spec the items the feature cache lacks are cut into the
chunks one process would encode (:func:`~fusionrec.encoders.pipeline.chunk_size`),
one Ray Data row per chunk. A pool of ``actors`` actors, each loading the
model once, encodes the rows as they stream past; the driver writes each
result to the cache as it arrives. Then the ordinary
:func:`~fusionrec.encoders.pipeline.encode_dataset` assembles the features
from the cache, so features, masks and reasons are what one process makes
(the report counts the items the actors encoded as encoded). Encoders that
are not cached (TF-IDF, precomputed vectors) run in the driver as usual.

Each actor runs as many torch threads as it has CPUs (``cpus_per_actor``,
at least one). The image model's oneDNN kernels sum in an order that can
depend on the thread count and the batch size, so the features equal bit
for bit those of one process run with that many threads
(``fusionrec encode --threads 1`` for one CPU per actor); with another
thread count they can differ in the last float bits (see ``docs/scale.md``).

Media files are read by the actors: on a cluster of several machines the
item table's paths must be visible to every node.

Example:
    >>> connect("local")  # doctest: +SKIP
    >>> report = encode_dataset_on_ray(dataset, [EncoderSpec(modality="text")], actors=2)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import ray
import ray.data
import torch

from fusionrec.distributed.cluster import connect
from fusionrec.encoders.base import Encoder
from fusionrec.encoders.cache import FeatureCache, FeatureStore, default_cache_dir
from fusionrec.encoders.config import EncoderSpec
from fusionrec.encoders.inputs import ItemInputs, collect_inputs
from fusionrec.encoders.media import Unusable
from fusionrec.encoders.pipeline import EncodeReport, Progress, chunk_size, encode_dataset
from fusionrec.errors import ConfigError

if TYPE_CHECKING:
    from fusionrec.data.dataset import Dataset

logger = logging.getLogger(__name__)


def encode_dataset_on_ray(
    dataset: Dataset,
    specs: Sequence[EncoderSpec],
    cache_dir: str | Path | None = None,
    *,
    actors: int = 2,
    cpus_per_actor: float = 1.0,
    use_cache: bool = True,
    progress: Progress | None = None,
    address: str | None = None,
) -> EncodeReport:
    """:func:`~fusionrec.encoders.pipeline.encode_dataset` with the encoding done by Ray actors.

    Args:
        dataset: a dataset with an item table (see ``encode_dataset``).
        specs: which encoders make which modalities.
        cache_dir: feature cache folder (default ``$FUSIONREC_CACHE/features``).
        actors: actors per encoder; each loads the model once.
        cpus_per_actor: CPUs Ray reserves for each actor (its torch threads).
        use_cache: False reads nothing from the cache and leaves nothing in it (a temporary one is used).
        progress: as ``encode_dataset``'s (called while the features are assembled).
        address: cluster to join first (see :func:`~fusionrec.distributed.cluster.connect`); None = connected.

    Returns:
        The :class:`~fusionrec.encoders.pipeline.EncodeReport`; the dataset holds the features.
    """
    if actors < 1:
        raise ConfigError(f"actors must be at least 1, got {actors}")
    if address is not None:
        connect(address)
    with tempfile.TemporaryDirectory(prefix="fusionrec-encode-") as scratch:
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "features"
        root = root if use_cache else Path(scratch)
        encoded, seconds = {}, {}
        for spec in [s for entry in specs for s in entry.expand()]:
            started = time.perf_counter()
            encoded[spec.modality] = encode_missing(dataset, spec, FeatureCache(root), actors, cpus_per_actor)
            seconds[spec.modality] = time.perf_counter() - started
        report = encode_dataset(dataset, specs, root, use_cache=True, progress=progress)
    for part in report.modalities:
        moved = min(encoded.get(part.modality, 0), part.n_cached)
        part.n_encoded, part.n_cached = part.n_encoded + moved, part.n_cached - moved
        part.seconds += seconds.get(part.modality, 0.0)  # items/s counts the actors' time, not only assembling
    return report


def encode_missing(
    dataset: Dataset, spec: EncoderSpec, cache: FeatureCache, actors: int, cpus_per_actor: float = 1.0
) -> int:
    """Encode the items of ``spec`` that ``cache`` lacks on a Ray actor pool; returns how many were encoded."""
    work = pending_work(dataset, spec, cache)
    if work is None:
        return 0
    rows = chunk_rows(work.inputs, work.todo, chunk_size(work.encoder))
    logger.info("encoding %d %s items in %d batches on %d Ray actors", len(work.todo), spec.modality, len(rows), actors)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    stream = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        EncoderActor,
        fn_constructor_args=(work.encoder, actor_threads(cpus_per_actor)),
        batch_size=1,  # one row is one chunk: the actors encode exactly one process's chunks
        batch_format="numpy",
        concurrency=min(actors, len(rows)),
        num_cpus=cpus_per_actor,
    )
    for batch in stream.iter_batches(batch_size=None, batch_format="numpy"):
        store_batch(work.store, work.keys, cast("dict[str, np.ndarray]", batch))  # batch_format="numpy"
    return len(work.todo)


@dataclass
class PendingWork:
    """What the actors must encode for one spec: the fitted encoder, its cache store, the items' content keys
    and ``todo``, the usable items (in item order) the store lacks."""

    encoder: Encoder
    inputs: ItemInputs
    store: FeatureStore
    keys: dict[int, bytes]
    todo: list[int]


def pending_work(dataset: Dataset, spec: EncoderSpec, cache: FeatureCache) -> PendingWork | None:
    """The items of ``spec`` that ``cache`` lacks, as one process would find them; None when there are none or
    the encoder is not cached (it then runs in the driver)."""
    encoder = spec.build()
    if not encoder.cacheable:
        return None
    inputs = collect_inputs(dataset, spec, encoder.kind)
    usable = [i for i, reason in enumerate(inputs.reasons) if not reason]
    encoder.fit([inputs.values[i] for i in usable])
    store = cache.store(encoder.cache_identity())
    keys = _content_keys(encoder, inputs, usable)
    order = list(keys)
    found = store.lookup([keys[i] for i in order]).found
    todo = [i for j, i in enumerate(order) if not found[j]]
    return PendingWork(encoder, inputs, store, keys, todo) if todo else None


def chunk_rows(inputs: ItemInputs, todo: list[int], size: int) -> list[dict[str, Any]]:
    """One Ray Data row per chunk of ``size`` items of ``todo``: ``items`` int64 (k,) and their ``inputs``."""
    return [
        {
            "items": np.asarray(todo[start : start + size], dtype=np.int64),
            "inputs": _plain(inputs, todo[start : start + size]),
        }
        for start in range(0, len(todo), size)
    ]


def store_batch(store: FeatureStore, keys: dict[int, bytes], batch: Mapping[str, Any]) -> None:
    """Write one output batch of :class:`EncoderActor` into the cache, keyed by its items' content keys."""
    items, values, mask = (np.asarray(batch[name]) for name in ("items", "values", "mask"))
    store.add([keys[int(i)] for i in items], values, mask, [str(r) for r in batch["reasons"]])


def actor_threads(cpus_per_actor: float) -> int:
    """Torch threads of an actor: its CPUs, at least one (the thread count can change the image model's bits)."""
    return max(1, int(cpus_per_actor))


class EncoderActor:
    """A Ray Data actor: loads its encoder once, then encodes one chunk per row it is given.

    ``threads`` is set explicitly rather than left to the worker's environment, so the features are those of
    one process run with as many torch threads.
    """

    def __init__(self, encoder: Encoder, threads: int = 1) -> None:
        torch.set_num_threads(threads)
        self.encoder = encoder
        self.encoder.ensure_loaded()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``{"items", "inputs"}`` rows -> one output row per item: ``items``, ``values`` (n, dim), ``mask``,
        ``reasons``."""
        items, values, masks, reasons = [], [], [], []
        for row_items, row_inputs in zip(batch["items"], batch["inputs"], strict=True):
            result = self.encoder.encode([_python(value) for value in row_inputs])
            items.append(np.asarray(row_items, dtype=np.int64))
            values.append(result.values)
            masks.append(result.mask)
            reasons += list(result.reasons)
        return {
            "items": np.concatenate(items),
            "values": np.concatenate(values).astype(np.float32),
            "mask": np.concatenate(masks),
            "reasons": np.asarray(reasons, dtype=str),
        }


def _content_keys(encoder: Encoder, inputs: ItemInputs, usable: list[int]) -> dict[int, bytes]:
    """Cache keys of the usable items; an input found unusable here is left to the assembling pass."""
    keys: dict[int, bytes] = {}
    for i in usable:
        try:
            keys[i] = encoder.content_key(inputs.values[i])
        except Unusable:
            continue
    return keys


def _python(value: Any) -> Any:
    """A value back from Ray Data as the encoder gets it in one process (numpy strings as ``str``)."""
    return str(value) if isinstance(value, np.str_) else value


def _plain(inputs: ItemInputs, items: list[int]) -> list[Any]:
    """The inputs of ``items`` as Ray Data stores them (paths as strings)."""
    return [str(v) if isinstance(v, Path) else v for v in (inputs.values[i] for i in items)]


__all__ = [
    "EncoderActor",
    "PendingWork",
    "actor_threads",
    "chunk_rows",
    "encode_dataset_on_ray",
    "encode_missing",
    "pending_work",
    "store_batch",
]
