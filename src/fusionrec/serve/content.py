"""Raw content of an item (text fields, an image) encoded the way the artifact's features were made.

The artifact records the :class:`~fusionrec.encoders.EncoderSpec` of each
modality (:attr:`~fusionrec.models.artifact.LoadedArtifact.encoders`). A
request's content is turned into each modality's raw input exactly as
:func:`~fusionrec.encoders.encode_dataset` turns an item-table row into one
(the text template renders the text fields and masks an item without its
required field; an image is a file), and the same encoder encodes it.

An input the encoder cannot use (a corrupt image, no overview) masks its
modality, as in training: the item is placed from the other modalities and
the caller is told which modality was masked and why. Encoders are built and
loaded on first use, once per process, and shared by every service in it;
calls into one encoder are serialised (fast tokenizers are not thread-safe).

Example:
    >>> encoder = ContentEncoder(loaded.encoders, {"text": 384}, media_root=None)  # doctest: +SKIP
    >>> encoder.encode({"text": {"title": "Heat", "overview": "A heist."}}).features["text"][:2]  # doctest: +SKIP
    [0.0123, -0.0456]
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fusionrec.encoders.base import Encoder
from fusionrec.encoders.inputs import TextTemplate, default_template, text_inputs
from fusionrec.encoders.registry import encoder_class
from fusionrec.errors import ConfigError, EncoderError
from fusionrec.serve.errors import InvalidInputError, UnsupportedError

if TYPE_CHECKING:
    from fusionrec.encoders.config import EncoderSpec

logger = logging.getLogger(__name__)

#: Input kinds a request can send raw: ``content.text`` (fields) and ``content.image`` (a file or its bytes).
CONTENT_KINDS = ("text", "image")
_SPEC_ONLY_FIELDS = {"modality", "column", "template", "required", "path", "audio"}

_shared: dict[str, tuple[Encoder, threading.Lock]] = {}
_shared_lock = threading.Lock()


@dataclass
class EncodedContent:
    """What a request's content gave: usable features per modality, and the masked ones with their reason."""

    features: dict[str, list[float]] = field(default_factory=dict)
    masked: dict[str, str] = field(default_factory=dict)


def shared_encoder(spec: EncoderSpec) -> tuple[Encoder, threading.Lock]:
    """The loaded encoder ``spec`` builds, and the lock its calls take; one per process and configuration.

    Raises:
        UnsupportedError: the encoder cannot be built or loaded here (a missing package or weights file).
    """
    options = spec.model_dump(mode="json", exclude=_SPEC_ONLY_FIELDS)
    key = f"{spec.encoder_name}:{sorted(options.items())}"
    with _shared_lock:
        if key not in _shared:
            try:
                encoder = spec.build()
                encoder.ensure_loaded()
            except (ConfigError, EncoderError) as exc:
                raise UnsupportedError(f"the {spec.modality} encoder of the served model cannot load: {exc}") from exc
            _shared[key] = (encoder, threading.Lock())
        return _shared[key]


