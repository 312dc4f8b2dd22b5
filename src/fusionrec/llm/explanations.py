"""Explanations in words: a template sentence that needs no model, and a checked sentence from one.

The input is a structured explanation (the item, its score, each modality's
share of it, the user's history items that led to it, and the item's known
attributes). :func:`template_sentence` words it with no language model.
:func:`explain_in_words` may ask a :class:`Generator` for a sentence and
then checks it with :class:`SentenceChecker`: every catalog title, quoted
name, known attribute and number it mentions must be among the facts given
to the model. A sentence that names anything else, or a failed generation,
is replaced by the template sentence, and the reason is kept.

Example:
    >>> facts = ExplanationFacts("1", "Heat (1995)", 0.9, [("text", 0.7), ("image", 0.3)], ["Ronin (1998)"], ["Crime"])
    >>> template_sentence(facts)
    'Recommended "Heat (1995)" (Crime) mostly for its text and image, and because you watched "Ronin (1998)".'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fusionrec.llm.base import Generation, GenerationRequest, Generator
from fusionrec.llm.prompts import PromptTemplate, load_prompt, quote_data

SENTENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sentence"],
    "properties": {"sentence": {"type": "string", "minLength": 1, "maxLength": 300}},
}
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")
_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{2,80})[\"“”«»]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
#: Shortest title (year removed) looked for in sentences: shorter ones ("It", "Big") are ordinary words.
MIN_TITLE_CHARS = 5
HISTORY_NAMED = 3


@dataclass(frozen=True)
class ExplanationFacts:
    """Everything an explanation may mention about one recommended item.

    Attributes:
        item_id: the item's raw id.
        title: its title.
        score: the model's score.
        contributions: (modality, share of the score) pairs, largest first or in any order.
        history: titles of the user's history items that led to the recommendation.
        attributes: the item's attributes that may be named (genres, profile themes, mood).
    """

    item_id: str
    title: str
    score: float
    contributions: Sequence[tuple[str, float]] = ()
    history: Sequence[str] = ()
    attributes: Sequence[str] = ()

    def to_prompt_data(self) -> dict[str, Any]:
        return {
            "item": self.title,
            "attributes": list(self.attributes),
            "strongest signals": [m for m, share in _positive(self.contributions)],
            "because the user took": list(self.history[:HISTORY_NAMED]),
        }


@dataclass
class WordedExplanation:
    """A sentence for one recommendation and where it came from.

    Attributes:
        item_id: the item's raw id.
        sentence: the sentence shown.
        source: ``"llm"`` when the model's sentence passed the check, else ``"template"``.
        rejected: why the model's sentence was not used ("" when it was, or when no model was asked).
    """

    item_id: str
    sentence: str
    source: Literal["llm", "template"]
    rejected: str = ""


def template_sentence(facts: ExplanationFacts) -> str:
    """A sentence from the facts alone, with no language model."""
    head = f'Recommended "{facts.title}"'
    if facts.attributes:
        head += f" ({', '.join(facts.attributes[:3])})"
    modalities = [m for m, _ in _positive(facts.contributions)][:2]
    if modalities:
        head += f" mostly for its {' and '.join(modalities)}"
    history = [f'"{title}"' for title in facts.history[:HISTORY_NAMED]]
    if history:
        joined = history[0] if len(history) == 1 else ", ".join(history[:-1]) + f" and {history[-1]}"
        head += f"{',' if modalities else ''} and because you watched {joined}"
    return head + "."


@dataclass
class SentenceChecker:
    """Rejects sentences that name a title, attribute or number absent from the facts.

    Args:
        titles: every title in the catalog (a sentence naming one that is not in the facts is rejected).
        attributes: every attribute word known in the catalog (genres, themes...), likewise.
    """

    titles: Iterable[str] = ()
    attributes: Iterable[str] = ()
    _titles: dict[str, str] = field(init=False, repr=False)
    _attributes: set[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._titles = {t: _short_title(t) for t in self.titles if len(_short_title(t)) >= MIN_TITLE_CHARS}
        self._attributes = {a.strip().lower() for a in self.attributes if a.strip()}

    def problem(self, sentence: str, facts: ExplanationFacts) -> str:
        """Why ``sentence`` cannot be shown for ``facts`` ("" when it can)."""
        if not sentence.strip():
            return "empty sentence"
        allowed_titles = [facts.title, *facts.history[:HISTORY_NAMED]]
        allowed = {t.lower() for t in allowed_titles} | {_short_title(t).lower() for t in allowed_titles}
        allowed_words = {a.lower() for a in facts.attributes} | {m.lower() for m, _ in facts.contributions}
        for title, short in self._titles.items():
            if title.lower() not in allowed and _mentions(sentence, short) and short.lower() not in allowed:
                return f"names the title {title!r}, which is not among the facts"
        for quoted in _QUOTED.findall(sentence):
            if quoted.strip().lower() not in allowed | allowed_words:
                return f"names {quoted.strip()!r}, which is neither the item, a history item nor an attribute"
        for attribute in sorted(self._attributes - allowed_words):
            if _mentions(sentence, attribute, case=False) and not any(attribute in t for t in allowed):
                return f"names the attribute {attribute!r}, which this item does not have"
        residue = sentence
        for text in sorted(allowed | allowed_words, key=len, reverse=True):
            residue = re.sub(re.escape(text), " ", residue, flags=re.IGNORECASE)
        numbers = _NUMBER.findall(residue)
        return f"names the number {numbers[0]!r}, which is not among the facts" if numbers else ""


def explain_in_words(
    facts: Sequence[ExplanationFacts],
    generator: Generator | None = None,
    checker: SentenceChecker | None = None,
    *,
    template: PromptTemplate | None = None,
    max_tokens: int = 96,
) -> list[WordedExplanation]:
    """One sentence per recommendation: the model's when it passes the check, else the template's.

    Args:
        facts: one per (user, item) to explain.
        generator: the language model; None gives template sentences only.
        checker: what may be named; default only what each facts object holds (no catalog-wide title check).
        template: the prompt; default the newest ``explanation``.
        max_tokens: most tokens per sentence.
    """
    if generator is None:
        return [WordedExplanation(f.item_id, template_sentence(f), "template") for f in facts]
    checker = checker or SentenceChecker()
    template = template or load_prompt("explanation")
    requests = [_request(i, f, template, max_tokens) for i, f in enumerate(facts)]
    return [_choose(f, g, checker) for f, g in zip(facts, generator.generate(requests), strict=True)]


def _request(position: int, facts: ExplanationFacts, template: PromptTemplate, max_tokens: int) -> GenerationRequest:
    system, user = template.render(facts=quote_data(facts.to_prompt_data()))
    key = f"{position}:{facts.item_id}"
    return GenerationRequest(key, user, system, max_tokens, schema=SENTENCE_SCHEMA, template=template.id)


def _choose(facts: ExplanationFacts, generation: Generation, checker: SentenceChecker) -> WordedExplanation:
    if not generation.ok or generation.data is None:
        reason = f"generation failed: {generation.error or 'no JSON output'}"
        return WordedExplanation(facts.item_id, template_sentence(facts), "template", reason)
    sentence = " ".join(str(generation.data["sentence"]).split())
    problem = checker.problem(sentence, facts)
    if problem:
        return WordedExplanation(facts.item_id, template_sentence(facts), "template", f"{problem}: {sentence!r}")
    return WordedExplanation(facts.item_id, sentence, "llm")


def _positive(contributions: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    return sorted(((m, s) for m, s in contributions if s > 0), key=lambda pair: -pair[1])


def _short_title(title: str) -> str:
    """The title without a trailing year: ``"Heat (1995)"`` -> ``"Heat"``."""
    return _YEAR.sub("", title).strip()


def _mentions(sentence: str, phrase: str, *, case: bool = True) -> bool:
    flags = 0 if case else re.IGNORECASE
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", sentence, flags) is not None
