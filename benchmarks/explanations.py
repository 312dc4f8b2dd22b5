"""Explanations in words over sampled (user, recommended item) pairs: what they name, and what each path costs.

Serves an artifact in process (``create_app``, no language model configured),
samples ``--pairs`` distinct (user, recommended item) pairs with ``--seed``
(a random trained user, a random item of their top 10), and for each asks
``GET /v1/users/{u}/explanations/{i}?format=text`` (the template path). For the
first ``--llm-pairs`` (fewer when ``--llm-budget-min`` minutes pass first) it
then words the same facts with the packaged local model (:func:`~fusionrec.llm.explain_in_words`, the catalog-wide
:class:`~fusionrec.llm.explanations.SentenceChecker`, a fresh generation
cache) and once more from that cache.

Every shown sentence then goes through an independent check
(:class:`CatalogNames`, a second implementation): quoted spans and
``Title (YYYY)`` spans must be catalog titles or attributes, and a catalog
title a sentence names must be among its facts; capitalised multi-word
spans found in no title or attribute are counted apart (unverified, not
violations). Prints the counts, fallbacks and their reasons, and the
median and p90 latency of each path, with the load average.

Usage::

    FUSIONREC_DATA=../shared/data python benchmarks/explanations.py --recipe ml100k-mm \\
        --artifact artifacts/ml100k --pairs 1000 --llm-pairs 100 --seed 0
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from artifacts import train_or_load
from fusionrec.llm import ExplanationFacts, GenerationCache, LlamaCppGenerator, explain_in_words, template_sentence
from fusionrec.llm.explanations import SentenceChecker
from fusionrec.serve import ServeSettings, create_app
from fusionrec.serve.words import item_attributes

logger = logging.getLogger("explanations")

_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»]{2,120})[\"“”«»]")
_YEAR_TITLE = re.compile(r"([A-Z0-9][^\"“”«»().;!?]{1,100}?\s\(\d{4}\))")
_JOINERS = r"(?:(?:of|the|and|in|a|an|to|on|for|&)\s+)*"
_CAPITALISED = re.compile(rf"(?<![\w\"“])([A-Z][\w'’:-]*(?:\s+{_JOINERS}[A-Z][\w'’:-]*)+)")
_ARTICLE = re.compile(r"^(?P<body>.*), (?P<article>The|A|An|Les|La|Le|Il|Das|Der|Die|El)(?P<year> \(\d{4}\))?$")


def normalised_titles(title: str) -> set[str]:
    """Lower-case forms of a catalog title a sentence may use: as stored, without year, with a moved article."""
    forms = {title, re.sub(r"\s*\(\d{4}\)\s*$", "", title)}
    moved = _ARTICLE.match(title)
    if moved:
        body = f"{moved['article']} {moved['body']}"
        forms |= {body + (moved["year"] or ""), body}
    return {form.strip().lower() for form in forms if form.strip()}


class CatalogNames:
    """The independent check: which catalog titles and attributes a sentence names, and which it invents."""

    def __init__(self, titles: Iterable[str], attributes: Iterable[str]) -> None:
        self.forms: dict[str, str] = {}
        for title in titles:
            for form in normalised_titles(title):
                self.forms.setdefault(form, title)
        self.attributes = {a.strip().lower() for a in attributes if a.strip()}
        self.text = "\n".join([*self.forms, *self.attributes])

    def check(self, sentence: str, allowed_titles: Sequence[str]) -> tuple[list[str], list[str]]:
        """(violations, unverified capitalised spans) of ``sentence`` whose facts hold ``allowed_titles``.

        A ``Title (YYYY)`` span may begin with words of the sentence ("The user took Psycho (1960)"): it names
        the longest catalog title it ends with, and is a violation only when it ends with none.
        """
        allowed = {form for title in allowed_titles for form in normalised_titles(title)}
        spans = [(span.strip().lower(), False) for span in _QUOTED.findall(sentence)]
        spans += [(span.strip().lower(), True) for span in _YEAR_TITLE.findall(sentence)]
        violations = []
        for key, partial in spans:
            if key in self.attributes:
                continue
            form = self.form_named(key, partial)
            if form is None:
                violations.append(f"names {key!r}, which is no catalog title or attribute")
            elif form not in allowed:
                violations.append(f"names the catalog title {self.forms[form]!r}, which is not among its facts")
        unverified = [s for s in _CAPITALISED.findall(sentence) if s.lower() not in self.text]
        return violations, unverified

    def form_named(self, key: str, partial: bool) -> str | None:
        """The catalog form ``key`` is, or (``partial``) one that ends with it, or the longest it ends with."""
        if key in self.forms or not partial:
            return key if key in self.forms else None
        inside = next((form for form in self.forms if form.endswith(" " + key)), None)  # began inside ("Mr. X")
        if inside is not None:
            return inside
        words = key.split(" ")
        return next((" ".join(words[i:]) for i in range(1, len(words)) if " ".join(words[i:]) in self.forms), None)


def main() -> int:
    args = _parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not os.environ.get("FUSIONREC_DATA"):
        print("set FUSIONREC_DATA to the benchmark data folder", file=sys.stderr)
        return 2
    loaded = train_or_load(args.recipe, Path(args.artifact))
    with tempfile.TemporaryDirectory() as folder:
        settings = ServeSettings(artifact=Path(args.artifact), store_url=f"sqlite:///{folder}/events.sqlite3")
        with TestClient(create_app(settings)) as client:
            logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
            pairs = sample_pairs(client, list(loaded.split.dataset.users.ids), args.pairs, args.seed)
            template = [template_path(client, user, item) for user, item in pairs]
        cache = Path(args.cache) if args.cache else Path(folder) / "generations.sqlite"
        all_facts = [facts_of(answer) for answer, _ in template]
        facts = all_facts[: args.llm_pairs]
        checker = catalog_checker(loaded.split.dataset.item_table)
        with LlamaCppGenerator("smollm2", cache=GenerationCache(cache), n_threads=args.threads or None) as model:
            llm = timed_words(facts, model, checker, time.perf_counter() + 60 * args.llm_budget_min)
            cached = timed_words(facts[: len(llm)], model, checker)
    record = summary(args, loaded.split.dataset.item_table, template, all_facts, llm, cached)
    print(json.dumps(record, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="ml100k-mm", help="recipe of the artifact when it must be trained")
    parser.add_argument("--artifact", default="artifacts/ml100k", help="artifact folder (trained there if absent)")
    parser.add_argument("--pairs", type=int, default=1000, help="(user, recommended item) pairs sampled")
    parser.add_argument("--llm-pairs", type=int, default=100, help="of those, how many the local model words")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument(
        "--llm-budget-min", type=float, default=600.0, help="stop asking the local model after this many minutes"
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of the local model (0: llama.cpp's)")
    parser.add_argument("--cache", help="generation cache to use (default: a fresh one, so the first pass generates)")
    parser.add_argument("--out", help="write the JSON record here too")
    return parser


def sample_pairs(client: TestClient, users: list[str], n: int, seed: int, k: int = 10) -> list[tuple[str, str]]:
    """``n`` distinct (user, item) pairs: a random user, a random item of their top ``k``."""
    rng, tops, pairs = np.random.default_rng(seed), {}, dict.fromkeys([])
    while len(pairs) < n:
        user = users[int(rng.integers(len(users)))]
        if user not in tops:
            answer = client.get(f"/v1/users/{user}/recommendations", params={"k": k})
            answer.raise_for_status()
            tops[user] = [entry["item_id"] for entry in answer.json()["items"]]
        if tops[user]:
            pairs[(user, tops[user][int(rng.integers(len(tops[user])))])] = None
    return list(pairs)


def template_path(client: TestClient, user: str, item: str) -> tuple[dict[str, Any], float]:
    """The service's explanation with its template sentence, and the seconds the request took."""
    started = time.perf_counter()
    answer = client.get(f"/v1/users/{user}/explanations/{item}", params={"format": "text"})
    seconds = time.perf_counter() - started
    answer.raise_for_status()
    return answer.json(), seconds


