"""User profiles: a language model summarises each user's training history in one sentence.

For each user, one request carries that user's history from the TRAINING
part of a split only (valid and test items never enter a prompt): up to
:data:`MAX_HISTORY_ITEMS` items, each one line with its title, genres, rating
and item-profile summary where known, quoted as a JSON list between tags, so
no user sees another's history and no title can close the tag. The answer is
free text: its first line, at most :data:`MAX_SUMMARY_CHARS` characters, is
the summary (a cut sentence still embeds). The summary is only ever embedded,
never shown or parsed, so text injected through a title can at worst change
that one user's summary. A user whose request failed, or who has no training
interaction, is masked with the reason. :func:`user_content` embeds the
summaries with a text encoder into a
:class:`~fusionrec.data.dataset.UserContent` that models read from
``split.user_content``.

Example:
    >>> from fusionrec.llm import LlamaCppGenerator, profile_users, user_content
    >>> with LlamaCppGenerator("smollm2") as generator:  # doctest: +SKIP
    ...     report = profile_users(split, generator)
    >>> split.user_content = user_content(split, report, encoder="minilm")  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import ConfigDict, Field

from fusionrec.data.dataset import UserContent
from fusionrec.encoders.cache import FeatureCache
from fusionrec.encoders.inputs import ItemInputs
from fusionrec.encoders.pipeline import encode_inputs
from fusionrec.encoders.registry import build_encoder
from fusionrec.errors import ConfigError
from fusionrec.llm.base import GenerationRequest, GenerationStats, Generator
from fusionrec.llm.profile_report import (
    Profile,
    Subject,
    SubjectReport,
    generate_in_chunks,
    read_report,
    wanted,
    write_report,
)
from fusionrec.llm.profiles import MAX_FIELD_CHARS, ProfileReport
from fusionrec.llm.prompts import PromptTemplate, load_prompt, quote_data

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.data.interactions import Interactions

USER_PROFILE_MODALITY = "user_profile"
NO_HISTORY = "no training interaction to summarise"
NOT_REQUESTED = "not profiled in this run (outside the requested users)"
USERS = Subject("user", "user profiles", NOT_REQUESTED, NO_HISTORY, "write_user_profiles")
#: Most training items described per user (highest rated first, then the most recent).
MAX_HISTORY_ITEMS = 10
#: Longest summary kept, in characters (the first line of the answer).
MAX_SUMMARY_CHARS = 240
#: Longest item-profile summary quoted in a user's history, in characters.
MAX_ITEM_SUMMARY_CHARS = 160
#: Item-table columns quoted for each history item when present.
HISTORY_FIELDS = ("title", "genres")


class UserProfile(Profile):
    """What the language model wrote about one user: a one-sentence summary of their taste."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    summary: str = Field(min_length=1, max_length=MAX_SUMMARY_CHARS)

    @classmethod
    def from_answer(cls, text: str) -> UserProfile | None:
        """The profile in a free-text answer (its first non-empty line, cut to the longest kept); None if empty."""
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        return cls(summary=lines[0][:MAX_SUMMARY_CHARS]) if lines else None

    def text(self) -> str:
        """The profile as one text to embed."""
        return self.summary.strip()


@dataclass
class UserProfileReport(SubjectReport[UserProfile]):
    """What happened to every user of one :func:`profile_users` run (see :class:`SubjectReport`).

    ``user_ids`` (the same list as ``ids``) are the raw ids of all users, in user-index order.
    """

    subject: ClassVar[Subject] = USERS

    @property
    def user_ids(self) -> list[str]:
        """Raw ids of all users, in user-index order."""
        return self.ids


