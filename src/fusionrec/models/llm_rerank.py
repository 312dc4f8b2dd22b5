"""An optional stage for any scorer: a language model reorders each user's top candidates (listwise, LLMRank style).

``LLMReranked(base="ease")`` fits the base model; when scoring, each user's
``n_candidates`` best unseen items go to :class:`~fusionrec.llm.rerank.ListwiseReranker`
with the titles of the user's ``history`` most recent training items, and
come back in the order that aggregates ``repeats`` shuffled rankings with the
base order (``llm_weight``). The reordered candidates are lifted above every
other item; the rest keep the base order, so only the top ``n_candidates``
change. Nothing is fitted for the stage. Every answer is kept in the
generation cache; :attr:`LLMReranked.report_` counts failed generations
(whose users keep the base order) and answers that named invented,
duplicate or too few candidates.

It is off unless named: a language model answers ``repeats`` requests per
scored user (seconds each with the packaged local model), so evaluate it on
a sample of users (``benchmarks/llm_rerank.py``).

In an experiment file::

    [model]
    name = "llm-rerank"
    params = { base = "ease", base_params = { l2 = 500.0 }, n_candidates = 10, repeats = 3 }

Example:
    >>> from fusionrec.models import build_model
    >>> model = build_model("llm-rerank", base="pop", repeats=2)
    >>> model.get_params()["repeats"]
    2
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
from pydantic import Field

from fusionrec.errors import ModelError
from fusionrec.llm.base import Generator
from fusionrec.llm.rerank import ListwiseReranker, RerankConfig, RerankInput, RerankReport
from fusionrec.llm.settings import GeneratorSettings
from fusionrec.models.base import Recommender, mask_seen, top_k
from fusionrec.models.wrapper import ScorerWrapper, WrapperConfig, own_params

if TYPE_CHECKING:
    from fusionrec.data.dataset import Split
    from fusionrec.models.training import TrainConfig

_USERS_PER_LOG = 10  # users whose requests go out together between two progress lines

logger = logging.getLogger(__name__)


class LLMStageSettings(RerankConfig, GeneratorSettings):
    """The stage's own settings: the reranking (:class:`RerankConfig`) and the language model asked
    (:class:`~fusionrec.llm.settings.GeneratorSettings`)."""

    def generator_settings(self) -> GeneratorSettings:
        """The language model these settings name."""
        return GeneratorSettings(**self.model_dump(include=set(GeneratorSettings.model_fields)))


class LLMRerankConfig(WrapperConfig, LLMStageSettings):
    """The whole ``llm-rerank`` model: the base it reranks, the reranking and the language model asked."""

    wrapper_name: ClassVar[str] = "llm-rerank"
    base: str = Field("fusiongraph", description="the registered name of the model whose top items are reordered")


class LLMReranked(ScorerWrapper):
    """Any registered model whose top candidates a language model reorders.

    Args:
        base: the registered name of the model to rerank (not ``llm-rerank``).
        base_params: the base model's hyper-parameters.
        n_candidates, repeats, llm_weight, seed, history, prompt_version: :class:`~fusionrec.llm.rerank.RerankConfig`.
        gguf, url, url_model, cache, threads, workers, timeout_s: which model,
            :class:`~fusionrec.llm.settings.GeneratorSettings`.
        train_config: training settings of a base model trained by gradient descent.
    """

    name: ClassVar[str] = "llm-rerank"
    config_type: ClassVar[type[LLMRerankConfig]] = LLMRerankConfig

    def __init__(
        self,
        base: str = "fusiongraph",
        base_params: dict[str, Any] | None = None,
        n_candidates: int = 10,
        repeats: int = 3,
        llm_weight: float = 0.5,
        seed: int = 0,
        history: int = 10,
        prompt_version: int | None = None,
        gguf: str = "smollm2",
        url: str = "",
        url_model: str = "default",
        cache: str = "",
        threads: int | None = None,
        workers: int | None = None,
        timeout_s: float = 60.0,
        train_config: TrainConfig | dict[str, Any] | None = None,
    ) -> None:
        rerank: dict[str, Any] = {"n_candidates": n_candidates, "repeats": repeats, "llm_weight": llm_weight}
        rerank |= {"seed": seed, "history": history, "prompt_version": prompt_version}
        llm: dict[str, Any] = {"gguf": gguf, "url": url, "url_model": url_model, "cache": cache}
        llm |= {"threads": threads, "workers": workers, "timeout_s": timeout_s}
        super().__init__(base, base_params, train_config, LLMStageSettings, **rerank, **llm)
        settings = cast(LLMStageSettings, self.settings)
        self.rerank: RerankConfig = settings
        self.llm = settings.generator_settings()
        self.report_ = RerankReport()
        self._reranker: ListwiseReranker | None = None
        self._history: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def around(cls, fitted: Recommender, generator: Generator | None = None, **settings: Any) -> LLMReranked:
        """The stage around an already fitted model (no retraining); ``generator`` replaces the configured one."""
        model = cls(base=fitted.name, base_params=own_params(fitted), **settings)
        if fitted.split_ is None:
            raise ModelError(f"{type(fitted).__name__} is not fitted; fit it before wrapping it in llm-rerank")
        model.base_, model.split_, model.train_matrix_ = fitted, fitted.split_, fitted.split_.train.to_csr()
        return model if generator is None else model.use_generator(generator)

    def use_generator(self, generator: Generator) -> LLMReranked:
        """Ask ``generator`` instead of the configured model (a server already open, a test's fake); returns self."""
        self._reranker = ListwiseReranker(generator, self.rerank)
        return self

    def reranker(self) -> ListwiseReranker:
        """The reranker, with the configured generator built on first use."""
        if self._reranker is None:
            self._reranker = ListwiseReranker(self.llm.build(), self.rerank)
        return self._reranker

    def _fit(self, split: Split) -> None:
        self.base_.fit(split)

    def score_users(self, user_index: np.ndarray) -> np.ndarray:
        """float32 (n, n_items): the base scores with each user's top candidates lifted in the reranked order."""
        split = self._require_fitted()
        assert self.train_matrix_ is not None
        user_index = np.asarray(user_index, dtype=np.int64)
        scores = np.asarray(self.base_.score_users(user_index), dtype=np.float32)
        unseen = scores.copy()
        mask_seen(unseen, self.train_matrix_, user_index)
        top = top_k(unseen, self.rerank.n_candidates)  # (n, c) best first
        usable = np.isfinite(np.take_along_axis(unseen, top, axis=1))
        rows = [row for row in range(len(user_index)) if usable[row].sum() >= 2]  # one candidate has no order
        inputs = [self._input(split, int(user_index[row]), top[row][usable[row]]) for row in rows]
        outcomes = []
        for start in range(0, len(inputs), _USERS_PER_LOG):
            outcomes += self.reranker().rerank(inputs[start : start + _USERS_PER_LOG])
            logger.info("llm-rerank: %d of %d users reranked", len(outcomes), len(inputs))
        self.report_.add(outcomes)
        result = scores.copy()
        finite = np.where(np.isfinite(scores), scores, -np.inf).max(axis=1)
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome.kept_model_order:  # every generation failed: the base scores stand
                continue
            ordered = top[row][usable[row]][outcome.order]
            result[row, ordered] = finite[row] + 1 + np.arange(len(ordered), 0, -1)
        return result

    def _input(self, split: Split, user: int, candidates: np.ndarray) -> RerankInput:
        items, indptr = self._histories(split)
        recent = items[indptr[user] : indptr[user + 1]][-self.rerank.history :]
        titles = split.dataset.item_titles
        return RerankInput(split.dataset.users.id([user])[0], titles(recent), titles(candidates))

    def _histories(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """(items, indptr): each user's training items, oldest first (by timestamp, else in file order)."""
        if self._history is None:
            train = split.train
            when = train.timestamp if train.timestamp is not None else np.arange(len(train))
            order = np.lexsort((np.arange(len(train)), when, train.user_index))
            counts = np.bincount(train.user_index, minlength=split.n_users)
            self._history = train.item_index[order], np.concatenate([[0], np.cumsum(counts)])
        return self._history

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The base model's arrays (``base.*``): the stage itself learns nothing."""
        return self.base_arrays()

    def load_state_arrays(self, split: Split, arrays: dict[str, np.ndarray]) -> None:
        self.load_base(split, arrays)


__all__ = ["LLMReranked"]
