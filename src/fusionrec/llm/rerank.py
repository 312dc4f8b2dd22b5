"""Listwise reranking by a language model: each user's candidates shown in several shuffles, ranks aggregated.

For one user, :class:`ListwiseReranker` shows the model the titles the user
took most recently and the candidates (titles, numbered in a shuffled order)
and asks for a ranking: a JSON list of candidate numbers (prompt
``rerank.vN``). It asks ``repeats`` times with different shuffles, since small
models favour whatever is shown first, and aggregates with Borda points: in a
list of ``n`` the item at place ``p`` (0 first) gets ``n - 1 - p`` points.

Each answer is read leniently: a number that names no shown candidate is
ignored (counted as invented), a number named twice counts once (counted as
a duplicate), and the candidates it leaves out follow the ones it ranked, in
the model's order (counted as omitted). A failed generation contributes
nothing and is counted; a user whose every generation failed keeps the
model's order. The final order sorts the candidates by
``llm_weight * mean LLM points + (1 - llm_weight) * model points``, ties in
the model's order.

Example:
    >>> borda_points([2, 0, 1])  # candidate 2 ranked first, then 0, then 1
    array([1., 0., 2.])
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from fusionrec.llm.base import Generation, GenerationRequest, Generator
from fusionrec.llm.prompts import PromptTemplate, load_prompt, quote_data

logger = logging.getLogger(__name__)

PROMPT = "rerank"
MAX_REPORTED_ERRORS = 5


class RerankConfig(BaseModel):
    """Settings of listwise reranking (fixed defaults, never tuned on test)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_candidates: int = Field(
        default=10, ge=2, le=50, description="each user's best model items the language model reorders"
    )
    repeats: int = Field(default=3, ge=1, le=20, description="shuffles shown per user; their rankings are aggregated")
    llm_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="share of the language model's Borda points in the final order (1: its alone)",
    )
    seed: int = Field(
        default=0, description="seed of the shuffles (with the user's key, so a user's shuffles never change)"
    )
    history: int = Field(default=10, ge=1, le=50, description="most recent training items shown per user")
    prompt_version: int | None = Field(
        default=None, ge=1, description="version of the rerank prompt; None takes the newest"
    )

    def max_tokens(self) -> int:
        """Tokens enough for a JSON list of every candidate number (a number and a separator are ~3 tokens)."""
        return 16 + 4 * self.n_candidates


@dataclass(frozen=True)
class RerankInput:
    """One user's list to rerank.

    Attributes:
        key: the user's raw id (names the requests and seeds the shuffles).
        history: titles of the user's most recent items, oldest first.
        candidates: the candidates' titles in the model's order, best first.
    """

    key: str
    history: Sequence[str]
    candidates: Sequence[str]


@dataclass
class RerankOutcome:
    """The reranking of one user's candidates.

    Attributes:
        key: the user's key.
        order: candidate positions (into ``RerankInput.candidates``) best first.
        answered: repeats whose generation succeeded.
        failed: repeats whose generation failed (their errors in ``errors``).
        invented: numbers answered that name no shown candidate, over all repeats.
        duplicates: numbers answered again after their first mention.
        omitted: candidates an answer left out (placed after the ranked ones in the model's order).
        errors: the failed generations' errors.
    """

    key: str
    order: list[int]
    answered: int = 0
    failed: int = 0
    invented: int = 0
    duplicates: int = 0
    omitted: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def kept_model_order(self) -> bool:
        """True when no generation succeeded, so the model's order was kept."""
        return self.answered == 0


@dataclass
class RerankReport:
    """Totals over reranked users: how many generations failed and how the answers strayed."""

    users: int = 0
    requests: int = 0
    failed_requests: int = 0
    users_kept_model_order: int = 0
    invented: int = 0
    duplicates: int = 0
    omitted: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, outcomes: Sequence[RerankOutcome]) -> RerankReport:
        """Count ``outcomes`` in; returns self."""
        for outcome in outcomes:
            self.users += 1
            self.requests += outcome.answered + outcome.failed
            self.failed_requests += outcome.failed
            self.users_kept_model_order += outcome.kept_model_order
            self.invented += outcome.invented
            self.duplicates += outcome.duplicates
            self.omitted += outcome.omitted
            room = MAX_REPORTED_ERRORS - len(self.errors)
            self.errors += [f"{outcome.key}: {error}" for error in outcome.errors[: max(room, 0)]]
        return self

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def to_text(self) -> str:
        head = (
            f"{self.users:,} users, {self.requests:,} generations, {self.failed_requests:,} failed; "
            f"{self.users_kept_model_order:,} users kept the model order; answers named {self.invented:,} "
            f"invented numbers, {self.duplicates:,} duplicates and left out {self.omitted:,} candidates"
        )
        return head + "".join(f"\n  {error}" for error in self.errors)


