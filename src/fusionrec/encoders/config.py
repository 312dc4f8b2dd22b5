"""Encoder specs: which encoder makes which modality from which item fields, as written in TOML.

::

    [[encoders]]
    modality = "text"
    name = "minilm"
    template = "{title} | {genres} | {overview}"
    required = ["overview"]

    [[encoders]]
    modality = "image"
    name = "efficientnet-lite0"
    column = "poster"
    batch_size = 32          # any other key is an option of the encoder's config

    [[encoders]]
    modality = "video"
    column = "trailer"
    audio = "mel"            # the audio track becomes modality "video_audio"
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from fusionrec.encoders.base import KINDS, Encoder
from fusionrec.encoders.registry import DEFAULT_ENCODERS, build_encoder, encoder_class
from fusionrec.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

logger = logging.getLogger(__name__)

_MODALITY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

#: Item-table columns searched, in order, when a spec names no column.
DEFAULT_COLUMNS = {
    "image": ("poster", "image", "image_path", "cover", "thumbnail"),
    "audio": ("audio", "audio_path", "preview"),
    "video": ("video", "video_path", "trailer"),
    "vector": ("vector", "embedding"),
}
#: Text fields a default template uses, in order, when present.
TEXT_FIELDS = ("title", "name", "genres", "categories", "overview", "description")
#: Fields without which an item's text is considered missing (the descriptive one).
DESCRIPTIVE_FIELDS = ("overview", "description")


class EncoderSpec(BaseModel):
    """One ``[[encoders]]`` entry: a modality, the encoder that makes it, and where its input is.

    Attributes:
        modality: the feature name (``"text"``, ``"image"``, ``"poster"``...), used for files and reports.
        name: a registry name (``"minilm"``, ``"efficientnet-lite0"``...); defaults per kind.
        column: item-table column with the media path or vector; defaults per kind.
        template: text only, e.g. ``"{title} | {genres} | {overview}"``.
        required: text fields whose emptiness masks the item.
        path: precomputed only: an MMRec ``<modality>_feat.npy``, relative to the data folder.
        audio: video only: an audio encoder for the track, giving modality ``<modality>_audio``.

    Any other key is an option of the encoder (``batch_size``, ``n_frames``, ``model``...).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    modality: str
    name: str | None = None
    column: str | None = None
    template: str | None = None
    required: list[str] = Field(default_factory=list)
    path: str | None = None
    audio: str | None = None

    @field_validator("modality")
    @classmethod
    def _modality_is_a_name(cls, value: str) -> str:
        if not _MODALITY_NAME.match(value):
            raise ValueError(f"modality {value!r} must be a simple name (letters, digits, _ or -), e.g. 'text'")
        return value

    @property
    def encoder_name(self) -> str:
        """The registry name, defaulting by modality (``text`` -> ``minilm``)."""
        if self.name:
            return self.name
        if self.modality in DEFAULT_ENCODERS:
            return DEFAULT_ENCODERS[self.modality]
        raise ConfigError(f"encoder spec for modality {self.modality!r} needs name=...; kinds with defaults: {KINDS}")

    @property
    def options(self) -> dict[str, Any]:
        """Keys that are not spec fields: they configure the encoder."""
        return dict(self.model_extra or {})

    @property
    def kind(self) -> str:
        """The input kind of the chosen encoder (``text``, ``image``, ...)."""
        return encoder_class(self.encoder_name).kind

    def build(self) -> Encoder:
        """The encoder, checked against the modality (an image encoder cannot make ``text``)."""
        encoder = build_encoder(self.encoder_name, **self.options)
        if self.modality in KINDS and encoder.kind != self.modality:
            raise ConfigError(
                f"encoder {self.encoder_name!r} reads {encoder.kind} but modality is {self.modality!r}; "
                f"choose a {self.modality} encoder or rename the modality"
            )
        return encoder

    def expand(self) -> list[EncoderSpec]:
        """This spec, plus the audio-track spec a video spec with ``audio=...`` implies."""
        if not self.audio:
            return [self]
        track = EncoderSpec(modality=f"{self.modality}_audio", name=self.audio, column=self.column)
        return [self.model_copy(update={"audio": None}), track]


