"""Text encoders: the base of every encoder of strings, and TF-IDF (scikit-learn, no model files).

Empty texts are masked, not encoded. The encoders backed by pretrained
models (sentence-transformers, any local Hugging Face model, a causal
language model) are in :mod:`fusionrec.encoders.text_models`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from fusionrec.encoders.base import Encoder, EncoderConfig, EncodeResult
from fusionrec.errors import EncoderError


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


_IN_TEXT_MODELS = frozenset(
    {
        "BUNDLED_MINILM",
        "CausalLMConfig",
        "CausalLMEncoder",
        "SentenceTransformerConfig",
        "SentenceTransformerEncoder",
        "TransformerConfig",
        "TransformerEncoder",
    }
)


def __getattr__(name: str) -> Any:
    """The model-backed text encoders, importable from here too; their module (and torch) loads on first use."""
    if name in _IN_TEXT_MODELS:
        return getattr(importlib.import_module("fusionrec.encoders.text_models"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
