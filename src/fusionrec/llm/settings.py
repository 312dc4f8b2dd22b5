"""Which language model a component asks, as plain settings: a local GGUF model or an OpenAI-compatible URL.

A component that needs a generator (the listwise reranker) keeps these
settings and builds the generator only when it first generates, so building
the component does no I/O. Every generator built here reads and writes the
persistent :class:`~fusionrec.llm.cache.GenerationCache` unless ``cache`` is
``"none"``.

Example:
    >>> GeneratorSettings().cache_path().name
    'generations.sqlite'
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from fusionrec.llm.base import Generator
from fusionrec.llm.cache import GenerationCache, default_cache_path
from fusionrec.llm.http import OpenAIGenerator
from fusionrec.llm.local import LlamaCppGenerator

NO_CACHE = "none"


class GeneratorSettings(BaseModel):
    """A language model to ask and where its answers are cached."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gguf: str = Field(
        default="smollm2", description="a packaged GGUF model name or a .gguf path (used when url is empty)"
    )
    url: str = Field(
        default="", description="base URL of an OpenAI-compatible server; empty runs the GGUF model locally"
    )
    url_model: str = Field(default="default", description="the model name sent to the server")
    cache: str = Field(
        default="", description="SQLite cache file; empty: $FUSIONREC_CACHE/llm/generations.sqlite; 'none'"
    )
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads of the local model; None lets llama.cpp choose"
    )
    workers: int | None = Field(
        default=None,
        ge=1,
        description="requests in flight at once: server connections (None: 4) or copies of the local model (None: 1)",
    )
    timeout_s: float = Field(default=60.0, gt=0, description="seconds per request to the server")

    def cache_path(self) -> Path | None:
        """The cache file, or None when caching is off."""
        if self.cache == NO_CACHE:
            return None
        return Path(self.cache).expanduser() if self.cache else default_cache_path()

    def build(self) -> Generator:
        """The generator, with the cache ``cache`` names (nothing loads until it first generates)."""
        path = self.cache_path()
        return self.generator(None if path is None else GenerationCache(path))

    def generator(self, cache: GenerationCache | None) -> Generator:
        """The generator these settings name, with ``cache`` (a server by URL, else the local GGUF model)."""
        if self.url:
            workers = self.workers or 4
            return OpenAIGenerator(self.url, self.url_model, timeout=self.timeout_s, workers=workers, cache=cache)
        return LlamaCppGenerator(self.gguf, n_threads=self.threads, instances=self.workers or 1, cache=cache)


__all__ = ["NO_CACHE", "GeneratorSettings"]
