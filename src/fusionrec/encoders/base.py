"""The encoder contract: raw inputs in, a float32 matrix and a usable-input mask out.

An encoder has a ``name`` (its registry key), a ``kind`` (the input it reads:
``"text"``, ``"image"``, ``"audio"``, ``"video"`` or ``"vector"``), an output
``dim`` and a pydantic ``config``. ``encode(batch)`` returns an
:class:`EncodeResult`: rows of inputs it could not use are zero and
``mask`` is False there, with a short reason ("corrupt image", "silent
audio") so that a report can count them. Nothing is silently filled in.

Heavy libraries (torch, sentence-transformers, librosa, PyAV) are imported in
:meth:`Encoder.load`, which runs on the first ``encode`` call, never in
the constructor.

Example:
    >>> from fusionrec.encoders import build_encoder
    >>> encoder = build_encoder("color-histogram")
    >>> result = encoder.encode(["poster.jpg"])  # doctest: +SKIP
    >>> result.values.shape, result.mask  # doctest: +SKIP
    ((1, 512), array([ True]))
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from fusionrec.errors import ConfigError

InputKind = Literal["text", "image", "audio", "video", "vector"]
KINDS: tuple[str, ...] = ("text", "image", "audio", "video", "vector")


class EncoderConfig(BaseModel):
    """Base of every encoder's config; unknown keys are an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Items per model call. Does not change the features, so it is not part of the cache key.
    batch_size: int = 32


#: Config fields that change speed but never the features; left out of the cache key.
RUNTIME_FIELDS = frozenset({"batch_size", "num_threads", "device"})


@dataclass
class EncodeResult:
    """The output of one ``encode`` call over ``n`` inputs.

    Attributes:
        values: float32 (n, dim); rows where ``mask`` is False are zero.
        mask: bool (n,); True where the input was usable.
        reasons: n strings; empty where usable, else why not ("empty file").
    """

    values: np.ndarray
    mask: np.ndarray
    reasons: list[str] = field(default_factory=list)

    @classmethod
    def assemble(cls, dim: int, rows: Sequence[np.ndarray | None], reasons: Sequence[str]) -> EncodeResult:
        """Stack per-input rows; a None row becomes zeros and is masked with its reason."""
        values = np.zeros((len(rows), dim), dtype=np.float32)
        mask = np.zeros(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            if row is not None:
                values[i] = row
                mask[i] = True
        return cls(values, mask, [("" if mask[i] else reasons[i] or "unusable input") for i in range(len(rows))])

    def __len__(self) -> int:
        return len(self.mask)


class Encoder(ABC):
    """Base class of every encoder.

    Subclasses set ``name``, ``kind`` and ``config_class`` and implement
    :meth:`load`, :meth:`_encode` and :attr:`dim`. The constructor only
    validates the config; models are loaded on first use.
    """

    name: ClassVar[str] = "base"
    kind: ClassVar[InputKind] = "text"
    config_class: ClassVar[type[EncoderConfig]] = EncoderConfig
    #: Bump when preprocessing changes the features, so old cache entries are not reused.
    version: ClassVar[int] = 1
    #: False for encoders whose features depend on the whole corpus (TF-IDF) or cost nothing.
    cacheable: ClassVar[bool] = True

    def __init__(self, config: EncoderConfig | dict[str, Any] | None = None, **overrides: Any) -> None:
        self.config = self._validate(config, overrides)
        self.registry_name: str = self.name  # the name it was built under ("minilm" for a sentence-transformer)
        self._loaded = False

    @classmethod
    def _validate(cls, config: EncoderConfig | dict[str, Any] | None, overrides: dict[str, Any]) -> Any:
        values = config.model_dump() if isinstance(config, BaseModel) else dict(config or {})
        values.update(overrides)
        try:
            return cls.config_class(**values)
        except ValidationError as exc:
            allowed = sorted(cls.config_class.model_fields)
            raise ConfigError(
                f"encoder {cls.name!r} got an invalid config {values}: "
                f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}; allowed keys are {allowed}"
            ) from exc

    @property
    @abstractmethod
    def dim(self) -> int:
        """Output dimension (may load the model to find out)."""

    def load(self) -> None:  # noqa: B027 - encoders without a model need no loading
        """Import heavy libraries and load weights; called once, before the first batch."""

    def ensure_loaded(self) -> None:
        if not self._loaded:
            self.load()
            self._loaded = True

    def encode(self, batch: Sequence[Any]) -> EncodeResult:
        """Encode ``n`` raw inputs.

        Args:
            batch: n inputs of this encoder's ``kind`` (texts, or file paths for media).

        Returns:
            An :class:`EncodeResult` with float32 (n, dim) values and a bool (n,) mask.
        """
        self.ensure_loaded()
        if len(batch) == 0:
            return EncodeResult(np.zeros((0, self.dim), np.float32), np.zeros(0, bool), [])
        return self._encode(batch)

    @abstractmethod
    def _encode(self, batch: Sequence[Any]) -> EncodeResult:
        """Encode a non-empty batch; the model is loaded."""

    def fit(self, inputs: Sequence[Any]) -> Encoder:
        """Learn corpus statistics (TF-IDF vocabulary); most encoders need none."""
        return self

    def cache_identity(self) -> dict[str, Any]:
        """What determines the features besides the input: name, version and config."""
        config = {k: v for k, v in self.config.model_dump(mode="json").items() if k not in RUNTIME_FIELDS}
        return {"encoder": self.name, "kind": self.kind, "version": self.version, "config": config}

    def content_key(self, item: Any) -> bytes:
        """A 32-byte digest of one input's content, the per-item part of the cache key."""
        return hashlib.sha256(str(item).encode("utf-8")).digest()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"
