"""The generation interface every backend implements: requests in, one generation per request out.

A backend never raises for one bad request: a request that fails (server
down, timeout, HTTP errors after every retry, empty, truncated or malformed
output, output that breaks the JSON schema) comes back as a
:class:`Generation` with ``ok`` False and an ``error`` saying what failed
after how many tries. Only misuse (a bad option, a missing model file)
raises :class:`LLMError`.

Example:
    >>> request = GenerationRequest(key="item-1", prompt="Describe Heat (1995).", max_tokens=32)
    >>> request.max_tokens
    32
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fusionrec.errors import FusionrecError


class LLMError(FusionrecError, RuntimeError):
    """A generator cannot be built or is used wrongly (not raised for one failed request)."""


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to complete.

    Attributes:
        key: the caller's id of this request (an item id), echoed in the generation and the report.
        prompt: the user message.
        system: the system message ("" for none).
        max_tokens: most tokens to generate.
        temperature: sampling temperature; 0 is greedy.
        schema: a JSON schema the output must satisfy; None for free text.
        template: ``name.vN`` of the prompt template, part of the cache key.
    """

    key: str
    prompt: str
    system: str = ""
    max_tokens: int = 128
    temperature: float = 0.0
    schema: dict[str, Any] | None = None
    template: str = ""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise LLMError(f"max_tokens is {self.max_tokens} for request {self.key!r}; at least 1 is expected")
        if not 0.0 <= self.temperature <= 2.0:
            raise LLMError(f"temperature is {self.temperature} for request {self.key!r}; 0 to 2 is expected")

    def input_hash(self) -> str:
        """sha256 of everything that decides the output except the model (messages, limits, schema)."""
        payload = {
            "system": self.system,
            "prompt": self.prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "schema": self.schema,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def messages(self) -> list[dict[str, str]]:
        """Chat messages: the system message (when any) and the prompt."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        return [*head, {"role": "user", "content": self.prompt}]


@dataclass
class Generation:
    """The outcome of one request.

    Attributes:
        key: the request's key.
        text: the generated text ("" when nothing usable came back).
        data: the parsed JSON output when the request had a schema and it validated.
        error: what failed ("" on success), e.g. ``"timeout after 30 s"``.
        tries: attempts made (0 when served from the cache).
        cached: True when read from the cache.
        prompt_tokens: tokens in the prompt as counted by the backend (0 when unknown).
        completion_tokens: tokens generated (0 when unknown or cached).
        seconds: wall time spent on this request.
    """

    key: str
    text: str = ""
    data: dict[str, Any] | None = None
    error: str = ""
    tries: int = 0
    cached: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class GenerationStats:
    """Totals over the generations of one run, for reports and throughput figures."""

    n_requests: int = 0
    n_ok: int = 0
    n_cached: int = 0
    completion_tokens: int = 0
    generating_seconds: float = 0.0
    failures: list[Generation] = field(default_factory=list)

    @classmethod
    def of(cls, generations: Sequence[Generation]) -> GenerationStats:
        fresh = [g for g in generations if not g.cached]
        return cls(
            n_requests=len(generations),
            n_ok=sum(g.ok for g in generations),
            n_cached=len(generations) - len(fresh),
            completion_tokens=sum(g.completion_tokens for g in fresh),
            generating_seconds=sum(g.seconds for g in fresh),
            failures=[g for g in generations if not g.ok],
        )

    @property
    def tokens_per_second(self) -> float:
        """Generated tokens per second of request time (summed over requests, so per stream)."""
        return self.completion_tokens / self.generating_seconds if self.generating_seconds > 0 else 0.0


class Generator(ABC):
    """A language model behind one call: :meth:`generate` answers every request, failures included.

    Attributes:
        model_id: names the model (a GGUF file's stem and checksum prefix, or ``url#model``); part of cache keys.
    """

    model_id: str

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One :class:`Generation` per request, in order; failed ones carry ``error`` instead of raising."""

    def close(self) -> None:  # noqa: B027 - backends without resources need no cleanup
        """Release connections or the loaded model."""

    def __enter__(self) -> Generator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
