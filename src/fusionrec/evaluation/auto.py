"""Automatic settings for data nobody tuned on: candidates from the data's statistics, chosen on valid.

``model.name = "auto"`` (the default of ``fusionrec train`` and ``fusionrec
benchmark`` when no recipe matches the data set) runs :func:`choose_settings`:

1. :func:`data_statistics` reads the split's size, density, modalities and protocol.
2. :func:`candidates` turns them into a short list of settings: the flagship
   (with the data's content, or behaviour only where there is none), EASE over
   a grid of ridge penalties (catalogs up to ``max_items``), ItemKNN, and on a
   cold-start split the content models. A candidate that cannot run on the data
   is not listed, with the reason in the evidence.
3. Each candidate is fitted once (seed of the experiment) and read on **valid**
   only; training runs share a time budget, and a training cut by it records the
   epochs it reached, so the final fit repeats exactly that many.
4. The best valid ``valid_metric`` wins; ties go to the earlier candidate. Its fit is kept
   (:meth:`AutoChoice.first_fit`): the run of the chosen settings with the same seed reuses it.
5. A second stage (:class:`~fusionrec.models.staged.Staged`) around the winner is read
   cross-fitted: fitted on one half of the valid users and read on the other, both ways.
   It is kept only when it raises both Recall and NDCG at ``k`` summed over the two halves
   (on splits that hold out each user's latest items it corrects what a model trained on
   the whole history favours; on random splits it rarely helps).

The evidence (every candidate's valid figures, seconds, or why it was skipped)
is saved beside the result (``auto.json``), so the choice can be read and
repeated with ``--model`` and ``--set``.

Example:
    >>> choice = choose_settings(split, seed=0)  # doctest: +SKIP
    >>> choice.model, choice.params  # doctest: +SKIP
    ('ease', {'l2': 200.0})
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fusionrec.data.dataset import Split
from fusionrec.errors import ConfigError, FusionrecError
from fusionrec.evaluation.protocol import evaluate_model
from fusionrec.evaluation.seeded import build_for_seed
from fusionrec.models import model_class
from fusionrec.models.base import Recommender
from fusionrec.models.ease import DEFAULT_MAX_ITEMS
from fusionrec.models.staged import Staged

logger = logging.getLogger(__name__)

EASE_PENALTIES = (10.0, 50.0, 200.0, 1000.0, 5000.0)
"""EASE's ridge penalties tried (useful values grow with the data: 50 on TikTok, 1000 on Baby)."""

MIN_STAGE_USERS = 50
"""Valid users each half needs before a second stage is judged on it."""

DEFAULT_BUDGET_SECONDS = 1800.0
"""Training seconds shared by the candidates that train by gradient descent."""


@dataclass(frozen=True)
class DataStatistics:
    """What the choice of settings reads from a split."""

    n_users: int
    n_items: int
    n_train: int
    density: float
    items_per_user: float
    modalities: tuple[str, ...]
    protocol: str
    n_valid: int

    @classmethod
    def of(cls, split: Split) -> DataStatistics:
        n_train = len(split.train.user_index)
        active = max(int(np.unique(split.train.user_index).size), 1)
        return cls(
            n_users=split.n_users,
            n_items=split.n_items,
            n_train=n_train,
            density=n_train / max(split.n_users * split.n_items, 1),
            items_per_user=n_train / active,
            modalities=tuple(split.dataset.modalities),
            protocol=split.protocol,
            n_valid=len(split.valid.user_index),
        )


@dataclass(frozen=True)
class Candidate:
    """One setting tried: a registered model, its parameters and training settings."""

    label: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trial:
    """A candidate's outcome on valid (or why it did not run)."""

    label: str
    model: str
    params: dict[str, Any]
    train: dict[str, Any]
    valid: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    fit_seconds: float = 0.0
    epochs_run: int | None = None
    stop_reason: str | None = None
    skipped: str | None = None
    fitted: Recommender | None = field(default=None, repr=False, compare=False)


