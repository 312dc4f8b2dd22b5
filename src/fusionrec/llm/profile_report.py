"""What a profiling run did for each subject (item or user), and the JSON-lines file that keeps it.

Item profiles (:mod:`fusionrec.llm.profiles`) and user profiles
(:mod:`fusionrec.llm.user_profiles`) differ in what a request quotes and in
what an answer holds, and in nothing else: each run sends its requests in
chunks, keeps a profile or a failure reason for every subject, reports the
same totals, writes one JSON line per subject and reads it back. This module
holds that shared part once, parameterised by a :class:`Subject` (the noun and
the words a report uses) and by the profile type.

Example:
    >>> report = ProfileReport(["1", "2"], "item_profile.v1", "m")  # doctest: +SKIP
    >>> write_report(report, "profiles.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from fusionrec.errors import ConfigError
from fusionrec.llm.base import Generation, GenerationRequest, GenerationStats, Generator, LLMError

EXAMPLES_SHOWN = 3
#: Requests per ``generate`` call: progress is reported between calls (a server still gets ``workers`` at once).
PROGRESS_CHUNK = 32


class Profile(BaseModel):
    """What the language model wrote about one subject; each kind says how it reads as one text to embed."""

    def text(self) -> str:
        """The profile as one text to embed."""
        raise NotImplementedError(f"{type(self).__name__} does not say how it reads as a text")


P = TypeVar("P", bound=Profile)


@dataclass(frozen=True)
class Subject:
    """What one kind of profile describes, and the words its reports, files and errors use.

    Attributes:
        noun: ``"item"`` or ``"user"``: a file line's id key is ``{noun}_id``, a count ``n_{noun}s``.
        title: the head of the report lines (``"profiles"``, ``"user profiles"``).
        not_requested: the reason of the subjects outside the requested ones in a run.
        nothing_to_ask: the reason of the subjects with nothing to describe (never sent to the model).
        writer: the function that writes the profile file, named when a file cannot be read.
    """

    noun: str
    title: str
    not_requested: str
    nothing_to_ask: str
    writer: str


@dataclass
class SubjectReport(Generic[P]):
    """What happened to every subject of one profiling run; subclasses fix :attr:`subject`.

    Attributes:
        ids: raw ids of all subjects, in index order.
        template: the prompt template id (or ``"file"`` when read from one).
        model_id: the generator's model id (or the file read).
        profiles: raw id -> profile, for the subjects that have one.
        failures: raw id -> what failed, for the subjects without one.
        stats: request totals (cached, tokens, time).
        seconds: wall time of the run.
    """

    subject: ClassVar[Subject]

    ids: list[str]
    template: str
    model_id: str
    profiles: dict[str, P] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    stats: GenerationStats = field(default_factory=GenerationStats)
    seconds: float = 0.0

    @property
    def profiles_per_minute(self) -> float:
        """Subjects answered (profiled or failed, cached or fresh) per minute of wall time."""
        unasked = (self.subject.not_requested, self.subject.nothing_to_ask)
        answered = len(self.profiles) + sum(reason not in unasked for reason in self.failures.values())
        return 60.0 * answered / self.seconds if self.seconds > 0 else float("inf")

    def masked(self) -> dict[str, list[str]]:
        """Reason -> raw ids of the subjects without a profile."""
        grouped: dict[str, list[str]] = {}
        for subject_id, reason in self.failures.items():
            grouped.setdefault(reason, []).append(subject_id)
        return grouped

    def lines(self) -> list[str]:
        """Human-readable summary: totals, then each failure reason with example ids."""
        noun, total = self.subject.noun, len(self.ids)
        skipped = sum(reason == self.subject.not_requested for reason in self.failures.values())
        scope = f"{total - skipped:,} requested of {total:,}" if skipped else "all"
        head = (
            f"{self.subject.title} ({self.template}, {self.model_id}): {len(self.profiles):,} of {total:,} {noun}s "
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
            f"n_{self.subject.noun}s": len(self.ids),
            "n_profiled": len(self.profiles),
            "n_cached": self.stats.n_cached,
            "n_failed": len(self.failures),
            "failures": self.failures,
            "completion_tokens": self.stats.completion_tokens,
            "tokens_per_second": round(self.stats.tokens_per_second, 2),
            "profiles_per_minute": round(self.profiles_per_minute, 2),
            "seconds": round(self.seconds, 3),
        }

    def texts(self, ids: list[str], owner: str) -> tuple[list[str | None], list[str]]:
        """Per id of ``owner`` (the dataset or split), the profile text to embed or None, and why not.

        Raises:
            ConfigError: the report covers other subjects than ``ids`` (or in another order).
            LLMError: no subject has a profile (the most common failure is named).
        """
        noun = self.subject.noun
        if ids != self.ids:
            raise ConfigError(
                f"the {self.subject.title} report covers {len(self.ids):,} {noun}s and the {owner} has "
                f"{len(ids):,} (or in another order); profile this {owner}'s {noun}s and embed them for it"
            )
        if not self.profiles:
            reason, examples = max(self.masked().items(), key=lambda kv: len(kv[1]), default=(f"no {noun}s", []))
            raise LLMError(
                f"no {noun} of {len(ids):,} has a profile to embed ({len(examples):,} failed with: {reason}); "
                "fix the cause in the report and profile again"
            )
        texts = [self.profiles[i].text() if i in self.profiles else None for i in ids]
        reasons = ["" if i in self.profiles else self.failures.get(i, "no profile") for i in ids]
        return texts, reasons


def wanted(ids: list[str], chosen: Sequence[str] | None, noun: str) -> set[str]:
    """The raw ids to profile: ``chosen`` (default all of ``ids``).

    Raises:
        ConfigError: a chosen id is not one of ``ids``.
    """
    if chosen is None:
        return set(ids)
    unknown = sorted(set(map(str, chosen)) - set(ids))
    if unknown:
        raise ConfigError(f"{len(unknown):,} requested {noun} ids are not in the dataset, e.g. {unknown[:3]}")
    return set(map(str, chosen))


def generate_in_chunks(
    generator: Generator, requests: list[GenerationRequest], progress: Callable[[int, int], None] | None
) -> list[Generation]:
    """Every request's generation, asked :data:`PROGRESS_CHUNK` at a time so ``progress`` hears between chunks."""
    generations: list[Generation] = []
    for start in range(0, len(requests), PROGRESS_CHUNK):
        generations += generator.generate(requests[start : start + PROGRESS_CHUNK])
        if progress is not None:
            progress(len(generations), len(requests))
    return generations


