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

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from fusionrec.encoders.cache import FeatureCache
from fusionrec.encoders.config import TEXT_FIELDS
from fusionrec.encoders.inputs import ItemInputs
from fusionrec.encoders.pipeline import ModalityReport, encode_inputs
from fusionrec.encoders.registry import build_encoder
from fusionrec.errors import ConfigError
from fusionrec.llm.base import Generation, GenerationRequest, GenerationStats, Generator, LLMError
from fusionrec.llm.prompts import PromptTemplate, load_prompt, quote_data

if TYPE_CHECKING:
    from fusionrec.data.dataset import Dataset

PROFILE_MODALITY = "profile"
NO_METADATA = "no metadata to profile (every metadata field is empty)"
NOT_REQUESTED = "not profiled in this run (outside the requested items)"
EXAMPLES_SHOWN = 3
#: Longest metadata value sent, in characters (an overview is rarely longer).
MAX_FIELD_CHARS = 1200
#: Requests per ``generate`` call: progress is reported between calls (a server still gets ``workers`` at once).
PROGRESS_CHUNK = 32

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


class ItemProfile(BaseModel):
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
class ProfileReport:
    """What happened to every item of one :func:`profile_items` run.

    Attributes:
        item_ids: raw ids of all items, in item-index order.
        template: the prompt template id (``item_profile.v1``).
        model_id: the generator's model id.
        profiles: raw id -> profile, for the items that have one.
        failures: raw id -> what failed (with the number of tries), for items without one.
        stats: request totals (cached, tokens, time).
        seconds: wall time of the run.
    """

    item_ids: list[str]
    template: str
    model_id: str
    profiles: dict[str, ItemProfile] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    stats: GenerationStats = field(default_factory=GenerationStats)
    seconds: float = 0.0

    @property
    def profiles_per_minute(self) -> float:
        """Items answered (profiled or failed, cached or fresh) per minute of wall time."""
        answered = len(self.profiles) + sum(r not in (NO_METADATA, NOT_REQUESTED) for r in self.failures.values())
        return 60.0 * answered / self.seconds if self.seconds > 0 else float("inf")

    def masked(self) -> dict[str, list[str]]:
        """Reason -> raw ids of the items without a profile."""
        grouped: dict[str, list[str]] = {}
        for item_id, reason in self.failures.items():
            grouped.setdefault(reason, []).append(item_id)
        return grouped

    def lines(self) -> list[str]:
        """Human-readable summary: totals, then each failure reason with example ids."""
        skipped = sum(reason == NOT_REQUESTED for reason in self.failures.values())
        scope = f"{len(self.item_ids) - skipped:,} requested of {len(self.item_ids):,}" if skipped else "all"
        head = (
            f"profiles ({self.template}, {self.model_id}): {len(self.profiles):,} of {len(self.item_ids):,} items "
            f"({scope}; {self.stats.n_cached:,} answers from cache), "
            f"{len(self.failures) - skipped:,} without a profile; {self.seconds:.1f} s, "
            f"{self.profiles_per_minute:,.1f} profiles/min, {self.stats.tokens_per_second:,.1f} tokens/s"
        )
        details = [
            f"  {len(ids):,} without a profile: {reason} (e.g. {', '.join(ids[:EXAMPLES_SHOWN])})"
            for reason, ids in sorted(self.masked().items(), key=lambda kv: -len(kv[1]))
        ]
        return [head, *details]

    def to_dict(self) -> dict[str, Any]:
        return {
            "template": self.template,
            "model": self.model_id,
            "n_items": len(self.item_ids),
            "n_profiled": len(self.profiles),
            "n_cached": self.stats.n_cached,
            "n_failed": len(self.failures),
            "failures": self.failures,
            "completion_tokens": self.stats.completion_tokens,
            "tokens_per_second": round(self.stats.tokens_per_second, 2),
            "profiles_per_minute": round(self.profiles_per_minute, 2),
            "seconds": round(self.seconds, 3),
        }


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
    wanted = _wanted(ids, items)
    report = ProfileReport(ids, template.id, generator.model_id)
    requests = []
    for item_id, metadata in zip(ids, item_metadata(dataset, fields), strict=True):
        if item_id not in wanted:
            report.failures[item_id] = NOT_REQUESTED
        elif not metadata:
            report.failures[item_id] = NO_METADATA
        else:
            requests.append(profile_request(item_id, metadata, template, max_tokens))
    generations: list[Generation] = []
    for start in range(0, len(requests), PROGRESS_CHUNK):
        generations += generator.generate(requests[start : start + PROGRESS_CHUNK])
        if progress is not None:
            progress(len(generations), len(requests))
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
    if ids != report.item_ids:
        raise ConfigError(
            f"the profile report covers {len(report.item_ids):,} items and the dataset has {len(ids):,} "
            "(or in another order); profile this dataset's items and attach them to it"
        )
    if not report.profiles:
        reason, examples = max(report.masked().items(), key=lambda kv: len(kv[1]), default=("no items", []))
        raise LLMError(
            f"no item of {len(ids):,} has a profile to embed ({len(examples):,} failed with: {reason}); "
            "fix the cause in the report and profile again"
        )
    texts = [report.profiles[i].text() if i in report.profiles else None for i in ids]
    reasons = ["" if i in report.profiles else report.failures.get(i, "no profile") for i in ids]
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


def _wanted(ids: list[str], items: Sequence[str] | None) -> set[str]:
    if items is None:
        return set(ids)
    unknown = sorted(set(map(str, items)) - set(ids))
    if unknown:
        raise ConfigError(f"{len(unknown):,} requested item ids are not in the dataset, e.g. {unknown[:3]}")
    return set(map(str, items))


def _record(report: ProfileReport, generation: Generation) -> None:
    if not generation.ok or generation.data is None:
        report.failures[generation.key] = f"profile generation failed: {generation.error or 'no JSON output'}"
        return
    report.profiles[generation.key] = ItemProfile.model_validate(generation.data)


def write_profiles(report: ProfileReport, path: str | Path) -> Path:
    """One JSON line per item: ``{"item_id", "profile"}`` or ``{"item_id", "error"}``; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        for item_id in report.item_ids:
            profile = report.profiles.get(item_id)
            line = {"item_id": item_id, "profile": profile.model_dump()} if profile else None
            line = line or {"item_id": item_id, "error": report.failures.get(item_id, "no profile")}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return target


def read_profiles(path: str | Path, dataset: Dataset) -> ProfileReport:
    """The report of a :func:`write_profiles` file, for ``dataset``'s items (items absent from it are failures).

    Raises:
        ConfigError: a line is not JSON or names an item the dataset does not know.
    """
    ids = [str(i) for i in dataset.items.ids]
    known = set(ids)
    report = ProfileReport(ids, "file", str(path))
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} line {number} is not JSON ({exc}); write it with write_profiles") from exc
        item_id = str(row.get("item_id"))
        if item_id not in known:
            raise ConfigError(f"{path} line {number} names item {item_id!r}, which dataset {dataset.name!r} lacks")
        if "profile" in row:
            report.profiles[item_id] = ItemProfile.model_validate(row["profile"])
        else:
            report.failures[item_id] = str(row.get("error", "no profile"))
    for item_id in ids:
        if item_id not in report.profiles and item_id not in report.failures:
            report.failures[item_id] = f"not in {path}"
    return report
