"""The training half of :mod:`fusionrec.encoders.behaviour`: contrastive fine-tuning of a sentence encoder.

Imports torch and sentence-transformers at its top, so :mod:`~fusionrec.encoders.behaviour` loads it only
when a tuning runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from fusionrec.encoders.text_models import SentenceTransformerConfig, SentenceTransformerEncoder

if TYPE_CHECKING:
    from fusionrec.encoders.behaviour import BehaviourTuning

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 30.0
"""A tuning step's progress is logged at most this often (one step takes seconds on a CPU)."""


def load_base(model: str, max_seq_length: int) -> Any:
    """The sentence-transformers model ``model`` (a bundled name or a local folder), loaded offline."""
    encoder = SentenceTransformerEncoder(SentenceTransformerConfig(model=model))
    encoder.ensure_loaded()
    loaded = encoder.model_
    loaded.max_seq_length = max_seq_length
    return loaded


def train(model: Any, texts: Sequence[str], pairs: np.ndarray, config: BehaviourTuning) -> list[float]:
    """Symmetric in-batch InfoNCE over the pairs' texts; returns each epoch's mean loss."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    model.train()
    losses = []
    n_steps = -(-len(pairs) // config.batch_size)
    for epoch in range(1, config.epochs + 1):
        order = rng.permutation(len(pairs))
        total, steps = 0.0, 0
        started = logged = time.monotonic()
        for start in range(0, len(order) - 1, config.batch_size):
            batch = pairs[order[start : start + config.batch_size]]
            if len(batch) < 2:
                continue
            left, right = (_embed(model, [texts[i] for i in batch[:, side]]) for side in (0, 1))
            logits = F.normalize(left, dim=1) @ F.normalize(right, dim=1).T / config.temperature
            labels = torch.arange(len(batch))
            loss = 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, steps = total + float(loss.detach()), steps + 1
            if time.monotonic() - logged >= PROGRESS_EVERY_S:
                logged = time.monotonic()
                elapsed = logged - started
                message = "behaviour tuning: epoch %d/%d, step %d/%d, loss %.4f, %.0f s"
                logger.info(message, epoch, config.epochs, steps, n_steps, total / steps, elapsed)
        losses.append(round(total / max(steps, 1), 4))
        logger.info("behaviour tuning: epoch loss %.4f over %d steps", losses[-1], steps)
    model.eval()
    return losses


def _embed(model: Any, texts: list[str]) -> Any:
    features = model.preprocess(texts)
    return model(features)["sentence_embedding"]


__all__ = ["load_base", "train"]
