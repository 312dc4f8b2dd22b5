"""A text encoder that learns from behaviour: contrastive fine-tuning on items the same users took.

A frozen sentence encoder places items by what their texts say; behaviour
says which items go together. :func:`tune_text_encoder` fine-tunes a
sentence-transformers model (all-MiniLM-L6-v2 by default) so that the texts
of two items taken by the same user (training interactions only) come closer
than those of other items in the batch (in-batch InfoNCE, symmetric). Items
nobody has taken are then placed by what behaviour taught the encoder about
texts like theirs. The tuned weights are saved in the feature cache under a
digest of everything that made them (base model, settings, the pairs and the
texts), so the same data gives the same folder, and a spec naming that
folder encodes like any sentence-transformers model.

In an experiment file, a text spec asks for it with ``behaviour_tuning``::

    [[encoders]]
    modality = "text"
    name = "minilm"
    template = "{title} | {genres} | {overview}"
    behaviour_tuning = { epochs = 1, max_pairs = 8000 }

Example:
    >>> pairs = co_interaction_pairs(np.array([0, 0, 1, 1]), np.array([3, 4, 3, 5]), max_pairs=10, seed=0)
    >>> sorted(map(tuple, pairs.tolist()))  # doctest: +SKIP
    [(3, 4), (3, 5)]
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fusionrec.encoders.cache import default_cache_dir
from fusionrec.encoders.config import EncoderSpec
from fusionrec.encoders.inputs import collect_inputs
from fusionrec.errors import ConfigError, EncoderError

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split

logger = logging.getLogger(__name__)

TUNING_KEY = "behaviour_tuning"
"""The text spec option that asks for a behaviour-tuned encoder."""


class BehaviourTuning(BaseModel):
    """Settings of the contrastive fine-tuning (one pydantic config, checked before any data is read)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str = Field("all-MiniLM-L6-v2", description="the sentence-transformers model to start from")
    epochs: int = Field(1, ge=1, le=20)
    batch_size: int = Field(32, ge=2, le=512, description="pairs per step; the others in a batch are negatives")
    lr: float = Field(2e-5, gt=0, le=1e-2)
    temperature: float = Field(0.05, gt=0, le=1)
    max_pairs: int = Field(8000, ge=10, description="co-interaction pairs sampled for training")
    pairs_per_user: int = Field(10, ge=1, description="at most this many pairs from one user")
    max_seq_length: int = Field(128, ge=8, le=512)
    seed: int = 0


def parse_tuning(value: Any) -> BehaviourTuning:
    """A spec's ``behaviour_tuning`` value (``true`` or a table of :class:`BehaviourTuning` keys)."""
    if value is True:
        return BehaviourTuning.model_validate({})
    if not isinstance(value, dict):
        raise ConfigError(f"behaviour_tuning must be true or a table of settings, got {value!r}")
    try:
        return BehaviourTuning.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"behaviour_tuning: {problems}; keys: {sorted(BehaviourTuning.model_fields)}") from None


