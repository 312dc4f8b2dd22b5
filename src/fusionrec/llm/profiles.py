"""Item profiles: a language model describes each item, and the description becomes a modality.

For each item, one request carries that item's metadata (title, genres,
overview...) quoted as JSON data, so no item sees another's metadata and
text in the metadata cannot change the output's shape: the answer must be a
JSON object matching :data:`PROFILE_SCHEMA` or it is rejected. An item
whose profile failed (or that has no metadata) is masked with the reason.
:func:`attach_profiles` embeds the profile texts with a text encoder and
adds them to the dataset as modality ``"profile"``.

Example:
    >>> from fusionrec.llm import LlamaCppGenerator, attach_profiles, profile_items
    >>> with LlamaCppGenerator("smollm2") as generator:  # doctest: +SKIP
    ...     report = profile_items(dataset, generator)
    >>> attach_profiles(dataset, report, encoder="minilm")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ConfigDict, Field

from fusionrec.encoders.cache import FeatureCache
from fusionrec.encoders.config import TEXT_FIELDS
from fusionrec.encoders.inputs import ItemInputs
from fusionrec.encoders.pipeline import ModalityReport, encode_inputs
from fusionrec.encoders.registry import build_encoder
from fusionrec.errors import ConfigError
from fusionrec.llm.base import Generation, GenerationRequest, GenerationStats, Generator
from fusionrec.llm.profile_report import (
    Profile,
    Subject,
    SubjectReport,
    generate_in_chunks,
    read_report,
    wanted,
    write_report,
)
from fusionrec.llm.prompts import PromptTemplate, load_prompt, quote_data

if TYPE_CHECKING:
    from fusionrec.data.dataset import Dataset

PROFILE_MODALITY = "profile"
NO_METADATA = "no metadata to profile (every metadata field is empty)"
NOT_REQUESTED = "not profiled in this run (outside the requested items)"
ITEMS = Subject("item", "profiles", NOT_REQUESTED, NO_METADATA, "write_profiles")
#: Longest metadata value sent, in characters (an overview is rarely longer).
MAX_FIELD_CHARS = 1200

PROFILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["summary", "themes", "mood", "audience"],
    "properties": {
        "summary": {"type": "string", "minLength": 1, "maxLength": 240},
        "themes": {"type": "array", "maxItems": 4, "items": {"type": "string", "minLength": 1, "maxLength": 24}},
        "mood": {"type": "string", "maxLength": 24},
        "audience": {"type": "string", "maxLength": 40},
    },
}


class ItemProfile(Profile):
    """What the language model wrote about one item (validated against :data:`PROFILE_SCHEMA`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str
    themes: list[str] = Field(default_factory=list)
    mood: str = ""
    audience: str = ""

    def text(self) -> str:
        """The profile as one text to embed: summary, then the attributes that are not empty."""
        parts = [self.summary.strip()]
        if self.themes:
            parts.append("themes: " + ", ".join(t.strip() for t in self.themes))
        parts += [f"{name}: {value.strip()}" for name, value in (("mood", self.mood), ("audience", self.audience))]
        return " | ".join(part for part in parts if part and not part.endswith(": "))


@dataclass
class ProfileReport(SubjectReport[ItemProfile]):
    """What happened to every item of one :func:`profile_items` run (see :class:`SubjectReport`).

    ``item_ids`` (the same list as ``ids``) are the raw ids of all items, in item-index order.
    """

    subject: ClassVar[Subject] = ITEMS

    @property
    def item_ids(self) -> list[str]:
        """Raw ids of all items, in item-index order."""
        return self.ids


def item_metadata(dataset: Dataset, fields: Sequence[str] | None = None) -> list[dict[str, str]]:
    """One ``{field: text}`` per item index, with the empty fields left out.

    Args:
        dataset: a dataset with an item table.
        fields: item-table columns to describe; default the known text fields present (title, genres, overview...).
    """
    table = dataset.item_table
    if table is None:
        raise ConfigError(f"dataset {dataset.name!r} has no item table; profiles are written from item metadata")
    columns = [str(c) for c in table.columns]
    chosen = list(fields) if fields else [name for name in TEXT_FIELDS if name in columns]
    unknown = [name for name in chosen if name not in columns]
    if unknown or not chosen:
        raise ConfigError(f"metadata fields {unknown or chosen} are not item-table columns; available: {columns}")
    rows = table[chosen].astype(object).where(table[chosen].notna(), "").to_dict("records")
    cells = [{name: str(row[name]).strip() for name in chosen} for row in rows]
    return [{name: text[:MAX_FIELD_CHARS] for name, text in row.items() if text} for row in cells]


def profile_request(
    item_id: str, metadata: dict[str, str], template: PromptTemplate, max_tokens: int
) -> GenerationRequest:
    """The request for one item: its metadata alone, quoted as JSON between tags."""
    system, user = template.render(metadata=quote_data(metadata))
    return GenerationRequest(
        key=item_id, prompt=user, system=system, max_tokens=max_tokens, schema=PROFILE_SCHEMA, template=template.id
    )


def profile_items(
    dataset: Dataset,
    generator: Generator,
    *,
    items: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    template: PromptTemplate | None = None,
    max_tokens: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> ProfileReport:
    """Ask ``generator`` for a profile of each item; never raises for an item whose profile failed.

    Args:
        dataset: a dataset with an item table.
        generator: any backend.
        items: raw ids to profile (default all); the others are reported as not requested.
        fields: metadata columns (see :func:`item_metadata`).
        template: the prompt; default the newest ``item_profile``.
        max_tokens: most tokens per profile.
        progress: called as ``progress(requests_done, requests_total)`` after each chunk of requests.

    Returns:
        A :class:`ProfileReport` with a profile or a failure reason for every item.
    """
    started = time.perf_counter()
    template = template or load_prompt("item_profile")
    ids = [str(i) for i in dataset.items.ids]
    chosen = wanted(ids, items, "item")
    report = ProfileReport(ids, template.id, generator.model_id)
    requests = []
    for item_id, metadata in zip(ids, item_metadata(dataset, fields), strict=True):
        if item_id not in chosen:
            report.failures[item_id] = NOT_REQUESTED
        elif not metadata:
            report.failures[item_id] = NO_METADATA
        else:
            requests.append(profile_request(item_id, metadata, template, max_tokens))
    generations = generate_in_chunks(generator, requests, progress)
    for generation in generations:
        _record(report, generation)
    report.stats = GenerationStats.of(generations)
    report.seconds = time.perf_counter() - started
    return report


def attach_profiles(
    dataset: Dataset,
    report: ProfileReport,
    *,
    encoder: str = "minilm",
    modality: str = PROFILE_MODALITY,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> ModalityReport:
    """Embed the profile texts and add them to ``dataset`` as ``modality``, masked where there is no profile.

    Args:
        dataset: the dataset ``report`` was made from.
        report: the profiles.
        encoder: a text encoder's registry name (``"minilm"``, ``"tfidf"``...).
        modality: the feature name.
        cache_dir: a feature cache folder; None encodes without a cache.
        **options: options of the encoder's config (``batch_size``...).

    Returns:
        The modality's :class:`ModalityReport`; its ``masked`` carries each failure reason.

    Raises:
        LLMError: no item has a profile (the most common failure is named).
    """
    ids = [str(i) for i in dataset.items.ids]
    texts, reasons = report.texts(ids, "dataset")
    text_encoder = build_encoder(encoder, **options)
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    started = time.perf_counter()
    values, mask, reasons, modality_report = encode_inputs(text_encoder, ItemInputs(texts, reasons), modality, cache)
    dataset.add_feature(modality, values, mask, source=f"{modality} features (LLM profiles, {encoder})")
    modality_report.masked = {}
    for item_id, usable, reason in zip(ids, mask, reasons, strict=True):
        if not usable:
            modality_report.masked.setdefault(reason or "no profile", []).append(item_id)
    modality_report.seconds = time.perf_counter() - started
    return modality_report


def _record(report: ProfileReport, generation: Generation) -> None:
    if not generation.ok or generation.data is None:
        report.failures[generation.key] = f"profile generation failed: {generation.error or 'no JSON output'}"
        return
    report.profiles[generation.key] = ItemProfile.model_validate(generation.data)


def write_profiles(report: ProfileReport, path: str | Path) -> Path:
    """One JSON line per item: ``{"item_id", "profile"}`` or ``{"item_id", "error"}``; returns the path."""
    return write_report(report, path)


def read_profiles(path: str | Path, dataset: Dataset) -> ProfileReport:
    """The report of a :func:`write_profiles` file, for ``dataset``'s items (items absent from it are failures).

    Raises:
        ConfigError: a line is not JSON or names an item the dataset does not know.
    """
    report = ProfileReport([str(i) for i in dataset.items.ids], "file", str(path))
    read_report(report, ItemProfile, path, f"dataset {dataset.name!r}")
    return report