def facts_of(answer: dict[str, Any]) -> ExplanationFacts:
    """The facts the service words, rebuilt from its JSON explanation."""
    item = answer["item"]
    return ExplanationFacts(
        item["item_id"],
        item["title"],
        answer["score"],
        [(c["name"], c["score"]) for c in answer["contributions"]],
        [entry["item"]["title"] for entry in answer["because"]],
        item_attributes(item["metadata"]),
    )


def catalog_checker(table: Any) -> SentenceChecker:
    titles = [str(t) for t in table["title"]]
    return SentenceChecker(titles, {a for row in _metadata_rows(table) for a in item_attributes(row)})


def _metadata_rows(table: Any) -> list[dict[str, str]]:
    columns = [c for c in table.columns if c != "title"]
    return [{c: str(v) for c, v in zip(columns, row, strict=True)} for row in table[columns].itertuples(index=False)]


def timed_words(
    facts: list[ExplanationFacts], model: LlamaCppGenerator, checker: SentenceChecker, deadline: float = float("inf")
) -> list[Any]:
    """(worded explanation, seconds) of each facts object in order, one request at a time, until ``deadline``."""
    out = []
    for index, one in enumerate(facts):
        if time.perf_counter() > deadline:
            logger.info("time budget spent after %d of %d", index, len(facts))
            break
        started = time.perf_counter()
        [worded] = explain_in_words([one], model, checker)
        out.append((worded, time.perf_counter() - started))
        if index % 10 == 9:
            logger.info("%d/%d worded", index + 1, len(facts))
    return out