def training_histories(
    split: Split, item_profiles: ProfileReport | None = None, max_items: int = MAX_HISTORY_ITEMS
) -> list[list[dict[str, Any]]]:
    """Per user index, the training items to describe: ``[{"title", "genres", "rating", "profile"}...]``.

    Only ``split.train`` is read. A user's items are ordered by rating (highest first) when the data has
    ratings, then by time (latest first) when it has timestamps, then by a fixed shuffle (not by id), and
    the first ``max_items`` are kept. Fields that are unknown or empty are left out; an item without any
    known field is described by its raw id.
    """
    if max_items < 1:
        raise ConfigError(f"max_items is {max_items}; at least 1 history item per user is expected")
    train, dataset = split.train, split.dataset
    described = _item_descriptions(split, item_profiles)
    order = training_order(train)
    histories: list[list[dict[str, Any]]] = [[] for _ in range(dataset.n_users)]
    for row in order:
        history = histories[int(train.user_index[row])]
        if len(history) < max_items:
            entry: dict[str, Any] = dict(described[int(train.item_index[row])])
            if train.rating is not None and np.isfinite(train.rating[row]):
                entry["rating"] = float(train.rating[row])
            history.append(entry)
    return histories


def training_order(train: Interactions) -> np.ndarray:
    """Row indices of ``train`` grouped by user, each user's most telling first (see :func:`training_histories`)."""
    shuffle = (train.item_index * 2654435761 + train.user_index * 40503) % 4294967291  # fixed, not id order
    keys = [shuffle]
    if train.timestamp is not None:
        keys.append(-train.timestamp.astype(np.float64))
    if train.rating is not None:
        keys.append(-train.rating.astype(np.float64))
    return np.lexsort((*keys, train.user_index))


def history_line(entry: dict[str, Any]) -> str:
    """One history item as one line: ``"Heat (1995) [Action, Crime] rated 4: <profile summary>"``."""
    text = entry.get("title") or f"item {entry.get('item', '?')}"
    if entry.get("genres"):
        text += " [" + ", ".join(g.strip() for g in str(entry["genres"]).split("|") if g.strip()) + "]"
    if "rating" in entry:
        text += f" rated {entry['rating']:g}"
    return text + (f": {entry['profile']}" if entry.get("profile") else "")


def user_profile_request(
    user_id: str, history: list[dict[str, Any]], template: PromptTemplate, max_tokens: int
) -> GenerationRequest:
    """The request for one user: their training history alone, one line per item in a JSON list between tags."""
    system, user = template.render(history=quote_data([history_line(entry) for entry in history], indent=None))
    return GenerationRequest(key=user_id, prompt=user, system=system, max_tokens=max_tokens, template=template.id)


