"""Explanations in words for the service: a structured explanation as facts, a sentence checked against the catalog.

With no language model configured every sentence is a template sentence
(:func:`~fusionrec.llm.template_sentence`). With ``llm_url`` (any
OpenAI-compatible server) or ``llm_gguf`` (a local GGUF model) the model
writes the sentence, and :class:`~fusionrec.llm.explanations.SentenceChecker`
rejects it, in favour of the template, when it names a title or attribute
that the facts do not hold.

Example:
    >>> item_attributes({"genres": "Crime|Thriller"})
    ['Crime', 'Thriller']
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from fusionrec.llm import ExplanationFacts, Generator, LlamaCppGenerator, OpenAIGenerator, WordedExplanation
from fusionrec.llm.explanations import SentenceChecker, explain_in_words
from fusionrec.serve.catalog import ItemCatalog, ItemInfo
from fusionrec.serve.settings import ServeSettings

ATTRIBUTE_FIELDS = ("genres", "categories", "tags")
"""Item metadata fields whose values an explanation may name."""
_SPLIT = re.compile(r"[|,;]")


def item_attributes(metadata: Mapping[str, str]) -> list[str]:
    """The attribute words of an item's metadata (``genres`` and the like, split on ``|``, ``,`` or ``;``)."""
    words = []
    for field_name in ATTRIBUTE_FIELDS:
        words += [word.strip() for word in _SPLIT.split(metadata.get(field_name, "")) if word.strip()]
    return words


def language_model(settings: ServeSettings) -> Generator | None:
    """The generator the settings name (``llm_url`` first, then ``llm_gguf``), or None for template sentences."""
    if settings.llm_url:
        return OpenAIGenerator(settings.llm_url, settings.llm_model, timeout=settings.llm_timeout_s)
    if settings.llm_gguf:
        return LlamaCppGenerator(settings.llm_gguf)
    return None


class WordedExplainer:
    """Sentences for explanations, with one generator and one catalog-wide checker per service."""

    def __init__(self, settings: ServeSettings, catalog: ItemCatalog) -> None:
        self.generator = language_model(settings)
        self.catalog = catalog
        self._checker: tuple[int, SentenceChecker] | None = None
        self._lock = threading.Lock()

    def sentence(
        self, item: ItemInfo, score: float, contributions: list[tuple[str, float]], history: list[ItemInfo]
    ) -> WordedExplanation:
        """One checked sentence (the template's when no model is configured or the model's fails the check)."""
        facts = ExplanationFacts(
            item.item_id,
            item.title,
            score,
            contributions,
            [entry.title for entry in history],
            item_attributes(item.metadata),
        )
        return explain_in_words([facts], self.generator, self.checker())[0]

    def checker(self) -> SentenceChecker:
        """A checker of every title and attribute in the catalog (rebuilt when the catalog grows)."""
        with self._lock:
            size = len(self.catalog)
            if self._checker is None or self._checker[0] != size:
                infos = [self.catalog.info(index) for index in range(size)]
                attributes = {word for info in infos for word in item_attributes(info.metadata)}
                self._checker = (size, SentenceChecker([info.title for info in infos], attributes))
            return self._checker[1]


__all__ = ["ATTRIBUTE_FIELDS", "WordedExplainer", "item_attributes", "language_model"]
