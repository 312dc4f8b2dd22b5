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

Media files are read by the actors: on a cluster of several machines the
item table's paths must be visible to every node.

Example:
    >>> connect("local")  # doctest: +SKIP
    >>> report = encode_dataset_on_ray(dataset, [EncoderSpec(modality="text")], actors=2)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import ray
import ray.data

from fusionrec.distributed.cluster import connect
from fusionrec.encoders.base import Encoder
from fusionrec.encoders.cache import FeatureCache, default_cache_dir
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
        encoded = {}
        for spec in [s for entry in specs for s in entry.expand()]:
            encoded[spec.modality] = encode_missing(dataset, spec, FeatureCache(root), actors, cpus_per_actor)
        report = encode_dataset(dataset, specs, root, use_cache=True, progress=progress)
    for part in report.modalities:
        moved = min(encoded.get(part.modality, 0), part.n_cached)
        part.n_encoded, part.n_cached = part.n_encoded + moved, part.n_cached - moved
    return report


def encode_missing(
    dataset: Dataset, spec: EncoderSpec, cache: FeatureCache, actors: int, cpus_per_actor: float = 1.0
) -> int:
    """Encode the items of ``spec`` that ``cache`` lacks on a Ray actor pool; returns how many were encoded."""
    encoder = spec.build()
    if not encoder.cacheable:
        return 0
    inputs = collect_inputs(dataset, spec, encoder.kind)
    usable = [i for i, reason in enumerate(inputs.reasons) if not reason]
    encoder.fit([inputs.values[i] for i in usable])
    store = cache.store(encoder.cache_identity())
    keys = _content_keys(encoder, inputs, usable)
    order = list(keys)
    found = store.lookup([keys[i] for i in order]).found
    todo = [i for j, i in enumerate(order) if not found[j]]
    if not todo:
        return 0
    size = chunk_size(encoder)
    rows = [
        {
            "items": np.asarray(todo[start : start + size], dtype=np.int64),
            "inputs": _plain(inputs, todo[start : start + size]),
        }
        for start in range(0, len(todo), size)
    ]
    logger.info("encoding %d %s items in %d batches on %d Ray actors", len(todo), spec.modality, len(rows), actors)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    stream = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
        EncoderActor,
        fn_constructor_args=(encoder,),
        batch_size=1,  # one row is one chunk: the actors encode exactly one process's chunks
        batch_format="numpy",
        concurrency=min(actors, len(rows)),
        num_cpus=cpus_per_actor,
    )
    for batch in stream.iter_batches(batch_size=None, batch_format="numpy"):
        items, values, mask = (np.asarray(batch[name]) for name in ("items", "values", "mask"))
        store.add([keys[int(i)] for i in items], values, mask, [str(r) for r in batch["reasons"]])
    return len(todo)


class EncoderActor:
    """A Ray Data actor: loads its encoder once, then encodes one chunk per row it is given."""

    def __init__(self, encoder: Encoder) -> None:
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


__all__ = ["EncoderActor", "encode_dataset_on_ray", "encode_missing"]