def write_report(report: SubjectReport[Any], path: str | Path) -> Path:
    """One JSON line per subject: ``{"<noun>_id", "profile"}`` or ``{"<noun>_id", "error"}``; returns the path."""
    key = f"{report.subject.noun}_id"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        for subject_id in report.ids:
            profile = report.profiles.get(subject_id)
            line = {key: subject_id, "profile": profile.model_dump()} if profile else None
            line = line or {key: subject_id, "error": report.failures.get(subject_id, "no profile")}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return target


def read_report(report: SubjectReport[P], profile_type: type[P], path: str | Path, owner: str) -> None:
    """Fill an empty ``report`` from a :func:`write_report` file; subjects absent from it become failures.

    Args:
        report: the report to fill, made with the ids of ``owner``.
        profile_type: the profile model each ``"profile"`` value is validated as.
        path: the JSON-lines file.
        owner: what holds the ids, named in the error (``"dataset 'ml-100k'"``, ``"the split"``).

    Raises:
        ConfigError: a line is not JSON or names a subject ``owner`` does not have.
    """
    subject = report.subject
    known = set(report.ids)
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} line {number} is not JSON ({exc}); write it with {subject.writer}") from exc
        subject_id = str(row.get(f"{subject.noun}_id"))
        if subject_id not in known:
            raise ConfigError(f"{path} line {number} names {subject.noun} {subject_id!r}, which {owner} lacks")
        if "profile" in row:
            report.profiles[subject_id] = profile_type.model_validate(row["profile"])
        else:
            report.failures[subject_id] = str(row.get("error", "no profile"))
    for subject_id in report.ids:
        if subject_id not in report.profiles and subject_id not in report.failures:
            report.failures[subject_id] = f"not in {path}"