@dataclass
class AutoChoice:
    """The chosen settings and the evidence they were chosen on."""

    model: str
    params: dict[str, Any]
    train: dict[str, Any]
    metric: str
    statistics: DataStatistics
    trials: list[Trial]
    stage: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    fitted: Recommender | None = field(default=None, repr=False, compare=False)
    """The winner as fitted while choosing (with ``seed``) when the chosen settings are exactly its own (no
    second stage adopted): a run of the chosen settings with that seed reuses it instead of fitting again."""
    fit_seconds: float = 0.0
    """Seconds that fit took."""

    def first_fit(self, seed: int) -> tuple[Recommender, float] | None:
        """``(fitted model, fit seconds)`` when a run with ``seed`` can reuse the fit made while choosing."""
        return (self.fitted, self.fit_seconds) if self.fitted is not None and seed == self.seed else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the choice, the data statistics, every trial and the second stage's evidence."""
        trials = [{k: v for k, v in asdict(trial).items() if k != "fitted"} for trial in self.trials]
        return {
            "chosen": {"model": self.model, "params": self.params, "train": self.train},
            "metric": self.metric,
            "statistics": asdict(self.statistics),
            "trials": trials,
            "second_stage": self.stage,
        }


def data_statistics(split: Split) -> DataStatistics:
    """Size, density, modalities and protocol of ``split``."""
    return DataStatistics.of(split)


def candidates(stats: DataStatistics, max_items: int = DEFAULT_MAX_ITEMS) -> tuple[list[Candidate], list[Trial]]:
    """Settings worth trying on data with ``stats``, and the ones left out with the reason."""
    listed: list[Candidate] = []
    left_out: list[Trial] = []
    if stats.protocol == "cold":
        if not stats.modalities:
            raise ConfigError(
                "a cold-start split ranks items nobody has interacted with, which needs item content, but this "
                "data set has none; add feature arrays or an items.csv with text or media columns"
            )
        listed.append(Candidate("fusiongraph", "fusiongraph"))
        listed.append(
            Candidate(
                "fusiongraph, strong content channel",
                "fusiongraph",
                {"content_channel": {"weight": 4.0}, "loss": {"negatives": "all"}, "core": {"embedding_noise": 0.0}},
            )
        )
        listed.append(Candidate("content-knn", "content-knn"))
        return listed, left_out
    flagship_params: dict[str, Any] = {} if stats.modalities else {"content": {"modalities": []}}
    label = "fusiongraph" if stats.modalities else "fusiongraph, behaviour only"
    listed.append(Candidate(label, "fusiongraph", flagship_params))
    for l2 in EASE_PENALTIES:
        candidate = Candidate(f"ease l2={l2:g}", "ease", {"l2": l2})
        if stats.n_items <= max_items:
            listed.append(candidate)
        else:
            reason = f"{stats.n_items:,} items: EASE's dense item-item matrix is limited to {max_items:,}"
            left_out.append(Trial(candidate.label, candidate.model, candidate.params, {}, skipped=reason))
    listed.append(Candidate("itemknn k=200", "itemknn", {"k": 200, "shrinkage": 0.0}))
    return listed, left_out


def choose_settings(
    split: Split,
    *,
    seed: int = 0,
    metric: str = "recall@20",
    budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    train: Mapping[str, Any] | None = None,
    second_stage: bool = True,
) -> AutoChoice:
    """Fit every candidate for ``split`` once and keep the best on valid ``metric`` (test is never read).

    Args:
        split: the data, with a non-empty valid part.
        seed: the seed every candidate is fitted with.
        metric: ``"<name>@<k>"`` read on valid.
        budget_seconds: training seconds shared by the candidates trained by gradient descent.
        train: training settings given by the user (e.g. ``threads``, ``epochs``) for those candidates;
            a candidate's own settings come first, these over them.
        second_stage: try a second stage around the winner (cross-fitted on valid halves).
    """
    if not len(split.valid.user_index):
        raise ConfigError(
            "automatic settings are chosen on valid, but the split's valid part is empty; "
            "split with a valid part or name a model and its settings"
        )
    stats = data_statistics(split)
    listed, trials = candidates(stats)
    name, _, k = metric.partition("@")
    deadline = time.perf_counter() + budget_seconds
    leader: Trial | None = None
    for candidate in listed:
        trial = _try(candidate, split, seed, (name, int(k)), deadline, dict(train or {}))
        trials.append(trial)
        if trial.skipped is None and (leader is None or trial.valid[metric] > leader.valid[metric]):
            if leader is not None:
                leader.fitted = None  # only the leader's fitted model is kept (memory)
            leader = trial
        else:
            trial.fitted = None
    ran = [t for t in trials if t.skipped is None and metric in t.valid]
    if not ran:
        raise ConfigError(f"no automatic candidate could be fitted on this data: {[t.skipped for t in trials]}")
    best = max(ran, key=lambda t: t.valid[metric])  # the first of equals
    logger.info("auto: chose %s (valid %s %.4f) among %d candidates", best.label, metric, best.valid[metric], len(ran))
    choice = AutoChoice(best.model, best.params, best.train, metric, stats, trials, seed=seed)
    choice.fitted, choice.fit_seconds = best.fitted, best.fit_seconds
    if second_stage and best.fitted is not None:
        choice.stage = stage_evidence(best.fitted, split, int(k), seed)
        if choice.stage["adopted"]:
            choice.params = {"base": best.model, "base_params": best.params}
            choice.model, choice.fitted = "staged", None
    for trial in trials:
        trial.fitted = None
    return choice