def profile_users(
    split: Split,
    generator: Generator,
    *,
    users: Sequence[str] | None = None,
    item_profiles: ProfileReport | None = None,
    max_items: int = MAX_HISTORY_ITEMS,
    template: PromptTemplate | None = None,
    max_tokens: int = 40,
    fewest_first: bool = False,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> UserProfileReport:
    """Ask ``generator`` for a one-sentence taste summary of each user; never raises for a failed user.

    Args:
        split: the split whose TRAINING interactions describe each user (valid and test are never read).
        generator: any backend.
        users: raw ids to profile (default all); the others are reported as not requested.
        item_profiles: item profiles to quote beside the titles (their summaries), where present.
        max_items: most training items per user (see :func:`training_histories`).
        template: the prompt; default the newest ``user_profile``.
        max_tokens: most tokens per profile (a one-sentence summary takes 25 to 40).
        fewest_first: ask for the users with the fewest training interactions first (they lean on their
            profile most), so a run stopped early has served them; else in user-index order.
        progress: called as ``progress(requests_done, requests_total)`` after each chunk of requests.

    Returns:
        A :class:`UserProfileReport` with a profile or a failure reason for every user.
    """
    started = time.perf_counter()
    template = template or load_prompt("user_profile")
    ids = [str(u) for u in split.dataset.users.ids]
    chosen = wanted(ids, users, "user")
    report = UserProfileReport(ids, template.id, generator.model_id)
    histories = training_histories(split, item_profiles, max_items)
    requests: list[GenerationRequest] = []
    for index in _request_order(split, fewest_first):
        user_id, history = ids[index], histories[index]
        if user_id not in chosen or (limit is not None and len(requests) >= limit):
            report.failures[user_id] = NOT_REQUESTED
        elif not history:
            report.failures[user_id] = NO_HISTORY
        else:
            requests.append(user_profile_request(user_id, history, template, max_tokens))
    generations = generate_in_chunks(generator, requests, progress)
    for generation in generations:
        profile = UserProfile.from_answer(generation.text) if generation.ok else None
        if profile is not None:
            report.profiles[generation.key] = profile
        else:
            report.failures[generation.key] = f"profile generation failed: {generation.error or 'empty output'}"
    report.stats = GenerationStats.of(generations)
    report.seconds = time.perf_counter() - started
    return report


def user_content(
    split: Split,
    report: UserProfileReport,
    *,
    encoder: str = "minilm",
    cache_dir: str | Path | None = None,
    **options: Any,
) -> UserContent:
    """The summaries embedded by a text encoder: one row per user, masked where there is no profile.

    Args:
        split: the split ``report`` was made from (its users, in index order).
        report: the user profiles.
        encoder: a text encoder's registry name (``"minilm"``, ``"tfidf"``...).
        cache_dir: a feature cache folder; None encodes without a cache.
        **options: options of the encoder's config (``batch_size``...).

    Returns:
        A :class:`~fusionrec.data.dataset.UserContent` to set as ``split.user_content``.

    Raises:
        LLMError: no user has a profile (the most common failure is named).
    """
    texts, reasons = report.texts([str(u) for u in split.dataset.users.ids], "split")
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    text_encoder = build_encoder(encoder, **options)
    values, mask, _, _ = encode_inputs(text_encoder, ItemInputs(texts, reasons), USER_PROFILE_MODALITY, cache)
    kept = tuple(text or "" for text in texts)
    return UserContent(values, mask, source=f"user profiles ({report.template}, {encoder})", texts=kept)


def read_user_profiles(path: str | Path, split: Split) -> UserProfileReport:
    """The report of a :func:`write_user_profiles` file, for ``split``'s users (users absent from it are failures).

    Raises:
        ConfigError: a line is not JSON or names a user the split does not know.
    """
    report = UserProfileReport([str(u) for u in split.dataset.users.ids], "file", str(path))
    read_report(report, UserProfile, path, "the split")
    return report


def write_user_profiles(report: UserProfileReport, path: str | Path) -> Path:
    """One JSON line per user: ``{"user_id", "profile"}`` or ``{"user_id", "error"}``; returns the path."""
    return write_report(report, path)


def _item_descriptions(split: Split, item_profiles: ProfileReport | None) -> list[dict[str, str]]:
    """Per item index, the known fields of :data:`HISTORY_FIELDS` and its profile summary."""
    dataset = split.dataset
    table = dataset.item_table
    columns = [name for name in HISTORY_FIELDS if table is not None and name in table.columns]
    rows: list[dict[str, str]] = [{} for _ in range(dataset.n_items)]
    if table is not None and columns:
        cells = table[columns].astype(object).where(table[columns].notna(), "").to_dict("records")
        rows = [{str(k): str(v).strip()[:MAX_FIELD_CHARS] for k, v in cell.items() if str(v).strip()} for cell in cells]
    if item_profiles is not None:
        summaries = item_profiles.profiles
        for index, item_id in enumerate(dataset.items.ids):
            profile = summaries.get(str(item_id))
            if profile is not None:
                rows[index]["profile"] = profile.summary.strip()[:MAX_ITEM_SUMMARY_CHARS]
    for index, item_id in enumerate(dataset.items.ids):
        if not rows[index]:
            rows[index]["item"] = str(item_id)
    return rows


def _request_order(split: Split, fewest_first: bool) -> np.ndarray:
    """User indices in the order their requests are sent."""
    if not fewest_first:
        return np.arange(split.n_users)
    counts = np.bincount(split.train.user_index, minlength=split.n_users)
    return np.argsort(counts, kind="stable")