def co_interaction_pairs(
    user_index: np.ndarray, item_index: np.ndarray, max_pairs: int, seed: int, per_user: int = 10
) -> np.ndarray:
    """int64 (m, 2) pairs of distinct items taken by the same user, at most ``per_user`` from each user.

    Users are visited in a seeded order and pairs drawn at random within each user's items, so
    heavy users do not dominate and the same interactions and seed give the same pairs.
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(user_index, kind="stable")
    users, starts = np.unique(user_index[order], return_index=True)
    bounds = np.append(starts, len(order))
    pairs: list[np.ndarray] = []
    total = 0
    for position in rng.permutation(len(users)):
        items = np.unique(item_index[order[bounds[position] : bounds[position + 1]]])
        if len(items) < 2:
            continue
        count = min(per_user, len(items) * (len(items) - 1) // 2)
        first = rng.integers(0, len(items), size=4 * count)
        second = rng.integers(0, len(items), size=4 * count)
        keep = first != second
        drawn = np.stack([items[first[keep]], items[second[keep]]], axis=1)[:count]
        pairs.append(drawn)
        total += len(drawn)
        if total >= max_pairs:
            break
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(pairs)[:max_pairs].astype(np.int64)


def tune_text_encoder(
    texts: Sequence[str], pairs: np.ndarray, config: BehaviourTuning, cache_dir: str | Path | None = None
) -> Path:
    """Fine-tune ``config.base`` on ``pairs`` of item indices into ``texts``; returns the saved model's folder.

    A folder made before from the same base, settings, pairs and texts is reused without training.

    Raises:
        EncoderError: there is no pair whose two texts are both non-empty.
    """
    usable = np.array([bool(texts[a].strip()) and bool(texts[b].strip()) for a, b in pairs], dtype=bool)
    pairs = pairs[usable] if len(pairs) else pairs
    if not len(pairs):
        raise EncoderError(
            "behaviour tuning found no pair of items taken by the same user whose texts are both non-empty; "
            "check the text template, or drop behaviour_tuning"
        )
    folder = _folder(texts, pairs, config, cache_dir)
    if (folder / "fusionrec-tuning.json").is_file():
        logger.info("behaviour-tuned text encoder read from %s", folder)
        return folder
    # the training module imports torch and sentence-transformers: loaded only when a tuning runs
    training = importlib.import_module("fusionrec.encoders.behaviour_training")
    model = training.load_base(config.base, config.max_seq_length)
    started = time.perf_counter()
    losses = training.train(model, texts, pairs, config)
    staging = folder.with_name(folder.name + ".partial")
    model.save(str(staging))
    record = {"config": config.model_dump(), "pairs": len(pairs), "losses": losses}
    record["seconds"] = round(time.perf_counter() - started, 1)
    (staging / "fusionrec-tuning.json").write_text(json.dumps(record, indent=2))
    staging.rename(folder)
    logger.info("behaviour-tuned text encoder: %d pairs, loss %s, saved to %s", len(pairs), losses, folder)
    return folder


def _folder(texts: Sequence[str], pairs: np.ndarray, config: BehaviourTuning, cache_dir: str | Path | None) -> Path:
    digest = hashlib.sha256(json.dumps(config.model_dump(), sort_keys=True).encode())
    digest.update(np.ascontiguousarray(pairs, dtype=np.int64).tobytes())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = root / "behaviour-tuned" / digest.hexdigest()[:24]
    folder.parent.mkdir(parents=True, exist_ok=True)
    return folder


def behaviour_tuned_specs(
    specs: Sequence[EncoderSpec], split: Split, cache_dir: str | Path | None = None
) -> list[EncoderSpec]:
    """``specs`` where each text spec with ``behaviour_tuning`` names its tuned model (trained on ``split.train``).

    The tuned spec is a plain sentence-transformers spec whose ``model`` is the tuned folder, so the
    features, the cache and an artifact's record of how its features were made treat it like any other.
    """
    result = []
    for spec in specs:
        options = spec.options
        if TUNING_KEY not in options:
            result.append(spec)
            continue
        if spec.kind != "text":
            raise ConfigError(f"behaviour_tuning applies to text specs only; spec {spec.modality!r} is {spec.kind}")
        config = parse_tuning(options.pop(TUNING_KEY))
        fields = spec.model_dump(exclude_none=True, exclude=set(spec.model_extra or {}))
        plain = EncoderSpec(**{**fields, **options, "name": "sentence-transformer", "model": config.base})
        inputs = collect_inputs(split.dataset, plain, "text")
        texts = [v if isinstance(v, str) and not r else "" for v, r in zip(inputs.values, inputs.reasons, strict=True)]
        train = split.train
        pairs = co_interaction_pairs(
            train.user_index, train.item_index, config.max_pairs, config.seed, config.pairs_per_user
        )
        folder = tune_text_encoder(texts, pairs, config, cache_dir)
        result.append(EncoderSpec(**{**fields, **options, "name": "sentence-transformer", "model": str(folder)}))
    return result


__all__ = [
    "TUNING_KEY",
    "BehaviourTuning",
    "behaviour_tuned_specs",
    "co_interaction_pairs",
    "parse_tuning",
    "tune_text_encoder",
]