def stage_evidence(model: Recommender, split: Split, k: int, seed: int) -> dict[str, Any]:
    """Cross-fitted gains of a second stage around fitted ``model`` on two halves of the valid users.

    Returns:
        ``{"folds": [{"recall@k": gain, "ndcg@k": gain}, ...], "adopted": bool}``; adopted when the summed
        gains of both metrics are positive.
    """
    valid = split.valid
    users = np.unique(valid.user_index)
    if len(users) < 2 * MIN_STAGE_USERS:
        return {"folds": [], "adopted": False, "why": f"{len(users)} valid users; a stage needs more to be judged"}
    half = np.random.default_rng(seed).permutation(users)[: len(users) // 2]
    in_half = np.isin(valid.user_index, half)
    halves = [valid.select(in_half), valid.select(~in_half)]
    names = (f"recall@{k}", f"ndcg@{k}")
    folds: list[dict[str, float]] = []
    for fit_part, read_part in ((halves[0], halves[1]), (halves[1], halves[0])):
        fitting = Split(split.dataset, split.train, fit_part, split.test, protocol=split.protocol)
        reading = Split(split.dataset, split.train, read_part, split.test, protocol=split.protocol)
        try:
            staged = Staged.around(model, fitting)
        except FusionrecError as exc:  # e.g. no held-out item among the candidates
            return {"folds": folds, "adopted": False, "why": str(exc)}
        before = evaluate_model(model, reading, "valid", ks=(k,), metrics=("recall", "ndcg")).summary()
        after = evaluate_model(staged, reading, "valid", ks=(k,), metrics=("recall", "ndcg")).summary()
        folds.append({name: after[name] - before[name] for name in names})
    adopted = all(sum(fold[name] for fold in folds) > 0 for name in names)
    logger.info("auto: second stage cross-fitted gains %s -> %s", folds, "kept" if adopted else "left out")
    return {"folds": folds, "adopted": adopted}


def _try(
    candidate: Candidate,
    split: Split,
    seed: int,
    metric: tuple[str, int],
    deadline: float,
    user_train: dict[str, Any],
) -> Trial:
    trial = Trial(candidate.label, candidate.model, dict(candidate.params), dict(candidate.train))
    train: dict[str, Any] | None = None
    if model_class(candidate.model).takes_train_config:
        remaining = deadline - time.perf_counter()
        if remaining <= 1:
            trial.skipped = "the time budget was spent before this candidate"
            return trial
        budget = min(remaining, user_train.get("max_seconds") or remaining)
        train = {**candidate.train, "progress": False, **user_train, "max_seconds": budget}
    started = time.perf_counter()
    try:
        model = build_for_seed(candidate.model, candidate.params, train, seed).fit(split)
    except FusionrecError as exc:  # a candidate the data cannot carry is left out, with the reason
        trial.skipped = str(exc)
        return trial
    trial.fit_seconds = time.perf_counter() - started
    evaluation = evaluate_model(model, split, "valid", ks=(metric[1],), metrics=("recall", "ndcg"))
    trial.valid, trial.seconds, trial.fitted = evaluation.summary(), time.perf_counter() - started, model
    history = getattr(model, "history_", None)
    if history is not None:
        trial.epochs_run, trial.stop_reason = history.epochs_run, history.stop_reason
        if history.stop_reason == "max_seconds":  # repeat exactly the epochs the budget allowed
            trial.train["epochs"] = history.epochs_run
    logger.info("auto: %s valid %s", candidate.label, {k: round(v, 4) for k, v in trial.valid.items()})
    return trial


__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "EASE_PENALTIES",
    "AutoChoice",
    "Candidate",
    "DataStatistics",
    "Trial",
    "candidates",
    "choose_settings",
    "data_statistics",
]