def borda_points(order: Sequence[int]) -> np.ndarray:
    """float64 (n,) Borda points of each position of a full order: the first gets ``n - 1``, the last 0."""
    n = len(order)
    points = np.zeros(n, dtype=np.float64)
    points[np.asarray(order, dtype=np.int64)] = np.arange(n - 1, -1, -1, dtype=np.float64)
    return points


def shuffles(key: str, n: int, repeats: int, seed: int) -> list[np.ndarray]:
    """``repeats`` permutations of ``range(n)`` from ``seed`` and ``key`` alone (the same for a user every time)."""
    rng = np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])
    return [rng.permutation(n) for _ in range(repeats)]


@dataclass
class ReadRanking:
    """One answer read as a full order of candidate positions, and how it strayed."""

    order: list[int]
    invented: int = 0
    duplicates: int = 0
    omitted: int = 0


def read_ranking(numbers: Sequence[Any], shown: np.ndarray) -> ReadRanking:
    """The full order that ``numbers`` (1-based numbers of the ``shown`` permutation) gives.

    Args:
        numbers: the answer's list; entries that are not integers from 1 to ``len(shown)`` are invented.
        shown: int (n,) the candidate position shown under number ``i + 1``.
    """
    n, ranked, seen = len(shown), [], set()
    read = ReadRanking([])
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= n:
            read.invented += 1
            continue
        position = int(shown[number - 1])
        if position in seen:
            read.duplicates += 1
            continue
        seen.add(position)
        ranked.append(position)
    rest = [position for position in range(n) if position not in seen]  # the model's order
    read.order, read.omitted = ranked + rest, len(rest)
    return read


class ListwiseReranker:
    """Reorders each user's candidates by a language model's rankings of several shuffles.

    Args:
        generator: the language model (its cache, when it has one, keeps every answer).
        config: the settings.
    """

    def __init__(self, generator: Generator, config: RerankConfig | None = None) -> None:
        self.generator = generator
        self.config = config or RerankConfig()
        self.template: PromptTemplate = load_prompt(PROMPT, self.config.prompt_version)

    def rerank(self, inputs: Sequence[RerankInput]) -> list[RerankOutcome]:
        """One outcome per input, in order; the generations of all inputs are asked in one call."""
        plans = [shuffles(item.key, len(item.candidates), self.config.repeats, self.config.seed) for item in inputs]
        requests = [self.request(item, shown) for item, lists in zip(inputs, plans, strict=True) for shown in lists]
        generations = iter(self.generator.generate(requests))
        outcomes = []
        for item, shown_lists in zip(inputs, plans, strict=True):
            answers = [(shown, next(generations)) for shown in shown_lists]
            outcomes.append(self.aggregate(item, answers))
        return outcomes

    def request(self, item: RerankInput, shown: np.ndarray) -> GenerationRequest:
        """The prompt showing ``item``'s candidates in the order ``shown`` (positions), numbered from 1."""
        numbered = {str(number + 1): item.candidates[int(position)] for number, position in enumerate(shown)}
        history = list(item.history)[-self.config.history :]
        system, user = self.template.render(
            history=quote_data({"history": history}), candidates=quote_data(numbered), count=str(len(shown))
        )
        return GenerationRequest(
            key=f"{item.key}:" + ",".join(str(int(p)) for p in shown),
            prompt=user,
            system=system,
            max_tokens=self.config.max_tokens(),
            schema=ranking_schema(len(shown)),
            template=self.template.id,
        )

    def aggregate(self, item: RerankInput, answers: Sequence[tuple[np.ndarray, Generation]]) -> RerankOutcome:
        """The final order of ``item``'s candidates from each (shown permutation, generation) answer."""
        n = len(item.candidates)
        outcome = RerankOutcome(item.key, list(range(n)))
        llm_points = np.zeros(n, dtype=np.float64)
        for shown, generation in answers:
            if not generation.ok or generation.data is None:
                outcome.failed += 1
                outcome.errors.append(generation.error or "no JSON output")
                continue
            read = read_ranking(generation.data["ranking"], shown)
            outcome.answered += 1
            outcome.invented += read.invented
            outcome.duplicates += read.duplicates
            outcome.omitted += read.omitted
            llm_points += borda_points(read.order)
        if outcome.kept_model_order:
            return outcome
        weight = self.config.llm_weight
        model_points = borda_points(range(n))
        combined = weight * llm_points / outcome.answered + (1.0 - weight) * model_points
        outcome.order = [int(p) for p in np.lexsort((np.arange(n), -combined))]
        return outcome


def ranking_schema(n: int) -> dict[str, Any]:
    """The JSON schema of an answer ranking ``n`` candidates: ``{"ranking": [numbers...]}``."""
    numbers = {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": n}
    properties = {"ranking": numbers}
    return {"type": "object", "additionalProperties": False, "required": ["ranking"], "properties": properties}


__all__ = [
    "ListwiseReranker",
    "ReadRanking",
    "RerankConfig",
    "RerankInput",
    "RerankOutcome",
    "RerankReport",
    "borda_points",
    "ranking_schema",
    "read_ranking",
    "shuffles",
]