class ContentEncoder:
    """Encodes one item's raw content with the artifact's encoder specs (nothing is loaded until used).

    Args:
        specs: the artifact's specs, one per modality made by an encoder.
        dims: ``{modality: feature dim}`` of the training features (encoded values must match).
        media_root: the folder image paths are relative to (no path may leave it).
        columns: the artifact's item-table columns (a spec without a template uses the default one).
        max_concurrent_images: requests whose image is decoded at once; others wait their turn. Each
            decode is held to :data:`~fusionrec.encoders.image.MAX_DECODED_BYTES`, so this bounds the
            memory that uploads take together.
    """

    def __init__(
        self,
        specs: Sequence[EncoderSpec],
        dims: Mapping[str, int],
        media_root: Path | None,
        columns: Sequence[str] = (),
        max_concurrent_images: int = 2,
    ) -> None:
        self.specs = [spec for spec in specs if _kind(spec) in CONTENT_KINDS]
        self.dims, self.media_root, self.columns = dict(dims), media_root, list(columns)
        self._image_slots = threading.BoundedSemaphore(max_concurrent_images)

    def text_fields(self, spec: EncoderSpec) -> list[str]:
        """The fields a text spec's template reads (its required ones included), in template order."""
        template = self._template(spec)
        return list(dict.fromkeys([*template.fields, *template.required]))

    def _template(self, spec: EncoderSpec) -> TextTemplate:
        return TextTemplate(spec.template or default_template(self.columns), spec.required)

    def encode(self, content: Mapping[str, Any]) -> EncodedContent:
        """Features of ``{"text": {field: value}, "image": {"path" | "base64": ...}}`` for every modality it feeds.

        Raises:
            InvalidInputError: content of a kind no modality takes, unknown text fields, bad base64,
                or an image path outside the media root.
        """
        given = {kind: value for kind, value in content.items() if value is not None}
        self._check_kinds(given)
        encoded = EncodedContent()
        slot = self._image_slots if "image" in given else contextlib.nullcontext()
        with slot, _ImageFile(given.get("image"), self.media_root) as image_path:
            inputs = {"text": given.get("text"), "image": image_path}
            for spec in self.specs:
                if inputs.get(spec.kind) is None:
                    continue
                values, reason = self._encode_one(spec, inputs[spec.kind])
                if values is None:
                    encoded.masked[spec.modality] = reason
                else:
                    encoded.features[spec.modality] = values.tolist()
        return encoded

    def encode_preference(self, text: str) -> EncodedContent:
        """Features of a free-text preference ("dark science fiction with a strong female lead"): the text as it
        is, through every text modality's encoder (no template: a preference has no title or overview).

        Raises:
            UnsupportedError: the served model encodes no modality from text.
        """
        specs = [spec for spec in self.specs if spec.kind == "text"]
        if not specs:
            raise UnsupportedError(
                "a free-text preference needs a model whose content includes text, but the served model encodes "
                f"{[spec.modality for spec in self.specs] or 'no raw content'}; send a history of item ids instead"
            )
        encoded = EncodedContent()
        for spec in specs:
            values, reason = encode_text(spec, text)
            if values is not None:
                encoded.features[spec.modality] = values.tolist()
            else:
                encoded.masked[spec.modality] = reason
        return encoded

    def _check_kinds(self, given: Mapping[str, Any]) -> None:
        kinds = {spec.kind for spec in self.specs}
        unknown = sorted(set(given) - kinds)
        if unknown:
            raise InvalidInputError(
                f"content.{unknown[0]} was sent but no modality of the served model is encoded from {unknown[0]}; "
                f"it encodes {sorted(kinds)} ({[s.modality for s in self.specs]})"
            )
        if "text" in given:
            allowed = sorted({f for spec in self.specs if spec.kind == "text" for f in self.text_fields(spec)})
            extra = sorted(set(given["text"]) - set(allowed))
            if extra:
                raise InvalidInputError(
                    f"content.text has field(s) {extra} that no text template of the model reads; it reads {allowed}"
                )

    def _encode_one(self, spec: EncoderSpec, raw: Any) -> tuple[np.ndarray | None, str]:
        """float32 (dim,) features of one input, or None and the reason it is masked."""
        value, reason = self._input(spec, raw)
        if reason:
            return None, reason
        values, reason = encode_input(spec, value)
        if values is None:
            return None, reason
        expected = self.dims.get(spec.modality)
        if values.shape[0] != expected:
            raise UnsupportedError(
                f"the {spec.modality} encoder ({spec.encoder_name}) gives {values.shape[0]} values but the "
                f"model's {spec.modality} features have {expected}; the artifact's encoder spec does not match "
                "its features, save it again with the specs the features were encoded with"
            )
        return values, ""

    def _input(self, spec: EncoderSpec, raw: Any) -> tuple[Any, str]:
        """The encoder's input made as encode_dataset makes it from an item-table row, or a mask reason."""
        if spec.kind != "text":
            return raw, ""
        fields = self.text_fields(spec)
        row = pd.DataFrame([{name: raw.get(name, "") for name in fields}], columns=fields)
        rendered = text_inputs(row, spec.model_copy(update={"template": self._template(spec).template}))
        return rendered.values[0], rendered.reasons[0]


def _kind(spec: EncoderSpec) -> str | None:
    """The spec's input kind, or None when its encoder is not registered in this process (it is skipped)."""
    try:
        return spec.kind
    except ConfigError as exc:
        logger.warning("raw %s content cannot be encoded here: %s", spec.modality, exc)
        return None