def summary(
    args: argparse.Namespace,
    table: Any,
    template: list[tuple[dict[str, Any], float]],
    all_facts: list[ExplanationFacts],
    llm: list[Any],
    cached: list[Any],
) -> dict[str, Any]:
    facts = all_facts[: len(llm)]
    attributes = {a for row in _metadata_rows(table) for a in item_attributes(row)}
    names = CatalogNames([str(t) for t in table["title"]], attributes)
    shown = [(a["text"], [a["item"]["title"], *(b["item"]["title"] for b in a["because"])]) for a, _ in template]
    shown += [(w.sentence, [f.title, *f.history[:3]]) for (w, _), f in zip(llm, facts, strict=True)]
    checks = [names.check(sentence, allowed) for sentence, allowed in shown]
    violations = [(s, v) for (s, _), (v, _) in zip(shown, checks, strict=True) if v]
    unverified = collections.Counter(span for _, spans in checks for span in spans)
    reasons = collections.Counter(_reason(w.rejected) for w, _ in llm if w.source == "template")
    return {
        "artifact": args.artifact,
        "pairs": len(template),
        "llm_pairs": len(llm),
        "seed": args.seed,
        "sentences_checked": len(shown),
        "sentences_with_violations": len(violations),
        "violation_examples": [{"sentence": s, "problems": v} for s, v in violations[:5]],
        "unverified_capitalised_spans": dict(unverified.most_common(10)),
        "llm_sentences_kept": sum(w.source == "llm" for w, _ in llm),
        "llm_fallbacks": sum(w.source == "template" for w, _ in llm),
        "llm_fallback_reasons": dict(reasons.most_common()),
        "llm_sentences": [{"sentence": w.sentence, "source": w.source, "rejected": w.rejected} for w, _ in llm],
        "latency_s": {
            "template_service": _quantiles([s for _, s in template]),
            "template_sentence_only": _quantiles([_seconds(template_sentence, one) for one in all_facts]),
            "llm_local": _quantiles([s for _, s in llm]),
            "llm_from_cache": _quantiles([s for _, s in cached]),
        },
        "cache_hits_identical": all(a.sentence == b.sentence for (a, _), (b, _) in zip(llm, cached, strict=True)),
        "load_average_1_5_15": list(os.getloadavg()),
    }


def _reason(rejected: str) -> str:
    """The kind of a rejection, without the sentence and the values it names."""
    return re.sub(r"'[^']*'|\"[^\"]*\"", "…", rejected.split(": ")[0])


def _seconds(function: Any, *args: Any) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


def _quantiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    return {"median": float(np.median(seconds)), "p90": float(np.quantile(seconds, 0.9)), "n": len(seconds)}


if __name__ == "__main__":
    sys.exit(main())