def parse_specs(entries: list[dict[str, Any]], source: str = "encoder specs") -> list[EncoderSpec]:
    """Validate ``[[encoders]]`` tables into specs; errors name the entry and the bad key."""
    specs = []
    for position, entry in enumerate(entries):
        try:
            spec = EncoderSpec(**entry)
            spec.build()  # unknown names and bad options fail here, before any work
        except ValidationError as exc:
            error = exc.errors()[0]
            raise ConfigError(f"{source}: encoders[{position}] {error['loc']}: {error['msg']} (got {entry})") from exc
        except ConfigError as exc:
            raise ConfigError(f"{source}: encoders[{position}]: {exc}") from exc
        specs.extend(spec.expand())
    modalities = [s.modality for s in specs]
    duplicated = sorted({m for m in modalities if modalities.count(m) > 1})
    if duplicated:
        raise ConfigError(f"{source}: modality {duplicated} is made by more than one encoder; give each a unique name")
    return specs


def load_specs(path: str | Path) -> list[EncoderSpec]:
    """The ``[[encoders]]`` entries of a TOML experiment file.

    Example:
        >>> specs = load_specs("experiment.toml")  # doctest: +SKIP
    """
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"experiment file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    entries = document.get("encoders")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f'{path} has no [[encoders]] tables; add one per modality, e.g. modality = "text"')
    return parse_specs(entries, source=str(path))


def default_specs(columns: list[str], table: pd.DataFrame | None = None) -> list[EncoderSpec]:
    """Specs for an item table with no experiment file: text from its text fields, media from path columns.

    The text template joins the known text fields present, then every other
    column of ``table`` that holds free text (:func:`free_text_columns`; the
    ones left out are logged with the reason); an item whose descriptive field
    (overview/description) is empty is masked, because a title alone says
    little about the item's content.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"item_id": ["1"], "title": ["Heat"], "tags": ["heist, la"], "year": ["1995"]})
        >>> default_specs(list(table.columns), table)[0].template
        '{title} | {tags}'
    """
    specs = []
    fields = [f for f in TEXT_FIELDS if f in columns]
    if table is not None:
        fields += [c for c in free_text_columns(table) if c not in fields]
    if fields:
        template = " | ".join("{" + f + "}" for f in fields)
        required = [f for f in DESCRIPTIVE_FIELDS if f in columns][:1]
        specs.append(EncoderSpec(modality="text", template=template, required=required))
    for kind in ("image", "audio", "video"):
        column = next((c for c in DEFAULT_COLUMNS[kind] if c in columns), None)
        if column:
            specs.append(EncoderSpec(modality=kind, column=column))
    return specs


_NUMBER = re.compile(r"^\s*[-+]?\d+([.,]\d+)?\s*$")
_DATE = re.compile(r"^\s*\d{1,4}[-/. ](\d{1,2}|[A-Za-z]{3,9})[-/. ]\d{1,4}([\sT].*)?$")
_MEDIA_SUFFIX = re.compile(r"\.(jpe?g|png|gif|webp|bmp|mp3|wav|flac|ogg|m4a|mp4|mkv|webm|avi|mov|npy)$", re.IGNORECASE)
_SAMPLE = 500  # rows read to judge a column


def free_text_columns(table: pd.DataFrame) -> list[str]:
    """Columns of an item table that hold free text: not an id, a number, a date or a media path.

    Columns left out are logged with the reason, so no text column is dropped unsaid.
    """
    kept, left_out = [], {}
    for column in table.columns:
        name = str(column)
        reason = _not_text(name, table[column])
        if reason is None:
            kept.append(name)
        else:
            left_out[name] = reason
    if left_out:
        logger.info("default text template leaves out %s", "; ".join(f"{c}: {r}" for c, r in left_out.items()))
    return kept


def _not_text(name: str, column: pd.Series) -> str | None:
    """Why ``column`` is not free text, or None when it is."""
    if name.lower() == "id" or name.lower().endswith("_id"):
        return "an id"
    values = [str(v) for v in column.dropna().head(_SAMPLE) if str(v).strip()]
    if not values:
        return "empty"
    for pattern, what in ((_NUMBER, "numbers"), (_DATE, "dates"), (_MEDIA_SUFFIX, "media paths")):
        if sum(bool(pattern.search(v)) for v in values) >= 0.8 * len(values):
            return what
    return None