def encode_payload(
    encoder: ContentEncoder, item_id: str, payload: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """An item write's ``payload`` with its raw ``content`` replaced by the ``features`` it gave.

    Returns:
        The new payload (what is stored and replayed) and ``{modality: reason}`` of masked modalities.

    Raises:
        UnsupportedError: content was sent but the artifact records no encoder specs.
        InvalidInputError: a modality is sent both ways, or nothing sent is usable.
    """
    payload = dict(payload)
    content = payload.pop("content", None)
    if not content:
        return payload, {}
    if not encoder.specs:
        raise UnsupportedError(
            f"item {item_id!r}: raw content was sent, but the served artifact does not record which encoders made "
            "its features (it was saved without encoder specs), so it takes precomputed features only. Send "
            "features {modality: values}, or save the artifact with its encoders: fusionrec train with "
            "[[encoders]] tables, or save_artifact(..., encoders=specs)"
        )
    encoded = encoder.encode(content)
    given = dict(payload.get("features") or {})
    both = sorted(set(given) & (set(encoded.features) | set(encoded.masked)))
    if both:
        raise InvalidInputError(f"modality {both} is given both as features and as content; send one of them")
    if not given and not encoded.features:
        kinds = {spec.modality: spec.kind for spec in encoder.specs}
        reasons = "; ".join(f"content.{kinds[m]} ({m}): {reason}" for m, reason in sorted(encoded.masked.items()))
        raise InvalidInputError(
            f"item {item_id!r}: none of the sent content can be used ({reasons}); send a readable image "
            "or the text fields the model's template requires (see GET /v1/model)"
        )
    payload["features"] = {**given, **encoded.features}
    return payload, encoded.masked


def encode_text(spec: EncoderSpec, text: str) -> tuple[np.ndarray | None, str]:
    """float32 (dim,) features of ``text`` as it is (no template) by ``spec``'s shared encoder, or None and why
    the encoder masked it.

    Raises:
        UnsupportedError: the encoder depends on its training corpus, or cannot load here.
    """
    return encode_input(spec, text, unusable="unusable text")


def encode_input(spec: EncoderSpec, value: Any, unusable: str = "unusable input") -> tuple[np.ndarray | None, str]:
    """float32 (dim,) features of one encoder input by ``spec``'s shared encoder, or None and why it was masked
    (the encoder's reason, else ``unusable``).

    Raises:
        UnsupportedError: the encoder depends on its training corpus, or cannot load here.
    """
    _refuse_corpus_encoders(spec)
    encoder, lock = shared_encoder(spec)
    with lock:
        result = encoder.encode([value])
    if not result.mask[0]:
        return None, result.reasons[0] or unusable
    return result.values[0].astype(np.float32), ""


def _refuse_corpus_encoders(spec: EncoderSpec) -> None:
    if encoder_class(spec.encoder_name).fit is not Encoder.fit:
        raise UnsupportedError(
            f"the {spec.modality} features were made by {spec.encoder_name!r}, whose features depend on the whole "
            "training corpus, so one new item cannot be encoded the same way; send precomputed features instead"
        )


class _ImageFile:
    """The path of a request's image for the length of a ``with`` block: a checked file under the media root,
    or the uploaded bytes in a temporary file (encoders read files)."""

    def __init__(self, image: Mapping[str, Any] | None, media_root: Path | None) -> None:
        self.image, self.media_root = image, media_root
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path | None:
        if self.image is None:
            return None
        if self.image.get("base64") is not None:
            return self._upload(str(self.image["base64"]))
        return self._under_media_root(str(self.image["path"]))

    def __exit__(self, *exc_info: object) -> None:
        if self._folder is not None:
            self._folder.cleanup()

    def _upload(self, text: str) -> Path:
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidInputError(
                f"content.image.base64 is not valid base64 ({exc}; {len(text):,} characters received); "
                "send the image file's bytes base64-encoded (RFC 4648, no line breaks)"
            ) from None
        self._folder = tempfile.TemporaryDirectory(prefix="fusionrec-upload-")
        path = Path(self._folder.name) / "image"
        path.write_bytes(data)
        return path

    def _under_media_root(self, relative: str) -> Path:
        if self.media_root is None:
            raise InvalidInputError(
                f"content.image.path is {relative!r} but the server has no media root to read it from; "
                "send the image as content.image.base64, or start the server with --media-root"
            )
        root = self.media_root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise InvalidInputError(
                f"content.image.path {relative!r} leads outside the media root; give a path relative to it, "
                "e.g. posters/42.jpg"
            )
        return path


__all__ = [
    "CONTENT_KINDS",
    "ContentEncoder",
    "EncodedContent",
    "encode_input",
    "encode_payload",
    "encode_text",
    "shared_encoder",
]
