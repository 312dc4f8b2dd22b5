"""What every backend shares: the cache, retries with backoff, a thread pool and output checks.

A backend implements :meth:`BackendGenerator.complete` for one attempt at
one request and raises :class:`AttemptError` when the attempt failed, saying
whether trying again can help (a refused connection, a timeout, HTTP 429 or
5xx) or not (HTTP 400, a prompt longer than the context). The base class
reads the cache, retries with exponential backoff and jitter, validates
structured output and turns every failure into a :class:`Generation` whose
``error`` names what failed after how many tries.
"""

from __future__ import annotations

import logging
import random
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from fusionrec.llm.base import Generation, GenerationRequest, Generator
from fusionrec.llm.cache import GenerationCache
from fusionrec.llm.structured import parse_structured

logger = logging.getLogger(__name__)


class RetryPolicy(BaseModel):
    """How often and how patiently a failed attempt is retried.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))`` seconds,
    scaled by a random factor in [0.5, 1] when ``jitter`` is on (so workers
    that failed together do not retry together); a server's ``Retry-After``
    is honoured up to ``max_delay``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tries: int = Field(default=4, ge=1, le=20)
    base_delay: float = Field(default=0.5, ge=0.0)
    max_delay: float = Field(default=8.0, ge=0.0)
    jitter: bool = True

    def delay(self, failed_tries: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``failed_tries`` failed attempts."""
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        wait = min(self.max_delay, self.base_delay * 2 ** (failed_tries - 1))
        return wait * (rng or random).uniform(0.5, 1.0) if self.jitter else wait


@dataclass(frozen=True)
class Completion:
    """What one successful attempt returned.

    Attributes:
        text: the message content.
        finish_reason: ``"stop"``, ``"length"`` (cut at max_tokens), or what the backend said.
        prompt_tokens: prompt tokens counted by the backend (0 when not reported).
        completion_tokens: generated tokens (0 when not reported).
    """

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0


class AttemptError(Exception):
    """One attempt failed; ``retryable`` says whether another attempt can help."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after = reason, retryable, retry_after


class BackendGenerator(Generator):
    """A generator built from one-attempt completions.

    Args:
        cache: where answers are kept between runs (see :class:`GenerationCache`); None keeps nothing.
        retry: the retry policy.
        workers: requests in flight at once.
        sleep: waits between attempts (replaceable in tests).
    """

    def __init__(
        self,
        *,
        cache: GenerationCache | None = None,
        retry: RetryPolicy | None = None,
        workers: int = 1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers is {workers}; at least 1 is expected")
        self.cache, self.retry, self.workers, self.sleep = cache, retry or RetryPolicy(), workers, sleep

    @abstractmethod
    def complete(self, request: GenerationRequest) -> Completion:
        """One attempt at ``request``; raises :class:`AttemptError` when it fails."""

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One generation per request, in order, cached ones first read from the cache."""
        if self.workers == 1 or len(requests) < 2:
            return [self.generate_one(request) for request in requests]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fusionrec-llm") as pool:
            return list(pool.map(self.generate_one, requests))

    def generate_one(self, request: GenerationRequest) -> Generation:
        """The cached generation, or a fresh one (stored when it succeeded)."""
        if self.cache is not None:
            hit = self.cache.get(self.model_id, request)
            if hit is not None:
                return hit
        started = time.perf_counter()
        generation, answered = self._attempts(request)
        generation.seconds = time.perf_counter() - started
        if answered and self.cache is not None:  # an unanswered request is asked again next time
            self.cache.put(self.model_id, request, generation)
        if not generation.ok:
            logger.warning("generation for %r failed: %s", request.key, generation.error)
        return generation

    def _attempts(self, request: GenerationRequest) -> tuple[Generation, bool]:
        """The generation, and whether the model answered (its answer may still be unusable)."""
        for tries in range(1, self.retry.max_tries + 1):
            try:
                completion = self.complete(request)
            except AttemptError as exc:
                if not exc.retryable or tries == self.retry.max_tries:
                    plural = "try" if tries == 1 else "tries"
                    return Generation(request.key, error=f"{exc.reason} (after {tries} {plural})", tries=tries), False
                self.sleep(self.retry.delay(tries, exc.retry_after))
                continue
            return checked(request, completion, tries), True
        raise AssertionError("unreachable: the last try returns")


def checked(request: GenerationRequest, completion: Completion, tries: int) -> Generation:
    """The completion as a generation, with ``error`` set when its text is unusable for ``request``."""
    generation = Generation(
        request.key,
        completion.text,
        tries=tries,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
    )
    if request.schema is not None:
        truncated = completion.finish_reason == "length"
        parsed = parse_structured(completion.text, request.schema, truncated=truncated, max_tokens=request.max_tokens)
        generation.data, generation.error = parsed.data, parsed.error
    elif not completion.text.strip():
        generation.error = "empty output"
    return generation
