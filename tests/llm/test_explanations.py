"""Explanations in words: template sentences, and model sentences kept only when they name what exists."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from fusionrec.llm import (
    ExplanationFacts,
    Generation,
    GenerationRequest,
    Generator,
    explain_in_words,
    template_sentence,
)
from fusionrec.llm.explanations import SentenceChecker

FACTS = ExplanationFacts(
    item_id="6",
    title="Heat (1995)",
    score=0.91,
    contributions=[("text", 0.6), ("image", 0.3), ("id", -0.1)],
    history=["Ronin (1998)", "Casino (1995)"],
    attributes=["Crime", "Thriller", "heist"],
)
CATALOG = ["Heat (1995)", "Ronin (1998)", "Casino (1995)", "Star Wars (1977)", "Toy Story (1995)", "It (1990)"]
GENRES = ["Crime", "Thriller", "Comedy", "Animation", "heist", "romance"]


class Scripted(Generator):
    """Answers each request with the next scripted text (JSON ``{"sentence": ...}`` or a failure)."""

    model_id = "scripted"

    def __init__(self, answers: Sequence[str | None]) -> None:
        self.answers, self.requests = list(answers), []

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.requests.extend(requests)
        out = []
        for request, answer in zip(requests, self.answers, strict=True):
            if answer is None:
                out.append(Generation(request.key, error="timeout after 1 s (after 4 tries)", tries=4))
            else:
                out.append(Generation(request.key, json.dumps({"sentence": answer}), {"sentence": answer}, tries=1))
        return out


def checked(sentence: str) -> tuple[str, str]:
    [result] = explain_in_words([FACTS], Scripted([sentence]), SentenceChecker(CATALOG, GENRES))
    return result.source, result.rejected


def test_template_sentence_needs_no_model() -> None:
    sentence = template_sentence(FACTS)
    assert sentence == (
        'Recommended "Heat (1995)" (Crime, Thriller, heist) mostly for its text and image, '
        'and because you watched "Ronin (1998)" and "Casino (1995)".'
    )
    bare = ExplanationFacts("1", "Heat (1995)", 0.1)
    assert template_sentence(bare) == 'Recommended "Heat (1995)".'
    [result] = explain_in_words([FACTS])
    assert result.source == "template" and result.sentence == sentence and not result.rejected


def test_a_sentence_naming_only_facts_is_kept() -> None:
    good = "Heat is a tense crime thriller, suggested because you enjoyed Ronin (1998) and Casino."
    assert checked(good) == ("llm", "")


@pytest.mark.parametrize(
    ("sentence", "problem"),
    [
        ("Like Star Wars, Heat is an epic.", "names the title 'Star Wars (1977)'"),
        ('You will love Heat, as you loved "The Matrix".', "names 'The Matrix'"),
        ("Heat is a heartwarming Comedy.", "names the attribute 'comedy'"),
        ("Heat scored 97% with users like you.", "names the number '97'"),
        ("", "empty sentence"),
    ],
)
def test_a_sentence_naming_anything_else_falls_back_to_the_template(sentence: str, problem: str) -> None:
    source, rejected = checked(sentence)
    assert source == "template" and rejected.startswith(problem), rejected


def test_short_titles_that_are_ordinary_words_are_not_flagged() -> None:
    assert checked("It is a crime thriller you will like, as you liked Ronin.") == ("llm", "")


def test_a_failed_generation_gives_the_template_with_the_reason() -> None:
    [result] = explain_in_words([FACTS], Scripted([None]))
    assert result.source == "template" and result.sentence == template_sentence(FACTS)
    assert result.rejected == "generation failed: timeout after 1 s (after 4 tries)"


def test_the_model_sees_only_the_facts_as_quoted_data() -> None:
    generator = Scripted(["Heat is a crime film."])
    explain_in_words([FACTS], generator)
    [request] = generator.requests
    data = json.loads(request.prompt.split("<facts>")[1].split("</facts>")[0])
    assert data["item"] == "Heat (1995)" and data["strongest signals"] == ["text", "image"]
    assert data["because the user took"] == ["Ronin (1998)", "Casino (1995)"]
    assert request.template == "explanation.v1" and request.schema is not None
