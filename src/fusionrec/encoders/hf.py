"""Offline Hugging Face loading shared by the text and image encoders that read local checkpoints.

Every loader runs offline (``HF_HUB_OFFLINE=1``): a model name that is not a
local folder or a bundled package is an error, never a download. Imported by
the encoder modules the registry loads, never by ``import fusionrec.encoders``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import transformers

from fusionrec.errors import EncoderError


def go_offline() -> None:
    """Make Hugging Face libraries fail instead of reaching the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def quiet_hf() -> None:
    """No per-file progress bars from transformers while loading (fusionrec shows its own)."""
    transformers.logging.disable_progress_bar()


def set_threads(num_threads: int | None) -> None:
    if num_threads:
        torch.set_num_threads(num_threads)


def local_model_dir(model: str) -> Path:
    """``model`` as an existing local folder; fusionrec never downloads models."""
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EncoderError(
            f"model {model!r} is not a local folder; fusionrec loads models offline only. "
            "Save the model with save_pretrained()/save() and give that folder's path"
        )
    return path
